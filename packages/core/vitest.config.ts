import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    // Any unhandled rejection from a stage fails the run rather than passing unseen.
    execArgv: ["--unhandled-rejections=strict"],
    setupFiles: ["test/setup.ts"],
    reporters: ["default", ["json", { outputFile: "test-results.json" }]],
  },
});
