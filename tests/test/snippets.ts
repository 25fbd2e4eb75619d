// Extracts the TypeScript snippets of the READMEs and compiles them as a user's project would:
// each snippet is a module of its own, placed in the package whose README holds it (so that its
// imports resolve to that package and its dev dependencies, the frameworks it documents), and
// compiled under `strict` with `exactOptionalPropertyTypes`.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** A ```ts block of a README, with the line where it starts. */
export interface Snippet {
  readme: string;
  line: number;
  code: string;
  /** The reason given by a `<!-- not compiled: reason -->` comment right before the block. */
  skipped?: string;
}

const FENCE = /^```(ts|typescript)\s*$/;
const SKIP = /^<!--\s*not compiled:\s*(.+?)\s*-->\s*$/;

/** Every ```ts block of one README. */
export function extractSnippets(readme: string, text: string): Snippet[] {
  const lines = text.split("\n");
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!FENCE.test(lines[i] ?? "")) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ""); i++) body.push(lines[i] ?? "");
    let before = start - 1;
    while (before >= 0 && (lines[before] ?? "").trim() === "") before--;
    const skip = SKIP.exec(lines[before] ?? "");
    snippets.push({
      readme,
      line: start + 1,
      code: body.join("\n"),
      ...(skip?.[1] !== undefined && { skipped: skip[1] }),
    });
  }
  return snippets;
}

/** The READMEs whose snippets are compiled: the root one and every package's. */
export function readmes(root: string): string[] {
  const packages = join(root, "packages");
  return [
    join(root, "README.md"),
    ...readdirSync(packages)
      .map((name) => join(packages, name, "README.md"))
      .filter((file) => existsSync(file)),
  ];
}

export const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2023.d.ts"],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: ["node"],
  strict: true,
  exactOptionalPropertyTypes: true,
  noEmit: true,
  skipLibCheck: true,
  isolatedModules: true,
};

/** A diagnostic, mapped back to the README line it comes from. */
export interface SnippetError {
  where: string;
  message: string;
}

/**
 * Compiles the snippets; returns one entry per error. The files are written to a `.snippets`
 * folder next to each README (the root README's go to this workspace package, which depends on every published one) and removed afterwards.
 */
export function compileSnippets(root: string, snippets: Snippet[]): SnippetError[] {
  const files = new Map<string, Snippet>();
  const folders = new Set<string>();
  try {
    snippets.forEach((snippet, i) => {
      const home =
        resolve(dirname(snippet.readme)) === resolve(root)
          ? join(root, "tests")
          : dirname(snippet.readme);
      const folder = join(home, ".snippets");
      mkdirSync(folder, { recursive: true });
      folders.add(folder);
      const file = join(folder, `snippet-${i}.ts`);
      // A snippet without import or export still gets a scope of its own.
      writeFileSync(file, `${snippet.code}\nexport {};\n`);
      files.set(file, snippet);
    });
    const program = ts.createProgram([...files.keys()], COMPILER_OPTIONS);
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const snippet = d.file && files.get(d.file.fileName);
      const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      if (!d.file || !snippet) return { where: d.file?.fileName ?? "(program)", message };
      const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
      return { where: `${relative(root, snippet.readme)}:${snippet.line + 1 + line}`, message };
    });
  } finally {
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  }
}

/** Reads every README's snippets. */
export function allSnippets(root: string): Snippet[] {
  return readmes(root).flatMap((file) => extractSnippets(file, readFileSync(file, "utf8")));
}
