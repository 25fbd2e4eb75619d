import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Auditor, verifyChain } from "@audit/core";
import {
  killRecorderAtRandom,
  raceApprovalResolvers,
  runConcurrentWriters,
} from "@audit/test-suite";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../src/index.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "audit-sqlite-proc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("several processes writing one SQLite file", () => {
  it("4 processes × 5,000 events: exact count, every chain verifies", async () => {
    const file = join(dir, "multi.db");
    await runConcurrentWriters({
      url: `sqlite:${file}`,
      processes: 4,
      events: 5000,
      cwd: packageDir,
    });
    const store = new SqliteStore({ filename: file });
    expect(await store.count({ type: "load.event" })).toBe(20_000);
    for (let p = 0; p < 4; p++)
      expect(await store.count({ type: "load.event", actor: `writer-${p}` })).toBe(5000);
    const report = await verifyChain(store, { requireClosed: true });
    expect(report.problems).toEqual([]);
    expect(report.chains).toHaveLength(4);
    await store.close();
  }, 180_000);

  it("lets exactly one of several processes resolve an approval", async () => {
    const file = join(dir, "approvals.db");
    const store = new SqliteStore({ filename: file });
    const agent = new Auditor({ store, spool: false });
    const approvalId = agent.startRun({ agent: "bot" }).requestApproval({ action: "refund" });
    await agent.close();
    const result = await raceApprovalResolvers({
      url: `sqlite:${file}`,
      approvalId,
      processes: 6,
      cwd: packageDir,
    });
    expect(result).toEqual({ won: 1, lost: 5, other: [] });
    expect(await store.count({ type: "approval.resolve", approvalId })).toBe(1);
    expect((await verifyChain(store)).problems).toEqual([]);
    await store.close();
  }, 60_000);
});

describe("a recorder killed with SIGKILL", () => {
  it("keeps every acknowledged event exactly once, and the chains verify, across 20 kills", async () => {
    const file = join(dir, "crash.db");
    const spool = join(dir, "crash-spool");
    const acked: string[] = [];
    for (let round = 0; round < 20; round++) {
      const ids = await killRecorderAtRandom({
        url: `sqlite:${file}`,
        spool,
        cwd: packageDir,
        minMs: 50,
        maxMs: 400,
      });
      acked.push(...ids);
      const store = new SqliteStore({ filename: file });
      const db = store.database;
      const missing = acked.filter(
        (id) => !db.prepare("SELECT 1 FROM audit_events WHERE id = ?").get(id),
      );
      expect(missing, `round ${round}`).toEqual([]);
      const dupes = db
        .prepare("SELECT id, count(*) AS n FROM audit_events GROUP BY id HAVING n > 1")
        .all();
      expect(dupes).toEqual([]);
      const report = await verifyChain(store);
      expect(report.problems, `round ${round}`).toEqual([]);
      await store.close();
    }
    expect(acked.length).toBeGreaterThan(20);
    // Strict durability never needed the spool: the store was up the whole time.
    expect(readdirSync(dir).includes("crash-spool") ? readdirSync(spool) : []).toEqual([]);
  }, 300_000);
});
