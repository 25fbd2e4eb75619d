import { type AuditEvent, Auditor, type AuditStore, uuidv7, verifyChain } from "@audit/core";
import { ids, makeEvents, timeAt } from "../events.js";
import type { Fixture, StoreHarness, TestApi } from "../harness.js";
import { offers, storeTests } from "../store-tests.js";

const KEY = "conformance-hmac-key-0123456789ab";

/** Writes a closed trail through two auditors (the second keyed when `key` is given). */
async function writeTrail(f: Fixture, store: AuditStore, key?: string): Promise<void> {
  const open = (k?: string) => {
    const audit = new Auditor({
      store,
      spool: false,
      batch: { maxDelayMs: 1 },
      onError: () => {},
      ...(k !== undefined && { integrity: { key: k } }),
    });
    f.defer(() => audit.close());
    return audit;
  };
  const agent = open(key);
  const human = open(key);
  const run = agent.startRun({ agent: "refund-bot", sessionId: "s-1" });
  for (let i = 0; i < 5; i++) await run.tool("lookup", { order: i }, async () => ({ i }));
  const approval = run.requestApproval({ action: "refund", reason: "over limit" });
  await agent.flush();
  await human.approvals.resolve(approval, { outcome: "approve", resolvedBy: "alice" });
  await run.end({ output: "done" });
  await Promise.all([agent.close(), human.close()]);
}

/**
 * Verification over the store: a trail written by several auditors verifies with every rule, an
 * event appended around the auditor is named, a keyed trail needs its key, and `storedRows` (when
 * the store offers it) gives every event once, in order, as stored. The attacks that need raw
 * write access to the store are `tamperSuite`'s.
 */
export function verifySuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: verify`, () => {
    const test = storeTests(t, h);

    test("verifies a closed trail written by two auditors with no finding", async (f) => {
      await writeTrail(f, f.store);
      const report = await verifyChain(f.store, { requireClosed: true });
      t.expect(report.problems).toEqual([]);
      t.expect(report.ok).toBe(true);
      t.expect(report.chains).toHaveLength(2);
      t.expect(report.events).toBe(await f.store.count());
    });

    test("names an event appended around the auditor into a chain", async (f) => {
      await writeTrail(f, f.store);
      const [victim] = await f.store.query({ type: "tool.end", limit: 1 });
      const forged: AuditEvent = {
        ...victim!,
        id: uuidv7(),
        data: { ...victim!.data, result: { forged: true } },
      };
      await f.store.append([forged]);
      const report = await verifyChain(f.store);
      t.expect(report.ok).toBe(false);
      t.expect(report.problems.map((p) => p.eventId)).toContain(forged.id);
    });

    test("verifies a keyed trail with its key only", async (f) => {
      await writeTrail(f, f.store, KEY);
      t.expect((await verifyChain(f.store, { key: KEY, requireClosed: true })).problems).toEqual(
        [],
      );
      const wrong = await verifyChain(f.store, { key: `${KEY}-other` });
      t.expect(wrong.ok).toBe(false);
      t.expect(wrong.problems.map((p) => p.kind)).toContain("wrong-key");
    });

    test(
      "storedRows gives every stored event once, in the store's order, as its stored text",
      async (f) => {
        const storedRows = f.store.storedRows!.bind(f.store);
        await writeTrail(f, f.store);
        await f.store.append(makeEvents(300, (i) => ({ time: timeAt(i % 2) })));
        const rows: AuditEvent[] = [];
        for await (const row of storedRows()) {
          const text =
            typeof row.text === "string" ? row.text : Buffer.from(row.text).toString("utf8");
          t.expect(typeof row.location).toBe("string");
          rows.push(JSON.parse(text) as AuditEvent);
        }
        const stored = await f.store.query();
        t.expect(ids(rows)).toEqual(ids(stored));
        t.expect(rows).toEqual(stored);
      },
      { when: offers("storedRows") },
    );
  });
}
