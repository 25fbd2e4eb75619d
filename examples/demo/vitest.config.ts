import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A bound on hangs, not a speed goal: the example runs whole programs, beside the rest of the
    // suite on a two-core machine.
    testTimeout: 180_000,
    reporters: ["default", ["json", { outputFile: "test-results.json" }]],
  },
});
