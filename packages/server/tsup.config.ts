import { cpSync } from "node:fs";
import { defineConfig } from "tsup";
import base from "../../tsup.config.base.js";

// The browser's script and stylesheet are served as files, not built: copied beside the bundle.
export default defineConfig({
  ...(base as object),
  onSuccess: async () => {
    cpSync("src/static", "dist/static", { recursive: true });
  },
});
