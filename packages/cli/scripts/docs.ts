import { readFileSync, writeFileSync } from "node:fs";
import { withHelpSection } from "./readme-help.js";

// Writes every command's --help into README.md; test/readme.test.ts fails when they differ.
const path = new URL("../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = withHelpSection(before);
if (after !== before) writeFileSync(path, after);
console.log(after === before ? "README.md is up to date" : "README.md updated");
