// Runs the framework integrations' tests a second time, on Node.js 22 (their frameworks declare
// Node 22 while the workspace runs on 20). Each package's report goes to test-results.node22.json,
// which scripts/test-summary.js adds to the closing line.
import { spawnSync } from "node:child_process";
import { existsSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureNode22, ensureSqliteAddon, node22Env } from "./node22.js";

const FRAMEWORK_PACKAGES = ["ai-sdk", "langchain", "openai-agents", "mcp"];
const REPORT = "test-results.node22.json";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const packages = FRAMEWORK_PACKAGES.map((name) => join(root, "packages", name)).filter((dir) =>
  existsSync(join(dir, "package.json")),
);
if (packages.length === 0) {
  console.log("node22: no framework package to test");
  process.exit(0);
}

const node22 = ensureNode22();
const addon = ensureSqliteAddon(node22);
const env = node22Env(addon);
let failed = 0;
for (const dir of packages) {
  // The package's vitest config names its JSON report test-results.json: the Node 20 report is set
  // aside while Node 22 writes its own, then put back.
  const report = join(dir, "test-results.json");
  const aside = join(dir, "test-results.node20.json");
  rmSync(join(dir, REPORT), { force: true });
  if (existsSync(report)) renameSync(report, aside);
  const vitest = join(
    dirname(createRequire(join(dir, "package.json")).resolve("vitest/package.json")),
    "vitest.mjs",
  );
  console.log(`\nnode22: ${node22.version} ${dir.slice(root.length + 1)}`);
  try {
    const result = spawnSync(node22.bin, [vitest, "run"], { cwd: dir, env, stdio: "inherit" });
    if (result.status !== 0) failed++;
    if (existsSync(report)) renameSync(report, join(dir, REPORT));
    else failed++;
  } finally {
    if (existsSync(aside)) renameSync(aside, report);
  }
}
if (failed > 0) {
  console.error(`node22: ${failed} package(s) failed on Node ${node22.version}`);
  process.exit(1);
}
