import { defineConfig } from "tsup";
import base from "../../tsup.config.base.js";

// Two entries: the callback handler needs only @langchain/core; the agent middleware also needs
// `langchain`, so it lives in its own subpath that only agent users import.
export default defineConfig({
  ...(base as object),
  entry: ["src/index.ts", "src/middleware.ts"],
});
