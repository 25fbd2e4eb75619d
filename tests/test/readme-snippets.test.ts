import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allSnippets, compileSnippets, extractSnippets } from "./snippets.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("the READMEs' TypeScript snippets", () => {
  const snippets = allSnippets(root);

  it("compile under strict with exactOptionalPropertyTypes", () => {
    const compiled = snippets.filter((s) => s.skipped === undefined);
    expect(compiled.length).toBeGreaterThan(20);
    const errors = compileSnippets(root, compiled).map((e) => `${e.where}: ${e.message}`);
    expect(errors).toEqual([]);
  });

  it("are skipped only with a stated reason, and rarely", () => {
    const skipped = snippets.filter((s) => s.skipped !== undefined);
    for (const s of skipped) expect(s.skipped?.length).toBeGreaterThan(3);
    expect(skipped.length).toBeLessThanOrEqual(3);
  });
});

describe("the snippet checker", () => {
  it("reports a snippet that does not compile, at its README line", () => {
    const readme = join(root, "packages", "core", "README.md");
    const text = [
      "# x",
      "",
      "```ts",
      'import { createAuditor } from "@audit/core";',
      "",
      'const audit = await createAuditor({ store: "memory:", durability: undefined });',
      "const n: number = audit;",
      "```",
    ].join("\n");
    const errors = compileSnippets(root, extractSnippets(readme, text));
    // exactOptionalPropertyTypes refuses the explicit undefined; strict refuses the assignment.
    expect(errors.map((e) => e.where)).toEqual([
      "packages/core/README.md:6",
      "packages/core/README.md:7",
    ]);
  });

  it("honours a not-compiled comment right before a block", () => {
    const text = "<!-- not compiled: a fragment -->\n\n```ts\nthis is not code\n```\n";
    const [snippet] = extractSnippets("README.md", text);
    expect(snippet?.skipped).toBe("a fragment");
  });
});
