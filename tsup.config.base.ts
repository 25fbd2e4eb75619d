import { defineConfig } from "tsup";

/** The build every library package shares: ESM with declarations, for Node 20. */
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
});
