import { type AuditFilter, AuditValidationError } from "@audit/core";
import { StatsCollector } from "@audit/core/store-kit";
import { appendInChunks, makeEvent, makeEvents, shuffle, sorted, timeAt } from "../events.js";
import type { StoreHarness, TestApi } from "../harness.js";
import { offers, storeTests } from "../store-tests.js";

/**
 * `get` and `count`: an event by id among thousands sharing a timestamp, copies isolated from the
 * caller, `count` agreeing with `query` under filters, `limit` and `after`; and, when the store
 * offers them, `stats` agreeing with the events counted one by one and `describe` naming the store.
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

    test(
      "stats agree with the matching events counted one by one",
      async (f) => {
        const stats = f.store.stats!.bind(f.store);
        const events = makeEvents(600, (i) => ({
          type: ["tool.start", "tool.end", "toolbox.open", "policy.decision"][i % 4]!,
          time: timeAt(i * 37),
          ...(i % 3 !== 0 && { actor: `actor-${i % 5}` }),
          ...(i % 4 !== 0 && { risk: (["low", "medium", "high", "critical"] as const)[i % 4]! }),
        }));
        await appendInChunks(f.store, shuffle(events), 200);
        const filters: AuditFilter[] = [
          {},
          { type: "tool.*" },
          { actor: "actor-1", risk: "medium" },
          { since: timeAt(5000), until: timeAt(15_000) },
          { type: "nothing.here" },
        ];
        for (const filter of filters) {
          const counted = new StatsCollector();
          for await (const e of f.store.stream(filter)) counted.add(e);
          t.expect(await stats(filter)).toEqual(counted.result());
        }
      },
      { when: offers("stats") },
    );

    test(
      "describe() names the store and its capabilities, with no password",
      async (f) => {
        const description = f.store.describe!();
        t.expect(description.id).toBe(f.store.id);
        t.expect(description.capabilities).toEqual(f.store.capabilities);
        t.expect(description.readOnly).toBe(false);
        t.expect(typeof description.location).toBe("string");
        t.expect(/\/\/[^/@\s]*:[^/@\s]+@/.test(description.location)).toBe(false);
      },
      { when: offers("describe") },
    );
  });
}
