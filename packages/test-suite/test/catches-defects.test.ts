import {
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  MemoryStore,
  type StoreCapabilities,
} from "@audit/core";
import { describe, expect, it } from "vitest";
import { runStoreConformance, type StoreHarness, type TestContext } from "../src/index.js";

// The suite run against stores broken on purpose: each defect must make the test that covers it
// fail, with a message that says what is wrong. The tests are collected with a runner of our own
// and run here one by one.

type TestFn = (context: TestContext) => Promise<void> | void;

function collect(harness: StoreHarness): Map<string, TestFn> {
  const tests = new Map<string, TestFn>();
  const path: string[] = [];
  runStoreConformance(
    {
      describe: (name, fn) => {
        path.push(name);
        fn();
        path.pop();
      },
      it: (name, fn) => {
        tests.set(`${path.join(" > ")} > ${name}`, fn);
      },
      expect,
    },
    harness,
  );
  return tests;
}

const SKIPPED = Symbol("skipped");

/** Runs the one collected test whose name contains `part`: "passed", "skipped: why", or the error. */
async function outcome(harness: StoreHarness, part: string): Promise<string | Error> {
  const matches = [...collect(harness)].filter(([name]) => name.includes(part));
  if (matches.length !== 1) throw new Error(`${matches.length} tests match "${part}"`);
  let note = "";
  try {
    await matches[0]![1]({
      skip: (why) => {
        note = why ?? "";
        throw SKIPPED;
      },
    });
    return "passed";
  } catch (err) {
    if (err === SKIPPED) return `skipped: ${note}`;
    return err as Error;
  }
}

/** A memory store with some capabilities and methods replaced. */
function broken(
  capabilities: Partial<StoreCapabilities>,
  patch: (inner: MemoryStore) => Partial<AuditStore> = () => ({}),
): AuditStore {
  const inner = new MemoryStore();
  return {
    id: "broken",
    capabilities: { ...inner.capabilities, ...capabilities },
    append: (events) => inner.append(events),
    query: (filter) => inner.query(filter),
    stream: (filter) => inner.stream(filter),
    get: (id) => inner.get(id),
    count: (filter) => inner.count(filter),
    prune: (options) => inner.prune(options),
    subscribe: (filter, onEvent) => inner.subscribe(filter, onEvent),
    close: () => inner.close(),
    ...patch(inner),
  };
}

const harness = (store: () => AuditStore, extra: Partial<StoreHarness> = {}): StoreHarness => ({
  name: "Broken",
  create: store,
  ...extra,
});

describe("the suite catches a defective store", () => {
  it("passes a sound store and skips, with the reason, what it does not declare", async () => {
    const sound = harness(() => new MemoryStore());
    expect(await outcome(sound, "subscribe > delivers every event")).toBe("passed");
    expect(await outcome(sound, "keeps every event, in order, across close")).toBe(
      "skipped: Broken does not declare capabilities.persistent",
    );
  });

  it("a subscription that delivers an event twice", async () => {
    const twice = harness(() =>
      broken({}, (inner) => ({
        subscribe: (filter: AuditFilter, onEvent: (e: AuditEvent) => void) =>
          inner.subscribe(filter, (e) => {
            onEvent(e);
            if (e.actor === "writer-b") onEvent(e);
          }),
      })),
    );
    const err = await outcome(twice, "subscribe > delivers every event");
    expect(String(err)).toMatch(/duplicated/);
  });

  it("a subscription that drops events", async () => {
    let n = 0;
    const lossy = harness(() =>
      broken({}, (inner) => ({
        subscribe: (filter: AuditFilter, onEvent: (e: AuditEvent) => void) =>
          inner.subscribe(filter, (e) => {
            if (++n % 10 !== 0) onEvent(e);
          }),
      })),
    );
    const err = await outcome(lossy, "subscribe > delivers every event");
    expect(String(err)).toMatch(/not delivered/);
  }, 60_000);

  it("a subscription that ignores its filter", async () => {
    const unfiltered = harness(() =>
      broken({}, (inner) => ({
        subscribe: (_filter: AuditFilter, onEvent: (e: AuditEvent) => void) =>
          inner.subscribe({}, onEvent),
      })),
    );
    expect(await outcome(unfiltered, "applies the subscription's filter")).toBeInstanceOf(Error);
  });

  it("an unsubscribe that does nothing", async () => {
    const sticky = harness(() =>
      broken({}, (inner) => ({
        subscribe: (filter: AuditFilter, onEvent: (e: AuditEvent) => void) => {
          inner.subscribe(filter, onEvent);
          return () => undefined;
        },
      })),
    );
    expect(await outcome(sticky, "stops delivering once unsubscribed")).toBeInstanceOf(Error);
  });

  it("subscribe declared false but a silent no-op", async () => {
    const silent = harness(() =>
      broken({ subscribe: false }, () => ({ subscribe: () => () => undefined })),
    );
    const err = await outcome(silent, "refuses subscribe cleanly");
    expect(String(err)).toMatch(/silent no-op/);
    // Refusing with an error that names the store passes; so does having no method at all.
    const refusing = harness(() =>
      broken({ subscribe: false }, () => ({
        subscribe: () => {
          throw new Error("[broken] this store has no live tail");
        },
      })),
    );
    expect(await outcome(refusing, "refuses subscribe cleanly")).toBe("passed");
    const absent = harness(() => broken({ subscribe: false }, () => ({ subscribe: undefined })));
    expect(await outcome(absent, "refuses subscribe cleanly")).toBe("passed");
  });

  it("subscribe declared but no method", async () => {
    const missing = harness(() => broken({ subscribe: true }, () => ({ subscribe: undefined })));
    expect(await outcome(missing, "offers subscribe() when it declares it")).toBeInstanceOf(Error);
  });

  it("persistent declared without a reopen in the harness, and reopen offered when not", async () => {
    const noReopen = harness(() => broken({ persistent: true }));
    expect(String(await outcome(noReopen, "across close and reopen"))).toMatch(
      /declares capabilities.persistent, but the harness gives no reopen/,
    );
    const reopenable = harness(() => broken({ persistent: false }), {
      reopen: async (store) => store,
    });
    expect(String(await outcome(reopenable, "not offered for reopening"))).toMatch(
      /does not declare capabilities.persistent, but the harness gives reopen/,
    );
  });

  it("a persistent store that loses events on reopen", async () => {
    const forgetful = harness(() => broken({ persistent: true }), {
      reopen: async (store) => {
        await store.close();
        return broken({ persistent: true });
      },
    });
    expect(await outcome(forgetful, "across close and reopen")).toBeInstanceOf(Error);
  });

  it("multiProcess declared without a processes hook", async () => {
    const unshared = harness(() => broken({ multiProcess: true }));
    expect(String(await outcome(unshared, "writers in several processes"))).toMatch(
      /gives no processes hook/,
    );
  });

  it("count ignoring the cursor", async () => {
    const counting = harness(() =>
      broken({}, (inner) => ({
        count: ({ after: _after, ...filter }: AuditFilter = {}) => inner.count(filter),
      })),
    );
    expect(await outcome(counting, "counts with limit and cursor like query")).toBeInstanceOf(
      Error,
    );
  });
});
