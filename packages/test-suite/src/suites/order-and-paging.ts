import { AuditValidationError } from "@audit/core";
import { appendInChunks, ids, makeEvents, shuffle, sorted, timeAt } from "../events.js";
import type { Fixture, StoreHarness, TestApi } from "../harness.js";
import { storeTests } from "../store-tests.js";

/**
 * Ordering and keyset pagination, with thousands of events sharing one timestamp: the case where
 * `(time >= t AND id > last)` paging skips rows.
 */
export function paginationSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: order and paging`, () => {
    const test = storeTests(t, h);

    const seed = async (f: Fixture) => {
      const same = makeEvents(3000, (i) => ({
        time: timeAt(1000),
        data: { i },
        type: i % 3 ? "tool.end" : "tool.start",
      }));
      const before = makeEvents(50, (i) => ({ time: timeAt(i), data: { i } }));
      const after = makeEvents(50, (i) => ({ time: timeAt(2000 + i), data: { i } }));
      const all = [...same, ...before, ...after];
      // Appended out of order: a store must order by (time, id), not by arrival.
      await appendInChunks(f.store, shuffle(all), 400);
      return all;
    };

    test("orders by (time, id) ascending and descending whatever the arrival order", async (f) => {
      const all = await seed(f);
      t.expect(ids(await f.store.query())).toEqual(ids(sorted(all)));
      t.expect(ids(await f.store.query({ order: "desc" }))).toEqual(ids(sorted(all, "desc")));
    });

    for (const order of ["asc", "desc"] as const) {
      test(`pages ${order} through 3,000 events with one timestamp without skipping or repeating`, async (f) => {
        const all = await seed(f);
        const seen: string[] = [];
        let after: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await f.store.query({ order, limit: 97, ...(after && { after }) });
          if (page.length === 0) break;
          seen.push(...ids(page));
          after = page[page.length - 1]!.id;
          pages++;
        }
        t.expect(seen).toEqual(ids(sorted(all, order)));
        t.expect(pages).toBe(Math.ceil(all.length / 97));
      });
    }

    test("pages with a filter and a cursor together", async (f) => {
      const all = await seed(f);
      const want = sorted(all.filter((e) => e.type === "tool.start"));
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await f.store.query({
          type: "tool.start",
          limit: 250,
          ...(after && { after }),
        });
        if (page.length === 0) break;
        seen.push(...ids(page));
        after = page[page.length - 1]!.id;
      }
      t.expect(seen).toEqual(ids(want));
    });

    test("rejects a cursor that names no stored event", async (f) => {
      await f.store.append(makeEvents(3));
      await t
        .expect(f.store.query({ after: "00000000-0000-7000-8000-00000000dead" }))
        .rejects.toThrow(AuditValidationError);
    });
  });
}
