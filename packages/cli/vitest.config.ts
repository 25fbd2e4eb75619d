import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Many tests spawn the CLI a dozen times or more; on a loaded two-core machine that alone can
    // take half a minute. A bound on hangs, not a speed goal.
    testTimeout: 120_000,
    reporters: ["default", ["json", { outputFile: "test-results.json" }]],
  },
});
