import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AuditEvent, Auditor, canonicalJson, openStore } from "@audit/core";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(packageDir, "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "audit-copy-"));
const PG_URL = process.env.AUDIT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `copy_${process.pid}_${Date.now()}`;
const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

const exec = promisify(execFile);
async function audit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: packageDir,
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function everything(url: string): Promise<string[]> {
  const s = await openStore(url);
  const out: string[] = [];
  for await (const e of s.stream()) out.push(canonicalJson(e));
  await s.close();
  return out;
}

describe("audit copy between every backend", () => {
  it("copies SQLite → JSONL → PostgreSQL → SQLite with identical events and a passing verify at each step", async () => {
    const pgUrl = new URL(PG_URL);
    pgUrl.searchParams.set("schema", schema);
    const urls = [
      `sqlite:${join(dir, "a.db")}`,
      `jsonl:${join(dir, "logs")}`,
      pgUrl.toString(),
      `sqlite:${join(dir, "b.db")}`,
    ];
    const s = await openStore(urls[0]!);
    const a = new Auditor({ store: s, spool: false, batch: { maxEvents: 97 } });
    for (let i = 0; i < 6; i++) {
      await a.withRun({ agent: `bot-${i % 2}`, sessionId: `s-${i}` }, async (run) => {
        for (let k = 0; k < 200; k++) await run.tool("step", { k }, () => k);
        run.policy({ policy: "p", decision: k(i) });
      });
    }
    await a.close();
    await s.close();
    const original = await everything(urls[0]!);
    expect(original.length).toBeGreaterThan(2400);
    for (let i = 1; i < urls.length; i++) {
      const r = await audit(["copy", "--from", urls[i - 1]!, "--to", urls[i]!, "--batch", "500"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe(`copied ${original.length} of ${original.length} events\n`);
      expect(await everything(urls[i]!)).toEqual(original);
      const v = await audit(["verify", "--store", urls[i]!, "--require-closed"]);
      expect(v.code, v.stdout).toBe(0);
    }
    // Copying again adds nothing; resuming copies nothing new.
    expect((await audit(["copy", "--from", urls[0]!, "--to", urls[2]!, "-q"])).code).toBe(0);
    expect((await everything(urls[2]!)).length).toBe(original.length);
    const resumed = await audit(["copy", "--from", urls[0]!, "--to", urls[1]!, "--resume"]);
    expect(resumed.stderr).toBe("copied 0 of 0 events\n");
  }, 180_000);

  it("resumes a copy that stopped half way", async () => {
    const from = `sqlite:${join(dir, "a.db")}`;
    const to = `jsonl:${join(dir, "half")}`;
    const all: AuditEvent[] = [];
    const s = await openStore(from);
    for await (const e of s.stream()) all.push(e);
    await s.close();
    const t = await openStore(to);
    await t.append(all.slice(0, 1000));
    await t.close();
    const r = await audit(["copy", "--from", from, "--to", to, "--resume"]);
    expect(r.stderr).toBe(`copied ${all.length - 1000} of ${all.length - 1000} events\n`);
    expect(await everything(to)).toEqual(all.map((e) => canonicalJson(e)));
  }, 60_000);

  it("follows a JSONL store live (its tail reads each file from where it stopped)", async () => {
    const url = `jsonl:${join(dir, "tail")}`;
    const child = spawn(
      process.execPath,
      [bin, "tail", "-f", "--interval", "100", "--store", url, "-o", "jsonl"],
      { cwd: packageDir },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const s = await openStore(url);
    const a = new Auditor({ store: s, spool: false, integrity: false, batch: { maxDelayMs: 1 } });
    let e = a.record({ type: "polled.event" });
    await a.flush();
    // The follower reads from its start on: keep adding until it shows one.
    for (let i = 0; i < 100 && !out.includes("polled.event"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      e = a.record({ type: "polled.event" });
      await a.flush();
    }
    for (let i = 0; i < 30 && !out.includes(e.id); i++)
      await new Promise((r) => setTimeout(r, 100));
    await a.close();
    child.kill("SIGINT");
    expect(out).toContain(e.id);
  });
});

function k(i: number): "allow" | "deny" {
  return i % 2 ? "allow" : "deny";
}
