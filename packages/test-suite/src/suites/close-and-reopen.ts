import { appendInChunks, ids, makeEvents, shuffle, sorted, timeAt } from "../events.js";
import { HarnessError, type StoreHarness, type TestApi } from "../harness.js";
import { declares, declaresNot, storeTests } from "../store-tests.js";

/**
 * Close and reopen: close is idempotent and every call after it fails cleanly; a store declaring
 * `persistent` keeps every event across close and reopen (the harness must give `reopen`); a
 * store that does not is not offered for reopening.
 */
export function lifecycleSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: close and reopen`, () => {
    const test = storeTests(t, h);

    test("closes idempotently and refuses use after close", async (f) => {
      await f.store.append(makeEvents(2));
      const [first] = await f.store.query({ limit: 1 });
      await f.store.close();
      await f.store.close();
      await t.expect(f.store.append(makeEvents(1))).rejects.toThrow();
      await t.expect(f.store.query()).rejects.toThrow();
      await t.expect(f.store.count()).rejects.toThrow();
      await t.expect(f.store.get(first!.id)).rejects.toThrow();
      await t.expect(f.store.prune({ keep: 0 })).rejects.toThrow();
      const streamed = (async () => {
        for await (const _ of f.store.stream()) break;
      })();
      await t.expect(streamed).rejects.toThrow();
      if (f.store.subscribe) {
        const subscribe = f.store.subscribe.bind(f.store);
        t.expect(() => subscribe({}, () => undefined)).toThrow();
      }
    });

    test(
      "keeps every event, in order, across close and reopen",
      async (f) => {
        if (!h.reopen) {
          throw new HarnessError(
            `${h.name} declares capabilities.persistent, but the harness gives no reopen(store): ` +
              "add one that closes the store and opens the same location again, so the suite can " +
              "check that events survive",
          );
        }
        const all = makeEvents(1200, (i) => ({ time: timeAt(i % 7) }));
        await appendInChunks(f.store, shuffle(all), 300);
        f.store = await h.reopen(f.store);
        t.expect(ids(await f.store.query())).toEqual(ids(sorted(all)));
        // Idempotency holds against what an earlier session wrote.
        await f.store.append(all.slice(0, 10));
        t.expect(await f.store.count()).toBe(1200);
      },
      { when: declares("persistent") },
    );

    test(
      "is not offered for reopening when it does not declare persistent",
      async () => {
        // The rule for an undeclared `persistent`: nothing survives close, so there is no reopen.
        if (h.reopen) {
          throw new HarnessError(
            `${h.name} does not declare capabilities.persistent, but the harness gives reopen(store): ` +
              "either the store keeps events across close (declare persistent: true) or it cannot be reopened (remove reopen)",
          );
        }
      },
      { when: declaresNot("persistent") },
    );
  });
}
