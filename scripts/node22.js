// A Node.js 22 runtime for testing on a second major version, taken from the registry package
// node-<platform>-<arch>@22 (no other download), cached under node_modules/.cache/node22.
// better-sqlite3 is a native addon built for the Node.js that installed it, so a copy of the
// workspace's version is built once against Node 22's headers (shipped in the same package) and
// node22-preload.cjs makes Node 22 load that copy instead.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cache = join(root, "node_modules", ".cache", "node22");

function npm(args, env = process.env, node = process.execPath) {
  // npm's own script, run by the given Node.js, so that install scripts see that runtime.
  const cli = join(
    dirname(process.execPath),
    "..",
    "lib",
    "node_modules",
    "npm",
    "bin",
    "npm-cli.js",
  );
  const [command, argv] = existsSync(cli) ? [node, [cli, ...args]] : ["npm", args];
  execFileSync(command, argv, { stdio: ["ignore", "inherit", "inherit"], env });
}

function prefix(dir) {
  mkdirSync(dir, { recursive: true });
  // A package.json of its own keeps npm from walking up to the workspace root.
  if (!existsSync(join(dir, "package.json"))) writeFileSync(join(dir, "package.json"), "{}\n");
  return dir;
}

/** Installs (once) and returns the Node 22 runtime: its binary and its header directory. */
export function ensureNode22() {
  const name = `node-${process.platform === "win32" ? "win" : process.platform}-${process.arch}`;
  const dir = prefix(join(cache, "runtime"));
  const home = join(dir, "node_modules", name);
  const bin = join(home, "bin", process.platform === "win32" ? "node.exe" : "node");
  if (!existsSync(bin)) {
    console.log(`node22: installing ${name}@22 into ${dir}`);
    npm(["install", "--prefix", dir, "--no-audit", "--no-fund", "--save-exact", `${name}@22`]);
  }
  const version = execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
  if (!version.startsWith("v22.")) throw new Error(`node22: ${bin} is ${version}, not 22`);
  return { bin, home, version };
}

/**
 * Builds (once) the workspace's better-sqlite3 version for Node 22 and returns the addon's path,
 * or undefined when the workspace has no better-sqlite3.
 */
export function ensureSqliteAddon(node22) {
  let manifest;
  try {
    const require = createRequire(join(root, "packages", "sqlite", "package.json"));
    manifest = require.resolve("better-sqlite3/package.json");
  } catch {
    return undefined;
  }
  const { version } = JSON.parse(readFileSync(manifest, "utf8"));
  const dir = prefix(join(cache, `better-sqlite3-${version}-${node22.version}`));
  const addon = join(
    dir,
    "node_modules",
    "better-sqlite3",
    "build",
    "Release",
    "better_sqlite3.node",
  );
  if (!existsSync(addon)) {
    console.log(`node22: building better-sqlite3 ${version} for Node ${node22.version}`);
    const env = {
      ...process.env,
      PATH: `${dirname(node22.bin)}:${process.env.PATH}`,
      npm_config_nodedir: node22.home,
      npm_config_build_from_source: "true",
    };
    npm(
      ["install", "--prefix", dir, "--no-audit", "--no-fund", `better-sqlite3@${version}`],
      env,
      node22.bin,
    );
    const gyp = join(
      dirname(process.execPath),
      "..",
      "lib",
      "node_modules",
      "npm",
      "node_modules",
      "node-gyp",
      "bin",
      "node-gyp.js",
    );
    if (!existsSync(addon) && existsSync(gyp)) {
      // An npm that holds back install scripts leaves the addon unbuilt: build it directly.
      execFileSync(node22.bin, [gyp, "rebuild", "--release", `--nodedir=${node22.home}`], {
        cwd: join(dir, "node_modules", "better-sqlite3"),
        stdio: ["ignore", "inherit", "inherit"],
        env,
      });
    }
    if (!existsSync(addon)) throw new Error(`node22: the build did not produce ${addon}`);
  }
  return addon;
}

/** The environment that makes Node 22 (and every process it starts) use the Node 22 addon. */
export function node22Env(addon) {
  const preload = join(root, "scripts", "node22-preload.cjs");
  const { NODE_OPTIONS: inherited, ...env } = process.env;
  return {
    ...env,
    NODE_OPTIONS: [inherited, addon ? `--require=${preload}` : ""].filter(Boolean).join(" "),
    ...(addon && { AUDIT_NODE22_SQLITE_ADDON: addon }),
  };
}
