import { spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Auditor } from "@audit/core";
import { makeEvent } from "@audit/test-suite";
import { afterAll, describe, expect, it } from "vitest";
import { JsonlStore } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "audit-jsonl-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${n++}`);
const require = createRequire(import.meta.url);

describe("hostile files in the directory", () => {
  it("never writes through a symbolic link planted under a segment's name", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir, rotation: "single" });
    await store.append([makeEvent()]);
    await store.close();
    const victim = join(root, "victim.txt");
    writeFileSync(victim, "precious\n");
    rmSync(join(dir, "audit.jsonl"));
    symlinkSync(victim, join(dir, "audit.jsonl"));
    const warnings: string[] = [];
    const again = new JsonlStore({ dir, rotation: "single", onWarning: (m) => warnings.push(m) });
    await expect(again.append([makeEvent()])).rejects.toThrow(/symbolic link/);
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    // Readers ignore it too, and say so once.
    expect(await again.count()).toBe(0);
    expect(warnings.some((w) => /not a regular file/.test(w))).toBe(true);
    await again.close();
  });

  it("warns when the directory is group- or world-writable", async () => {
    const dir = fresh();
    const warnings: string[] = [];
    const store = new JsonlStore({ dir, onWarning: (m) => warnings.push(m) });
    await store.append([makeEvent()]);
    expect(warnings).toEqual([]);
    await store.close();
    chmodSync(dir, 0o777);
    const open = new JsonlStore({ dir, onWarning: (m) => warnings.push(m) });
    await open.append([makeEvent()]);
    expect(warnings.some((w) => /world-writable/.test(w))).toBe(true);
    await open.close();
  });

  it("a read-only directory can be queried and verified by a user who cannot write it", async () => {
    const dir = fresh();
    const audit = new Auditor({ store: new JsonlStore({ dir }), spool: false });
    for (let i = 0; i < 5; i++) audit.record({ type: "t", data: { i } });
    await audit.close();
    chmodSync(root, 0o755);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o444);
    chmodSync(dir, 0o555);
    const core = pathToFileURL(require.resolve("@audit/core")).href;
    const jsonl = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;
    const script = `
      const { verifyChain } = await import(${JSON.stringify(core)});
      const { JsonlStore } = await import(${JSON.stringify(jsonl)});
      const store = new JsonlStore({ dir: process.argv[1], readOnly: true });
      const report = await verifyChain(store, { requireClosed: true });
      console.log(JSON.stringify({ count: await store.count(), ok: report.ok, uid: process.getuid() }));
    `;
    // As an unprivileged user (root ignores permission bits, so the test runs the reader as nobody).
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", script, dir], {
      encoding: "utf8",
      ...(process.getuid?.() === 0 && { uid: 65534, gid: 65534 }),
    });
    expect(out.stderr).toBe("");
    const result = JSON.parse(out.stdout.trim());
    expect(result).toMatchObject({ count: 6, ok: true });
    chmodSync(dir, 0o700);
  });
});
