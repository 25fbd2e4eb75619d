import { type AuditEvent, Auditor, type PrunedChainHead, verifyChain } from "@audit/core";
import { ids, makeEvent, makeEvents, shuffle, sorted, timeAt } from "../events.js";
import type { StoreHarness, TestApi } from "../harness.js";
import { offers, storeTests } from "../store-tests.js";

/**
 * Retention: `prune` by time and by count; `onRetention` (when the store offers it) reporting the
 * last deleted link of each chain; and a prune through the auditor leaving a trail that verifies.
 */
export function pruneSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: retention`, () => {
    const test = storeTests(t, h);

    test("deletes events older than `before` and returns how many", async (f) => {
      const all = makeEvents(100, (i) => ({ time: timeAt(i * 1000) }));
      await f.store.append(shuffle(all));
      t.expect(await f.store.prune({ before: timeAt(40_000) })).toBe(40);
      t.expect(ids(await f.store.query())).toEqual(ids(all.slice(40)));
      t.expect(await f.store.prune({ before: new Date(Date.parse(timeAt(40_000))) })).toBe(0);
      if (h.readRaw) t.expect(await h.readRaw(f.store)).toHaveLength(60);
    });

    test("keeps only the newest `keep` events", async (f) => {
      const all = makeEvents(100, (i) => ({ time: timeAt(Math.floor(i / 10)) }));
      await f.store.append(shuffle(all));
      t.expect(await f.store.prune({ keep: 25 })).toBe(75);
      t.expect(ids(await f.store.query())).toEqual(ids(sorted(all).slice(75)));
    });

    test("applies both conditions together", async (f) => {
      const all = makeEvents(50, (i) => ({ time: timeAt(i * 1000) }));
      await f.store.append(all);
      t.expect(await f.store.prune({ before: timeAt(10_000), keep: 30 })).toBe(20);
      t.expect(await f.store.count()).toBe(30);
    });

    test(
      "onRetention reports the last deleted link of every chain that lost events, until removed",
      async (f) => {
        const onRetention = f.store.onRetention!.bind(f.store);
        const link = (chainId: string, seq: number, time: number): AuditEvent =>
          makeEvent({
            time: timeAt(time),
            chain: {
              id: chainId,
              seq,
              prev: seq === 1 ? "" : `${chainId}-${seq - 1}`,
              hash: `${chainId}-${seq}`,
            },
          });
        const a = Array.from({ length: 6 }, (_, i) => link("chain-a", i + 1, i * 1000));
        const b = Array.from({ length: 4 }, (_, i) => link("chain-b", i + 1, i * 1000 + 500));
        const c = [link("chain-c", 1, 9000)];
        const unchained = [100, 200, 5000].map((ms) => makeEvent({ time: timeAt(ms) }));
        await f.store.append(shuffle([...a, ...b, ...c, ...unchained]));

        const reports: (readonly PrunedChainHead[])[] = [];
        const stop = onRetention((heads) => reports.push(heads));
        t.expect(await f.store.prune({ before: timeAt(3000) })).toBe(8);
        // One head per chain (the newest it lost), however the store splits its reports.
        const newest = new Map<string, PrunedChainHead>();
        for (const head of reports.flat())
          if ((newest.get(head.chainId)?.seq ?? 0) < head.seq) newest.set(head.chainId, head);
        t.expect(
          [...newest.values()]
            .map(({ chainId, seq, hash }) => ({ chainId, seq, hash }))
            .sort((x, y) => (x.chainId < y.chainId ? -1 : 1)),
        ).toEqual([
          { chainId: "chain-a", seq: 3, hash: "chain-a-3" },
          { chainId: "chain-b", seq: 3, hash: "chain-b-3" },
        ]);

        // Nothing deleted: no chain reported.
        const before = reports.flat().length;
        t.expect(await f.store.prune({ before: timeAt(0) })).toBe(0);
        t.expect(reports.flat().length).toBe(before);

        stop();
        const calls = reports.length;
        t.expect(await f.store.prune({ keep: 1 })).toBeGreaterThan(0);
        t.expect(reports.length).toBe(calls);
      },
      { when: offers("onRetention") },
    );

    test("leaves a trail that still verifies after a prune through the auditor", async (f) => {
      const audit = new Auditor({
        store: f.store,
        spool: false,
        batch: { maxDelayMs: 1 },
        onError: () => {},
      });
      f.defer(() => audit.close());
      const run = audit.startRun({ agent: "bot" });
      for (let i = 0; i < 20; i++)
        await run.tool("lookup", { i }, async () => ({ found: i % 2 === 0 }));
      await audit.flush();
      t.expect(await audit.prune({ keep: 15 })).toBeGreaterThan(0);
      await run.end({ output: "done" });
      await audit.close();
      const report = await verifyChain(f.store, { requireClosed: true });
      t.expect(report.problems).toEqual([]);
      t.expect(report.chains).toHaveLength(1);
    });
  });
}
