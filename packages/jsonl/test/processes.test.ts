import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
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
import { JsonlStore } from "../src/index.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = mkdtempSync(join(tmpdir(), "audit-jsonl-proc-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function linesOf(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean));
}

describe("several processes writing one directory", () => {
  it("4 processes × 5,000 events: no torn or interleaved line, exact count, every chain verifies", async () => {
    const dir = join(root, "multi");
    await runConcurrentWriters({
      url: `jsonl:${dir}`,
      processes: 4,
      events: 5000,
      cwd: packageDir,
    });
    // Every line of every file parses: nothing interleaved or torn.
    const lines = linesOf(dir);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const store = new JsonlStore({ dir });
    expect(await store.count({ type: "load.event" })).toBe(20_000);
    for (let p = 0; p < 4; p++)
      expect(await store.count({ type: "load.event", actor: `writer-${p}` })).toBe(5000);
    const report = await verifyChain(store, { requireClosed: true });
    expect(report.problems).toEqual([]);
    expect(report.chains).toHaveLength(4);
    expect(store.badLines).toBe(0);
  }, 180_000);

  it("lets exactly one of several processes resolve an approval", async () => {
    const dir = join(root, "approvals");
    const store = new JsonlStore({ dir });
    const agent = new Auditor({ store, spool: false });
    const approvalId = agent.startRun({ agent: "bot" }).requestApproval({ action: "refund" });
    await agent.close();
    const result = await raceApprovalResolvers({
      url: `jsonl:${dir}`,
      approvalId,
      processes: 6,
      cwd: packageDir,
    });
    expect(result).toEqual({ won: 1, lost: 5, other: [] });
    expect(await store.count({ type: "approval.resolve", approvalId })).toBe(1);
  }, 60_000);
});

describe("a recorder killed with SIGKILL", () => {
  it("keeps every acknowledged event exactly once, and the chains verify, across 20 kills", async () => {
    const dir = join(root, "crash");
    const spool = join(root, "crash-spool");
    const acked: string[] = [];
    const warnings: string[] = [];
    for (let round = 0; round < 20; round++) {
      acked.push(
        ...(await killRecorderAtRandom({
          url: `jsonl:${dir}`,
          spool,
          cwd: packageDir,
          minMs: 50,
          maxMs: 400,
        })),
      );
      const store = new JsonlStore({ dir, onWarning: (w) => warnings.push(w) });
      const counts = new Map<string, number>();
      for await (const e of store.stream()) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
      expect(
        acked.filter((id) => counts.get(id) !== 1),
        `round ${round}`,
      ).toEqual([]);
      // Raw files: no id twice, whatever the reader's de-duplication would hide.
      const raw = linesOf(dir).flatMap((l) => {
        try {
          return [(JSON.parse(l) as { id: string }).id];
        } catch {
          return [];
        }
      });
      expect(raw.length).toBe(new Set(raw).size);
      const report = await verifyChain(store);
      expect(report.problems, `round ${round}`).toEqual([]);
    }
    expect(acked.length).toBeGreaterThan(20);
  }, 300_000);
});
