// Prints one closing line for the whole monorepo, summed over every package's vitest JSON reports:
// test-results.json, and test-results.node22.json where scripts/test-node22.js ran it again.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

let passed = 0;
let failed = 0;
let skipped = 0;
// Every workspace package that can hold reports: packages/*, examples/*, and the repository's own
// tests.
const packageDirs = [
  ...["packages", "examples"].flatMap((dir) =>
    existsSync(dir) ? readdirSync(dir).map((pkg) => join(dir, pkg)) : [],
  ),
  "tests",
];
for (const pkgDir of packageDirs) {
  for (const name of ["test-results.json", "test-results.node22.json"]) {
    const file = join(pkgDir, name);
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, "utf8"));
    passed += report.numPassedTests ?? 0;
    failed += report.numFailedTests ?? 0;
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  }
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
if (failed > 0 || passed === 0) process.exitCode = 1;
