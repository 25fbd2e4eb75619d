import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { helpSection, withHelpSection } from "../scripts/readme-help.js";
import { helpText } from "../src/args.js";
import { COMMANDS } from "../src/commands/index.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

describe("the README's help section", () => {
  it("is exactly what the command definitions generate (run `pnpm --filter @audit/cli docs`)", () => {
    expect(readme).toContain(helpSection());
    expect(withHelpSection(readme)).toBe(readme);
  });

  it("has every command, with the text its --help prints", () => {
    for (const c of COMMANDS) {
      expect(readme, c.def.name).toContain(`### audit ${c.def.name}\n`);
      expect(readme, c.def.name).toContain(helpText(c.def));
    }
  });

  it("notices a definition that changed", () => {
    const [first] = COMMANDS;
    const was = first!.def.summary;
    first!.def.summary = `${was} (changed)`;
    try {
      expect(withHelpSection(readme)).not.toBe(readme);
    } finally {
      first!.def.summary = was;
    }
  });
});
