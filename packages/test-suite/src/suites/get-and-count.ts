import { AuditValidationError } from "@audit/core";
import { appendInChunks, makeEvent, makeEvents, shuffle, sorted, timeAt } from "../events.js";
import type { StoreHarness, TestApi } from "../harness.js";
import { storeTests } from "../store-tests.js";

/**
 * `get` and `count`: an event by id among thousands sharing a timestamp, copies isolated from the
 * caller, and `count` agreeing with `query` under filters, `limit` and `after`.
 */
export function getCountSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: get and count`, () => {
    const test = storeTests(t, h);

    test("gets each event by id, and nothing for an id it does not hold", async (f) => {
      const all = makeEvents(1000, (i) => ({ time: timeAt(i % 3), data: { i } }));
      await appendInChunks(f.store, shuffle(all), 250);
      for (const e of shuffle(all, 3).slice(0, 50)) t.expect(await f.store.get(e.id)).toEqual(e);
      t.expect(await f.store.get("00000000-0000-7000-8000-000000000000")).toBeUndefined();
      await f.store.prune({ keep: 999 });
      t.expect(await f.store.get(sorted(all)[0]!.id)).toBeUndefined();
    });

    test("keeps stored events isolated from the caller's objects", async (f) => {
      const e = makeEvent({ data: { list: [1] } });
      await f.store.append([e]);
      (e.data.list as number[]).push(2);
      const got = await f.store.get(e.id);
      t.expect(got?.data).toEqual({ list: [1] });
      (got!.data.list as number[]).push(3);
      t.expect((await f.store.get(e.id))?.data).toEqual({ list: [1] });
    });

    test("counts with limit and cursor like query", async (f) => {
      t.expect(await f.store.count()).toBe(0);
      const all = makeEvents(1000, (i) => ({
        time: timeAt(i % 4),
        type: i % 3 ? "tool.end" : "tool.start",
      }));
      await appendInChunks(f.store, shuffle(all), 250);
      const s = sorted(all);
      t.expect(await f.store.count()).toBe(all.length);
      t.expect(await f.store.count({ limit: 10 })).toBe(10);
      t.expect(await f.store.count({ after: s[s.length - 5]!.id })).toBe(4);
      for (const filter of [
        { type: "tool.start" },
        { type: "tool.end", after: s[500]!.id },
        { type: "tool.start", after: s[100]!.id, limit: 7 },
        { order: "desc" as const, after: s[100]!.id },
        { limit: 0 },
      ]) {
        t.expect(await f.store.count(filter)).toBe((await f.store.query(filter)).length);
      }
      // Repeated ids are not counted twice.
      await f.store.append(all.slice(0, 100));
      t.expect(await f.store.count()).toBe(all.length);
    });

    test("refuses to count after a cursor that names no stored event", async (f) => {
      await f.store.append(makeEvents(3));
      await t
        .expect(f.store.count({ after: "00000000-0000-7000-8000-00000000dead" }))
        .rejects.toThrow(AuditValidationError);
    });
  });
}
