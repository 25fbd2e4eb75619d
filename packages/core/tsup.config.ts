import { defineConfig } from "tsup";
import base from "../../tsup.config.base.js";

// Two entries: the main API and the kit store adapters share (`@audit/core/store-kit`).
export default defineConfig({
  ...(base as object),
  entry: { index: "src/index.ts", "store-kit": "src/store-kit/index.ts" },
});
