import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Auditor, processIdentity, verifyChain } from "@audit/core";
import { makeEvent, runConcurrentWriters } from "@audit/test-suite";
import { afterAll, describe, expect, it } from "vitest";
import { JsonlStore } from "../src/index.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = mkdtempSync(join(tmpdir(), "audit-jsonl-faults-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${n++}`);

describe("the directory lock", () => {
  it("takes over a lock whose pid now belongs to a live, unrelated process", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir, lockTimeoutMs: 2000 });
    await store.append([makeEvent()]);
    // This very process's pid (alive) with a start time it never had: a reused pid.
    const [pid, , boot] = processIdentity().split(".");
    writeFileSync(join(dir, ".lock"), `${pid}.1.${boot ?? "0"}\nstale-token\n`);
    await store.append([makeEvent()]);
    expect(await store.count()).toBe(2);
    await store.close();
  });

  it("takes over an empty lock left by a process killed between creating and writing it", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir, lockTimeoutMs: 10_000 });
    await store.append([makeEvent()]);
    writeFileSync(join(dir, ".lock"), "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, ".lock"), old, old);
    await store.append([makeEvent()]);
    expect(await store.count()).toBe(2);
    await store.close();
  });

  it("waits for a live holder instead of taking its lock", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir, lockTimeoutMs: 300 });
    await store.append([makeEvent()]);
    writeFileSync(join(dir, ".lock"), `${processIdentity()}\nlive-token\n`);
    await expect(store.append([makeEvent()])).rejects.toThrow(/timed out/);
    await store.close();
  });
});

describe("prune and writers at the same time", () => {
  it("writer processes keep writing through repeated prunes; the remaining chains verify with no gap", async () => {
    const dir = fresh();
    const pruner = new Auditor({ store: new JsonlStore({ dir }), spool: false });
    let pruning = true;
    const prunes = (async () => {
      let rounds = 0;
      while (pruning || rounds < 2) {
        await pruner.prune({ keep: 500 });
        rounds++;
        await new Promise((r) => setTimeout(r, 20));
      }
      return rounds;
    })();
    await runConcurrentWriters({
      url: `jsonl:${dir}`,
      processes: 2,
      events: 3000,
      cwd: packageDir,
    });
    pruning = false;
    expect(await prunes).toBeGreaterThan(0);
    await pruner.close();
    const store = new JsonlStore({ dir });
    const report = await verifyChain(store);
    expect(report.problems.filter((p) => p.kind === "gap" || p.kind === "broken-link")).toEqual([]);
    await store.close();
  }, 180_000);
});

describe("midnight", () => {
  it("stores an id once even when two writers stamp it on either side of midnight UTC", async () => {
    const dir = fresh();
    const a = new JsonlStore({ dir });
    const b = new JsonlStore({ dir });
    const id = "0d6258a6-3520-8711-8b6a-28da94dabce6";
    await a.append([makeEvent({ id, time: "2026-03-01T23:59:59.999Z" })]);
    await b.append([makeEvent({ id, time: "2026-03-02T00:00:00.001Z" })]);
    const c = new JsonlStore({ dir });
    expect(await c.count()).toBe(1);
    expect((await c.get(id))?.time).toBe("2026-03-01T23:59:59.999Z");
    for (const s of [a, b, c]) await s.close();
  });

  it("two resolvers racing across midnight: one wins", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir });
    const audit = new Auditor({ store, spool: false });
    const run = audit.startRun({ agent: "a" });
    const approvalId = run.requestApproval({ action: "pay" });
    await audit.flush();
    const other = new Auditor({ store: new JsonlStore({ dir }), spool: false });
    const results = await Promise.allSettled([
      audit.approvals.resolve(approvalId, { outcome: "approve", resolvedBy: "alice" }),
      other.approvals.resolve(approvalId, { outcome: "deny", resolvedBy: "bob" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    await run.end();
    await audit.close();
    await other.close();
    const check = new JsonlStore({ dir });
    expect(await check.count({ type: "approval.resolve" })).toBe(1);
    const report = await verifyChain(check);
    expect(report.problems.filter((p) => p.kind !== "unclosed")).toEqual([]);
  });
});
