import { Auditor, verifyChain } from "@audit/core";
import { makeEvents } from "../events.js";
import type { StoreHarness, TestApi } from "../harness.js";
import { killRecorderAtRandom, raceApprovalResolvers, runConcurrentWriters } from "../processes.js";
import { filesIn, processHook, sharedLocation, tempDir } from "../shared-location.js";
import { all, declares, declaresNot, storeTests } from "../store-tests.js";

const WHY = "declares capabilities.multiProcess";

/** Ids of stored rows whose text parses; the rest are counted as unreadable. */
async function storedIds(rows: AsyncIterable<{ text: string | Uint8Array }>) {
  const ids: string[] = [];
  let unreadable = 0;
  for await (const row of rows) {
    const text = typeof row.text === "string" ? row.text : Buffer.from(row.text).toString("utf8");
    try {
      ids.push((JSON.parse(text) as { id: string }).id);
    } catch {
      unreadable++;
    }
  }
  return { ids, unreadable };
}

/**
 * Several processes on one location, for stores declaring `multiProcess`: concurrent writers
 * (exact counts, no torn or interleaved row, every chain verifies), an approval raced by several
 * processes (exactly one wins), and a recorder killed with SIGKILL again and again (every
 * acknowledged event stored exactly once). Children open the store through the harness's
 * `processes.module`. For a store that does not declare it, a second store opened on a location in
 * use must be refused with an error (checked when the harness gives a processes hook).
 */
export function multiProcessSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: multi-process`, () => {
    const test = storeTests(t, h);
    const slow = (ms: number) => ({ when: declares("multiProcess"), timeout: ms });

    test(
      "writers in several processes: exact count, no torn or interleaved row, every chain verifies",
      async (f) => {
        const p = processHook(h, WHY);
        const writers = p.writers ?? 4;
        const events = p.eventsPerWriter ?? 5000;
        const location = await sharedLocation(f, p);
        // Nothing exists at the location yet: the writers also race to create it.
        await runConcurrentWriters({
          url: location.url,
          processes: writers,
          events,
          module: p.module,
        });
        const store = await location.open();
        t.expect(await store.count({ type: "load.event" })).toBe(writers * events);
        for (let w = 0; w < writers; w++)
          t.expect(await store.count({ type: "load.event", actor: `writer-${w}` })).toBe(events);
        const report = await verifyChain(store, { requireClosed: true });
        t.expect(report.problems).toEqual([]);
        t.expect(report.chains).toHaveLength(writers);
        if (store.storedRows) {
          // Every stored row reads as an event: nothing torn or interleaved, nothing twice.
          const rows = await storedIds(store.storedRows());
          t.expect(rows.unreadable).toBe(0);
          t.expect(new Set(rows.ids).size).toBe(rows.ids.length);
        }
        if (h.readRaw) {
          const raw = (await h.readRaw(store)).filter((e) => e.type === "load.event");
          t.expect(raw).toHaveLength(writers * events);
          t.expect(new Set(raw.map((e) => e.id)).size).toBe(raw.length);
        }
      },
      slow(300_000),
    );

    test(
      "lets exactly one of several processes resolve an approval",
      async (f) => {
        const p = processHook(h, WHY);
        const location = await sharedLocation(f, p);
        const store = await location.open();
        const agent = new Auditor({ store, spool: false });
        f.defer(() => agent.close());
        const approvalId = agent.startRun({ agent: "bot" }).requestApproval({ action: "refund" });
        await agent.close();
        const result = await raceApprovalResolvers({
          url: location.url,
          approvalId,
          processes: 6,
          module: p.module,
        });
        t.expect(result).toEqual({ won: 1, lost: 5, other: [] });
        t.expect(await store.count({ type: "approval.resolve", approvalId })).toBe(1);
        t.expect((await verifyChain(store)).problems).toEqual([]);
      },
      slow(120_000),
    );

    test(
      "keeps every event a recorder killed with SIGKILL had acknowledged, exactly once",
      async (f) => {
        const p = processHook(h, WHY);
        const rounds = p.crashRounds ?? 20;
        const location = await sharedLocation(f, p);
        const spool = `${tempDir(f, "audit-crash-")}/spool`;
        const acked: string[] = [];
        for (let round = 0; round < rounds; round++) {
          acked.push(
            ...(await killRecorderAtRandom({
              url: location.url,
              spool,
              module: p.module,
              minMs: 50,
              maxMs: 400,
            })),
          );
          const store = await location.open();
          const counts = new Map<string, number>();
          for await (const e of store.stream()) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
          t.expect(acked.filter((id) => counts.get(id) !== 1)).toEqual([]);
          if (store.storedRows) {
            // Raw rows: no id twice, whatever the reader's de-duplication would hide.
            const rows = await storedIds(store.storedRows());
            t.expect(rows.ids.length).toBe(new Set(rows.ids).size);
          }
          const report = await verifyChain(store);
          t.expect(report.problems).toEqual([]);
          await store.close();
        }
        t.expect(acked.length).toBeGreaterThan(rounds);
        // Strict durability never needed the spool: the store was up the whole time.
        t.expect(filesIn(spool)).toEqual([]);
      },
      slow(600_000),
    );

    test(
      "refuses a second store on a location in use when it does not declare multiProcess",
      async (f) => {
        // The rule for an undeclared `multiProcess`: a second store opened on a location another
        // store is using fails with an error (when opening or at its first write or read),
        // rather than both writing to it.
        const location = await sharedLocation(f, processHook(h, "is checked for refusal"));
        const first = await location.open();
        await first.append(makeEvents(1));
        let refused: unknown;
        try {
          const second = await location.open();
          await second.append(makeEvents(1));
          await second.count();
        } catch (err) {
          refused = err;
        }
        if (refused === undefined) {
          throw new Error(
            `${h.name} does not declare capabilities.multiProcess, yet a second store opened on a ` +
              "location in use wrote without error: refuse it, or declare multiProcess: true",
          );
        }
        t.expect(String((refused as Error).message).length).toBeGreaterThan(0);
        t.expect(await first.count()).toBe(1);
      },
      {
        when: all(declaresNot("multiProcess"), (_, harness) =>
          harness.processes
            ? undefined
            : `the harness of ${harness.name} gives no processes hook to open a second store with`,
        ),
      },
    );
  });
}
