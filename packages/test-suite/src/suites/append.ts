import { type AuditEvent, AuditValidationError } from "@audit/core";
import { makeEvent, makeEvents, timeAt } from "../events.js";
import type { StoreHarness, TestApi } from "../harness.js";
import { storeTests } from "../store-tests.js";

const byId = (a: AuditEvent, b: AuditEvent) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Append and idempotency: round trip, a repeated id skipped, atomicity, what was really persisted. */
export function appendSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: append and idempotency`, () => {
    const test = storeTests(t, h);

    test("stores every field exactly and reads it back by id", async (f) => {
      const full = makeEvent({
        type: "llm.end",
        actor: "support-bot",
        sessionId: "s-1",
        runId: "r-1",
        spanId: "00f067aa0ba902b7",
        parentSpanId: "00f067aa0ba902b8",
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        risk: "medium",
        data: {
          model: "m",
          nested: { list: [1, "two", { three: 3 }], empty: {}, flag: false, nothing: null },
          unicode: "héllo — 你好 — 👋",
          quote: 'a "quoted" \\ line\nbreak',
          big: "x".repeat(20_000),
        },
        chain: { id: "chain-1", seq: 1, prev: "", hash: "abc" },
      });
      const minimal = makeEvent({ time: timeAt(1), type: "custom.thing", data: {} });
      await f.store.append([full, minimal]);
      t.expect(await f.store.get(full.id)).toEqual(full);
      t.expect(await f.store.get(minimal.id)).toEqual(minimal);
      t.expect(await f.store.get("00000000-0000-7000-8000-000000000000")).toBeUndefined();
      if (h.readRaw)
        t.expect((await h.readRaw(f.store)).sort(byId)).toEqual([full, minimal].sort(byId));
    });

    test("is idempotent on id: a repeated id is skipped, never overwritten", async (f) => {
      const e = makeEvent({ data: { version: "original" } });
      await f.store.append([e]);
      await f.store.append([e]);
      await f.store.append([{ ...e, data: { version: "forged" } }]);
      t.expect(await f.store.count()).toBe(1);
      t.expect((await f.store.get(e.id))?.data).toEqual({ version: "original" });
      if (h.readRaw) t.expect(await h.readRaw(f.store)).toHaveLength(1);
    });

    test("keeps the first of two events with one id inside one batch", async (f) => {
      const e = makeEvent({ data: { n: 1 } });
      await f.store.append([e, { ...e, data: { n: 2 } }, makeEvent()]);
      t.expect(await f.store.count()).toBe(2);
      t.expect((await f.store.get(e.id))?.data).toEqual({ n: 1 });
    });

    test("accepts an empty batch", async (f) => {
      await f.store.append([]);
      t.expect(await f.store.count()).toBe(0);
    });

    test("writes a large batch in one append", async (f) => {
      const events = makeEvents(5000, (i) => ({ time: timeAt(i % 97) }));
      await f.store.append(events);
      t.expect(await f.store.count()).toBe(5000);
      if (h.readRaw) t.expect(await h.readRaw(f.store)).toHaveLength(5000);
    });

    test("rejects a batch with an invalid event and writes none of it", async (f) => {
      const good = makeEvent();
      const bad = { ...makeEvent(), type: "Not A Type" };
      await t.expect(f.store.append([good, bad])).rejects.toThrow(AuditValidationError);
      t.expect(await f.store.count()).toBe(0);
      if (h.readRaw) t.expect(await h.readRaw(f.store)).toHaveLength(0);
    });
  });
}
