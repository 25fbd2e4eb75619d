// Preloaded (NODE_OPTIONS=--require) into Node 22 test processes: loads the better-sqlite3 addon
// built for Node 22 in place of the workspace's, which was built for the Node.js that installed
// it and would fail with a NODE_MODULE_VERSION mismatch.
const { basename } = require("node:path");

const addon = process.env.AUDIT_NODE22_SQLITE_ADDON;
if (addon) {
  const dlopen = process.dlopen;
  process.dlopen = function (module, filename, ...rest) {
    const target = basename(filename) === "better_sqlite3.node" ? addon : filename;
    return dlopen.call(this, module, target, ...rest);
  };
}
