import type { AuditEvent, AuditFilter, AuditStore } from "@audit/core";
import { eventMatches, resolveFilter } from "@audit/core/store-kit";
import { ids, makeEvent, makeEvents } from "../events.js";
import type { Fixture, StoreHarness, TestApi } from "../harness.js";
import { runConcurrentWriters } from "../processes.js";
import { processHook, sharedLocation } from "../shared-location.js";
import { all, declares, declaresNot, storeTests } from "../store-tests.js";
import { waitUntil } from "../wait.js";

// Live tails of polling stores deliver late: every wait is bounded by this, none is a fixed sleep.
const DELIVERY_MS = 30_000;

const now = () => new Date().toISOString();

/** A subscription collecting what it receives; stopped after the test whatever happens. */
interface Listener {
  events: AuditEvent[];
  stop(): void;
}

function listen(f: Fixture, store: AuditStore, filter: AuditFilter = {}): Listener {
  if (typeof store.subscribe !== "function") {
    throw new Error(`${store.id} declares capabilities.subscribe but has no subscribe() method`);
  }
  const events: AuditEvent[] = [];
  const unsubscribe = store.subscribe(filter, (e) => events.push(e));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unsubscribe();
  };
  f.defer(stop);
  return { events, stop };
}

/** Waits until `listener` has received every one of `expected` (by id). */
async function delivered(listener: Listener, expected: readonly AuditEvent[], label = "") {
  const missing = () => {
    const got = new Set(ids(listener.events));
    return expected.filter((e) => !got.has(e.id));
  };
  await waitUntil(
    () => missing().length === 0,
    () => `${label}${missing().length} of ${expected.length} events not delivered`,
    DELIVERY_MS,
  );
}

/** What differs between what a listener received and what it should have, exactly once each. */
function exactlyOnce(received: readonly AuditEvent[], expected: readonly AuditEvent[]) {
  const seen = new Set<string>();
  const duplicated: string[] = [];
  for (const id of ids(received)) {
    if (seen.has(id)) duplicated.push(id);
    seen.add(id);
  }
  const want = new Set(ids(expected));
  return {
    duplicated,
    missing: ids(expected).filter((id) => !seen.has(id)),
    unexpected: [...seen].filter((id) => !want.has(id)),
  };
}

const clean = { duplicated: [], missing: [], unexpected: [] };

/** Ids of one writer's events, in the order received. */
const byActor = (events: readonly AuditEvent[], actor: string) =>
  ids(events.filter((e) => e.actor === actor));

/**
 * Live tail, for stores declaring `subscribe`: every event appended after subscribing is delivered
 * exactly once (none missing, none twice), in order per writer, with the filter applied, also
 * when other instances and processes append (stores declaring `multiProcess`); unsubscribing
 * stops delivery; delivery goes on across an interrupted connection (when the harness can
 * interrupt one) and across a reconnect (a new instance subscribing `after` the last event
 * received, caught up with `stream`). A store that does not declare `subscribe` must have no
 * `subscribe` method, or one that throws an error naming the store.
 */
