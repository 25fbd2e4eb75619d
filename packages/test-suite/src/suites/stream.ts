import { appendInChunks, ids, makeEvents, shuffle, sorted, timeAt } from "../events.js";
import type { StoreHarness, TestApi } from "../harness.js";
import { storeTests } from "../store-tests.js";

/** `stream`: every match exactly once, in order, across many pages, and while writes go on. */
export function streamSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: stream`, () => {
    const test = storeTests(t, h);

    test("streams thousands of events exactly once in order, both directions", async (f) => {
      const all = makeEvents(4321, (i) => ({ time: timeAt(Math.floor(i / 1000)) }));
      await appendInChunks(f.store, shuffle(all, 7), 1000);
      for (const order of ["asc", "desc"] as const) {
        const seen: string[] = [];
        for await (const e of f.store.stream({ order })) seen.push(e.id);
        t.expect(seen).toEqual(ids(sorted(all, order)));
      }
    });

    test("honours limit and cursor", async (f) => {
      const all = sorted(makeEvents(1500, (i) => ({ time: timeAt(i % 3) })));
      await f.store.append(all);
      const seen: string[] = [];
      for await (const e of f.store.stream({ limit: 1234, after: all[10]!.id })) seen.push(e.id);
      t.expect(seen).toEqual(ids(all.slice(11, 11 + 1234)));
    });

    test("does not repeat or lose stored events when new ones arrive during the stream", async (f) => {
      const all = makeEvents(2000, (i) => ({ time: timeAt(i) }));
      await f.store.append(all);
      const seen = new Set<string>();
      let n = 0;
      for await (const e of f.store.stream()) {
        t.expect(seen.has(e.id)).toBe(false);
        seen.add(e.id);
        if (++n === 700)
          await f.store.append(makeEvents(10, (i) => ({ time: timeAt(100_000 + i) })));
      }
      for (const e of all) t.expect(seen.has(e.id)).toBe(true);
    });
  });
}
