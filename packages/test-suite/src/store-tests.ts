import type { AuditStore, StoreCapabilities } from "@audit/core";
import {
  type Fixture,
  openFixture,
  releaseFixture,
  type StoreHarness,
  type TestApi,
  type TestContext,
} from "./harness.js";

/**
 * Decides whether a test applies to a store: `undefined` when it does, otherwise the reason it
 * does not (shown as the skip note).
 */
export type Applies = (store: AuditStore, harness: StoreHarness) => string | undefined;

/** Options of one store test. */
export interface StoreTestOptions {
  /** Runs the test only for stores this accepts; the others skip it with the reason. */
  when?: Applies;
  /** The runner's timeout for this test, in milliseconds. */
  timeout?: number;
}

type Body = (f: Fixture) => Promise<void>;

/** Registers one test that gets a fresh store. */
export type StoreTest = (name: string, fn: Body, options?: StoreTestOptions) => void;

/** The store declares the capability. */
export function declares(capability: keyof StoreCapabilities): Applies {
  return (store, h) =>
    store.capabilities[capability] === true
      ? undefined
      : `${h.name} does not declare capabilities.${capability}`;
}

/** The store does not declare the capability. */
export function declaresNot(capability: keyof StoreCapabilities): Applies {
  return (store, h) =>
    store.capabilities[capability] === true
      ? `${h.name} declares capabilities.${capability}`
      : undefined;
}

/** The store has the optional method. */
export function offers(
  method: "storedRows" | "subscribe" | "onRetention" | "stats" | "describe",
): Applies {
  return (store, h) =>
    typeof store[method] === "function" ? undefined : `${h.name} has no ${method}()`;
}

/** Every condition holds. */
export function all(...conditions: Applies[]): Applies {
  return (store, h) => {
    for (const c of conditions) {
      const reason = c(store, h);
      if (reason !== undefined) return reason;
    }
    return undefined;
  };
}

/**
 * Returns the function that registers the tests of one area, each with a fresh store: created and
 * closed in the runner's `beforeEach` / `afterEach` when the `TestApi` has them (so a timed-out
 * test is still cleaned up), otherwise inside the test. Call it inside the area's `describe`.
 */
export function storeTests(t: TestApi, h: StoreHarness): StoreTest {
  const run = async (f: Fixture, context: unknown, fn: Body, opts?: StoreTestOptions) => {
    const reason = opts?.when?.(f.store, h);
    if (reason !== undefined) {
      // vitest's skip throws to stop the test; a runner without it counts the test as passed.
      (context as TestContext | undefined)?.skip?.(reason);
      return;
    }
    await fn(f);
  };

  if (t.beforeEach && t.afterEach) {
    let current: Fixture | undefined;
    t.beforeEach(async () => {
      current = await openFixture(h);
    });
    t.afterEach(async () => {
      const f = current;
      current = undefined;
      if (f) await releaseFixture(f, h);
    });
    // A rest parameter keeps the function's length 0, so Jest does not take it for a `done` test.
    return (name, fn, opts) =>
      t.it(
        name,
        async (...args: unknown[]) => {
          if (!current) throw new Error(`${h.name}: no store (did create() fail?)`);
          await run(current, args[0], fn, opts);
        },
        opts?.timeout,
      );
  }
  return (name, fn, opts) =>
    t.it(
      name,
      async (...args: unknown[]) => {
        const f = await openFixture(h);
        let failed = true;
        try {
          await run(f, args[0], fn, opts);
          failed = false;
        } finally {
          // The test's own failure is the one worth reporting, not a cleanup failure after it.
          if (failed) await releaseFixture(f, h).catch(() => undefined);
          else await releaseFixture(f, h);
        }
      },
      opts?.timeout,
    );
}

/**
 * The runner's `it`, with `cleanup` run after each test: in `afterEach` when the `TestApi` has it,
 * otherwise at the end of the test itself.
 */
export function withCleanup(t: TestApi, cleanup: () => Promise<void>): TestApi["it"] {
  if (t.afterEach) {
    t.afterEach(cleanup);
    return (name, fn, timeout) => t.it(name, fn, timeout);
  }
  return (name, fn, timeout) =>
    t.it(
      name,
      async (...args: unknown[]) => {
        let failed = true;
        try {
          await fn(args[0] as TestContext);
          failed = false;
        } finally {
          if (failed) await cleanup().catch(() => undefined);
          else await cleanup();
        }
      },
      timeout,
    );
}