export function subscribeSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: subscribe`, () => {
    const test = storeTests(t, h);
    const live = declares("subscribe");
    const slow = { when: live, timeout: 90_000 };

    test(
      "offers subscribe() when it declares it",
      async (f) => {
        t.expect(typeof f.store.subscribe).toBe("function");
      },
      { when: live },
    );

    test(
      "delivers every event appended after subscribing exactly once, in order per writer",
      async (f) => {
        const store = f.store;
        const history = makeEvents(5, () => ({ actor: "history", time: now() }));
        await store.append(history);
        const sub = listen(f, store);
        const appended: AuditEvent[] = [];
        for (let round = 0; round < 10; round++) {
          for (const actor of ["writer-a", "writer-b"]) {
            const batch = makeEvents(round % 3 === 0 ? 1 : 25, (i) => ({
              actor,
              time: now(),
              data: { round, i },
            }));
            await store.append(batch);
            appended.push(...batch);
          }
        }
        // A last event: whatever a store would deliver twice, it delivers before this one.
        const marker = makeEvent({ actor: "marker", time: now() });
        await store.append([marker]);
        appended.push(marker);
        await delivered(sub, appended);
        t.expect(exactlyOnce(sub.events, appended)).toEqual(clean);
        for (const actor of ["writer-a", "writer-b"])
          t.expect(byActor(sub.events, actor)).toEqual(byActor(appended, actor));
      },
      slow,
    );

    test(
      "applies the subscription's filter",
      async (f) => {
        const store = f.store;
        const types = [
          "tool.start",
          "tool.end",
          "toolbox.open",
          "approval.request",
          "run.start",
          "policy.decision",
        ];
        const risks = [undefined, "low", "medium", "high", "critical"] as const;
        const filters: AuditFilter[] = [
          { type: "tool.*", actor: "a" },
          { risk: "high" },
          { data: { tool: "search" } },
          { type: ["approval.request", "run.start"], sessionId: "s1" },
        ];
        const subs = filters.map((filter) => listen(f, store, filter));
        const events = makeEvents(240, (i) => {
          const risk = risks[i % 5];
          const sessionId = ["s1", "s2", undefined][i % 3];
          return {
            type: types[i % 6]!,
            actor: i % 4 < 2 ? "a" : "b",
            time: now(),
            ...(risk && { risk }),
            ...(sessionId && { sessionId }),
            data: { tool: i % 7 < 3 ? "search" : "refund", i },
          };
        });
        for (let i = 0; i < events.length; i += 40) await store.append(events.slice(i, i + 40));
        // One last match per filter, appended after everything else.
        const markers = [
          makeEvent({ type: "tool.end", actor: "a", time: now() }),
          makeEvent({ type: "error", risk: "critical", time: now(), data: { marker: 1 } }),
          makeEvent({ type: "custom.thing", time: now(), data: { tool: "search" } }),
          makeEvent({ type: "run.start", sessionId: "s1", time: now(), data: {} }),
        ];
        await store.append(markers);
        const appended = [...events, ...markers];
        for (const [k, filter] of filters.entries()) {
          const resolved = resolveFilter(filter);
          const want = appended.filter((e) => eventMatches(resolved, e));
          t.expect(want.length).toBeGreaterThan(5);
          await delivered(subs[k]!, want, `filter ${JSON.stringify(filter)}: `);
          t.expect(exactlyOnce(subs[k]!.events, want)).toEqual(clean);
        }
      },
      slow,
    );

    test(
      "stops delivering once unsubscribed",
      async (f) => {
        const store = f.store;
        const gone = listen(f, store);
        const kept = listen(f, store);
        const first = makeEvents(3, () => ({ time: now() }));
        await store.append(first);
        await delivered(gone, first);
        await delivered(kept, first);
        gone.stop();
        const later = makeEvents(5, () => ({ time: now() }));
        await store.append(later);
        await delivered(kept, later);
        // One more round of delivery to the subscription still open, so a late one would show.
        const last = makeEvents(1, () => ({ time: now() }));
        await store.append(last);
        await delivered(kept, last);
        t.expect(ids(gone.events)).toEqual(ids(first));
      },
      slow,
    );

    test(
      "delivers what other instances and processes append to the same location, exactly once",
      async (f) => {
        const p = processHook(h, "declares capabilities.multiProcess and subscribe");
        const location = await sharedLocation(f, p);
        const reader = await location.open();
        const writer = await location.open();
        await writer.append(makeEvents(3, () => ({ type: "instance.event", time: now() })));
        const sub = listen(f, reader, { type: ["instance.event", "load.event"] });
        const mine = makeEvents(60, (i) => ({
          type: "instance.event",
          actor: "instance",
          time: now(),
          data: { i },
        }));
        for (let i = 0; i < mine.length; i += 10) await writer.append(mine.slice(i, i + 10));
        const perProcess = 300;
        await runConcurrentWriters({
          url: location.url,
          processes: 2,
          events: perProcess,
          module: p.module,
        });
        const fromProcesses = await reader.query({ type: "load.event" });
        t.expect(fromProcesses).toHaveLength(2 * perProcess);
        const marker = makeEvent({ type: "instance.event", actor: "marker", time: now() });
        await writer.append([marker]);
        const expected = [...mine, ...fromProcesses, marker];
        await delivered(sub, expected);
        t.expect(exactlyOnce(sub.events, expected)).toEqual(clean);
        t.expect(byActor(sub.events, "instance")).toEqual(ids(mine));
        for (const actor of ["writer-0", "writer-1"]) {
          // Each process's events arrive in the order it recorded them.
          const order = sub.events.filter((e) => e.actor === actor).map((e) => e.data.i);
          t.expect(order).toEqual(Array.from({ length: perProcess }, (_, i) => i));
        }
      },
      { when: all(live, declares("multiProcess")), timeout: 120_000 },
    );

    test(
      "keeps delivering exactly once across an interrupted connection",
      async (f) => {
        const interrupt = h.interrupt!;
        const store = f.store;
        const sub = listen(f, store);
        const before = makeEvents(20, (i) => ({ actor: "w", time: now(), data: { i } }));
        await store.append(before);
        await delivered(sub, before, "before the interruption: ");
        await interrupt(store);
        const after = makeEvents(20, (i) => ({ actor: "w", time: now(), data: { i: 20 + i } }));
        for (let i = 0; i < after.length; i += 5) await store.append(after.slice(i, i + 5));
        const expected = [...before, ...after];
        await delivered(sub, expected, "after the interruption: ");
        t.expect(exactlyOnce(sub.events, expected)).toEqual(clean);
        t.expect(byActor(sub.events, "w")).toEqual(ids(expected));
      },
      {
        when: all(live, (_, harness) =>
          harness.interrupt ? undefined : `the harness of ${harness.name} gives no interrupt()`,
        ),
        timeout: 90_000,
      },
    );

    test(
      "resumes across a reconnect: a new instance subscribing after the last event received misses nothing",
      async (f) => {
        const reopen = h.reopen!;
        const first = listen(f, f.store);
        const before = makeEvents(20, () => ({ time: now() }));
        await f.store.append(before);
        await delivered(first, before);
        const last = first.events[first.events.length - 1]!.id;
        first.stop();
        f.store = await reopen(f.store);
        // Appended while nobody listens.
        const gap = makeEvents(15, () => ({ time: now() }));
        await f.store.append(gap);
        const second = listen(f, f.store, { after: last });
        // The catch-up read a client does after resubscribing; a store whose subscribe replays
        // from `after` by itself passes the same way.
        const caughtUp: AuditEvent[] = [];
        for await (const e of f.store.stream({ after: last })) caughtUp.push(e);
        const after = makeEvents(20, () => ({ time: now() }));
        for (let i = 0; i < after.length; i += 5) await f.store.append(after.slice(i, i + 5));
        await delivered(second, after);
        const seen = new Set(ids(caughtUp));
        const merged = [...caughtUp, ...second.events.filter((e) => !seen.has(e.id))];
        t.expect(exactlyOnce(merged, [...gap, ...after])).toEqual(clean);
        // The subscription itself: nothing twice, nothing from before the cursor.
        t.expect(exactlyOnce(second.events, second.events)).toEqual(clean);
        t.expect(exactlyOnce(second.events, [...gap, ...after]).unexpected).toEqual([]);
      },
      {
        when: all(live, declares("persistent"), (_, harness) =>
          harness.reopen ? undefined : `the harness of ${harness.name} gives no reopen()`,
        ),
        timeout: 90_000,
      },
    );

    test(
      "refuses subscribe cleanly when it does not declare it",
      async (f) => {
        // The rule for an undeclared `subscribe`: no subscribe method at all, or one that throws
        // an error naming the store, never a subscription that silently delivers nothing.
        const store = f.store;
        if (store.subscribe === undefined) return;
        t.expect(typeof store.subscribe).toBe("function");
        let thrown: unknown;
        try {
          const unsubscribe = store.subscribe({}, () => undefined);
          f.defer(unsubscribe);
        } catch (err) {
          thrown = err;
        }
        if (thrown === undefined) {
          throw new Error(
            `${h.name} does not declare capabilities.subscribe, yet subscribe() returned: a silent ` +
              "no-op. Remove the method, throw an error naming the store, or declare subscribe: true",
          );
        }
        t.expect(thrown instanceof Error).toBe(true);
        t.expect((thrown as Error).message).toMatch(store.id);
      },
      { when: declaresNot("subscribe") },
    );
  });
}
