import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Auditor, MemoryStore, openStore } from "@audit/core";
import { afterAll, describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(packageDir, "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "audit-doctor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const exec = promisify(execFile);

async function doctor(args: string[]) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, "doctor", ...args], {
      cwd: dir,
      env: { ...process.env, AUDIT_STORE: "" },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A real MemoryStore that refuses every write, standing in for a store that is down. */
class DownStore extends MemoryStore {
  override append(): Promise<void> {
    return Promise.reject(new Error("connection refused"));
  }
}

describe("audit doctor", () => {
  it("says healthy (exit 0) for a reachable store and an empty spool", async () => {
    const url = `sqlite:${join(dir, "ok.db")}`;
    const s = await openStore(url);
    const a = new Auditor({ store: s, spool: false });
    a.record({ type: "t" });
    await a.close();
    await s.close();
    const r = await doctor(["--store", url, "--spool", join(dir, "empty-spool"), "-o", "json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.store).toMatchObject({ state: "up", events: 2 });
    expect(report.spool).toMatchObject({ events: 0, quarantined: 0 });
  });

  it("shows events waiting in the spool (exit 1)", async () => {
    const spool = join(dir, "spool");
    const a = new Auditor({
      store: new DownStore(),
      spool,
      retry: { attempts: 1 },
      onError: () => {},
    });
    for (let i = 0; i < 3; i++) a.record({ type: "t", data: { i } });
    await a.flush();
    await a.close();
    const url = `sqlite:${join(dir, "ok.db")}`;
    const r = await doctor(["--store", url, "--spool", spool]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/spool\s+4 events waiting/);
  });

  it("exits 3 when the store cannot be reached", async () => {
    const r = await doctor([
      "--store",
      "postgres://nobody@127.0.0.1:1/none",
      "--spool",
      join(dir, "empty-spool"),
      "--timeout",
      "3000",
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/store\s+down/);
  });
});
