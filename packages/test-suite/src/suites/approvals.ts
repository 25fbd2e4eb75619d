import {
  ApprovalConflictError,
  ApprovalNotFoundError,
  type AuditEvent,
  Auditor,
  AuditTimeoutError,
} from "@audit/core";
import type { Fixture, StoreHarness, TestApi } from "../harness.js";
import { storeTests } from "../store-tests.js";
import { waitUntil } from "../wait.js";

/** Approvals on top of the store: first resolution wins, even when many race. */
export function approvalsSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: approvals`, () => {
    const test = storeTests(t, h);
    // Closed after the test even when an assertion fails, so no batch timer outlives it.
    const auditorOn = (f: Fixture) => {
      const audit = new Auditor({
        store: f.store,
        spool: false,
        batch: { maxDelayMs: 1 },
        onError: () => {},
      });
      f.defer(() => audit.close());
      return audit;
    };

    test("lists pending requests, resolves once, and refuses a second resolution", async (f) => {
      const audit = auditorOn(f);
      const run = audit.startRun({ agent: "bot", sessionId: "s" });
      const a1 = run.requestApproval({ action: "refund", reason: "over limit" });
      const a2 = run.requestApproval({ action: "delete" });
      t.expect((await audit.approvals.pending()).map((p) => p.approvalId)).toEqual([a1, a2]);
      const won = await audit.approvals.resolve(a1, {
        outcome: "approve",
        resolvedBy: "alice",
        comment: "ok",
      });
      t.expect(won.data).toMatchObject({ approvalId: a1, outcome: "approve", resolvedBy: "alice" });
      t.expect(won.runId).toBe(run.runId);
      await t
        .expect(audit.approvals.resolve(a1, { outcome: "deny", resolvedBy: "bob" }))
        .rejects.toThrow(ApprovalConflictError);
      const got = await audit.approvals.get(a1);
      t.expect(got.status).toBe("resolved");
      t.expect(got.resolution?.data.resolvedBy).toBe("alice");
      t.expect((await audit.approvals.pending()).map((p) => p.approvalId)).toEqual([a2]);
      await audit.close();
    });

    test("lets exactly one of many concurrent resolvers win", async (f) => {
      const audit = auditorOn(f);
      const id = audit.startRun({ agent: "bot" }).requestApproval({ action: "wire" });
      await audit.flush();
      // Separate auditors share nothing but the store, like separate processes.
      const resolvers = Array.from({ length: 8 }, () => auditorOn(f));
      const results = await Promise.allSettled(
        resolvers.map((r, i) =>
          r.approvals.resolve(id, {
            outcome: i % 2 ? "deny" : "approve",
            resolvedBy: `human-${i}`,
          }),
        ),
      );
      const winners = results.filter((r) => r.status === "fulfilled");
      t.expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") t.expect(r.reason instanceof ApprovalConflictError).toBe(true);
      }
      const stored = await f.store.query({ type: "approval.resolve", approvalId: id });
      t.expect(stored).toHaveLength(1);
      const winner = (winners[0] as PromiseFulfilledResult<AuditEvent>).value;
      t.expect(stored[0]!.data.resolvedBy).toBe(winner.data.resolvedBy);
      await Promise.all([audit.close(), ...resolvers.map((r) => r.close())]);
    });

    test("gives a not-found error for an unknown approval", async (f) => {
      const audit = auditorOn(f);
      await t
        .expect(audit.approvals.resolve("no-such-id", { outcome: "approve", resolvedBy: "x" }))
        .rejects.toThrow(ApprovalNotFoundError);
      await t.expect(audit.approvals.get("no-such-id")).rejects.toThrow(ApprovalNotFoundError);
      await audit.close();
    });

    test("wakes a waiting agent when a human resolves, and times out otherwise", async (f) => {
      const agent = auditorOn(f);
      const human = auditorOn(f);
      const run = agent.startRun({ agent: "bot" });
      const id = run.requestApproval({ action: "refund" });
      const waiting = agent.approvals.wait(id, { timeoutMs: 10_000, pollMs: 50 });
      // The human acts once the request is in the store (wait() flushes it there).
      await waitUntil(
        async () => (await f.store.count({ type: "approval.request", approvalId: id })) > 0,
        () => `the approval request ${id} never reached the store`,
        10_000,
      );
      await human.approvals.resolve(id, { outcome: "approve", resolvedBy: "alice" });
      t.expect((await waiting).data.outcome).toBe("approve");
      const other = run.requestApproval({ action: "delete" });
      await t
        .expect(agent.approvals.wait(other, { timeoutMs: 150 }))
        .rejects.toThrow(AuditTimeoutError);
      await Promise.all([agent.close(), human.close()]);
    });
  });
}
