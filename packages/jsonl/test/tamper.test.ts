import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestApi, tamperSuite } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlStore } from "../src/index.js";

const t = { describe, it, expect, beforeEach, afterEach } as unknown as TestApi;

// The attacker's handle: the files themselves, edited line by line as bytes.
function lines(dir: string): { file: string; lines: Buffer[] }[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith(".jsonl"))
    .map((n) => {
      const bytes = readFileSync(join(dir, n));
      const out: Buffer[] = [];
      let start = 0;
      for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, start)) {
        out.push(bytes.subarray(start, i));
        start = i + 1;
      }
      return { file: join(dir, n), lines: out };
    });
}

function find(dir: string, id: string): { file: string; lines: Buffer[]; index: number } {
  const needle = Buffer.from(`"id":"${id}"`);
  for (const f of lines(dir)) {
    const index = f.lines.findIndex((l) => l.includes(needle));
    if (index >= 0) return { ...f, index };
  }
  throw new Error(`no line holds event ${id}`);
}

function save(file: string, content: Buffer[]): void {
  writeFileSync(file, Buffer.concat(content.flatMap((l) => [l, Buffer.from("\n")])));
}

tamperSuite(t, {
  name: "JsonlStore",
  create: async () => {
    const dir = mkdtempSync(join(tmpdir(), "audit-jsonl-tamper-"));
    return { store: new JsonlStore({ dir }), location: dir };
  },
  openReadOnly: async (dir) => new JsonlStore({ dir, readOnly: true }),
  openWritable: async (dir) => new JsonlStore({ dir }),
  missing: async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "audit-jsonl-missing-")), "typo");
    return { location: dir, exists: async () => existsSync(dir) };
  },
  raw: {
    keepsText: true,
    holdsBytes: true,
    getText: async (dir, id) => {
      const f = find(dir, id);
      return f.lines[f.index]!.toString("utf8");
    },
    setText: async (dir, id, text) => {
      const f = find(dir, id);
      f.lines[f.index] = Buffer.from(text);
      save(f.file, f.lines);
    },
    swap: async (dir, a, b) => {
      const fa = find(dir, a);
      const fb = find(dir, b);
      if (fa.file !== fb.file) throw new Error("the two events are in different files");
      const la = fa.lines[fa.index]!;
      fa.lines[fa.index] = fa.lines[fb.index]!;
      fa.lines[fb.index] = la;
      save(fa.file, fa.lines);
    },
  },
  cleanup: async (dir) => {
    rmSync(dir, { recursive: true, force: true });
  },
});
