#!/usr/bin/env node
// The `audit` command as package managers link it. This file is committed rather than built, so
// that installing the workspace links the command even before the first build has written dist/.
try {
  await import("../dist/bin.js");
} catch (err) {
  const missing =
    err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/bin.js");
  if (!missing) throw err;
  console.error("audit: @audit/cli is not built yet; run `pnpm build` in the repository first");
  process.exitCode = 2;
}
