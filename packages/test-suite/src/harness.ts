import type { AuditEvent, AuditStore } from "@audit/core";

/** The matchers the suite uses; vitest's and Jest's `expect` both provide them. */
export interface Matchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toHaveLength(length: number): void;
  toBeUndefined(): void;
  toBeDefined(): void;
  toBeGreaterThan(n: number): void;
  toBeGreaterThanOrEqual(n: number): void;
  toBeLessThanOrEqual(n: number): void;
  toContain(item: unknown): void;
  toMatch(expected: string | RegExp): void;
  toMatchObject(expected: object): void;
  toThrow(expected?: unknown): void;
  not: Matchers;
  rejects: {
    toThrow(expected?: unknown): Promise<void>;
    toBeInstanceOf(c: unknown): Promise<void>;
  };
  resolves: { toBe(expected: unknown): Promise<void>; toBeUndefined(): Promise<void> };
}

/**
 * What the runner passes a test function. vitest's test context has `skip`, which the suite calls
 * for a test that does not apply to the store (a capability it does not declare), so the report
 * says "skipped" with the reason; runners without it count such a test as passed.
 */
export interface TestContext {
  skip?: (note?: string) => void;
}

/**
 * The test runner's functions: pass vitest's (or Jest's) own. `beforeEach` and `afterEach` are
 * optional: without them each test creates and closes its store itself.
 */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: (context: TestContext) => Promise<void> | void, timeout?: number): void;
  expect(value: unknown): Matchers;
  /** When given, stores are created in it (and closed in `afterEach` even after a timeout). */
  beforeEach?(fn: () => Promise<void> | void): void;
  afterEach?(fn: () => Promise<void> | void): void;
}

/**
 * How the multi-process area (and the subscribe area's cross-process test) opens one location
 * from several stores and from child processes.
 */
export interface ProcessHarness {
  /**
   * The module a child process imports to open the store: an absolute path or `file:` URL of
   * JavaScript that Node.js loads without a TypeScript loader (usually the adapter's built entry
   * point), exporting `createStoreFromUrl(url)` — the same export `openStore` uses for an adapter
   * package. The test process opens its own stores on the location through it too.
   */
  module: string;
  /**
   * The URL of a new, empty location (a directory, a file, a schema) that `createStoreFromUrl`
   * opens. Nothing should exist there yet: the writers race to create it.
   */
  location(): string | Promise<string>;
  /** Removes a location after its test. */
  remove?(url: string): Promise<void> | void;
  /**
   * How many writer processes write one location at once.
   * @default 4
   */
  writers?: number;
  /**
   * How many events each writer process records.
   * @default 5000
   */
  eventsPerWriter?: number;
  /**
   * How many times a recorder is killed with SIGKILL in the crash test.
   * @default 20
   */
  crashRounds?: number;
}

/** How the suite gets stores of the adapter under test. */
export interface StoreHarness {
  /** Shown in test names. */
  name: string;
  /** A new, empty store. Each test gets its own, and the suite closes it. */
  create(): AuditStore | Promise<AuditStore>;
  /**
   * Closes `store` and opens the same location again, so the suite can check that what was written
   * survives a restart. Required when the store declares `capabilities.persistent`; must be absent
   * when it does not (a store that keeps nothing cannot be reopened).
   */
  reopen?(store: AuditStore): Promise<AuditStore>;
  /**
   * Reads what was really persisted, bypassing the adapter's query path (raw SQL, the files
   * themselves), in any order. Lets the suite check writes independently of reads.
   */
  readRaw?(store: AuditStore): Promise<AuditEvent[]>;
  /** Called after each test, after the store was closed. */
  cleanup?(): Promise<void> | void;
  /**
   * Breaks `store`'s live connection the way a network failure or a database restart would
   * (PostgreSQL: terminate the listening backend). Resolves once it is broken; rejects if there was
   * nothing to break. The subscribe area then checks that delivery goes on, exactly once. Omit for
   * stores without a connection (polling stores): the area checks a close-and-resubscribe instead.
   */
  interrupt?(store: AuditStore): Promise<void>;
  /** Required when the store declares `capabilities.multiProcess`. */
  processes?: ProcessHarness;
}

/** Per-test state: the store, and what else the test opened. */
export interface Fixture {
  /** The test's store; a test that reopens it replaces it here, so the new one is closed. */
  store: AuditStore;
  /**
   * Runs `fn` after the test, before the store is closed: for the other stores, auditors and
   * subscriptions a test opens, so they are released even when an assertion fails.
   */
  defer(fn: () => unknown): void;
}

/** A failure of the harness an adapter wrote, not of its store. */
export class HarnessError extends Error {
  override name = "HarnessError";
}

/**
 * Sets up `beforeEach` / `afterEach` so each test of a sub-suite gets a fresh store from the
 * harness, closed (and cleaned up) afterwards. Needs both hooks; the suites themselves use
 * `storeTests`, which also works without them.
 */
export function useStore(t: TestApi, harness: StoreHarness): Fixture {
  if (!t.beforeEach || !t.afterEach) {
    throw new HarnessError(
      "useStore needs the runner's beforeEach and afterEach; pass them in the TestApi",
    );
  }
  let current: Fixture | undefined;
  const fixture: Fixture = {
    get store() {
      return requireFixture(current).store;
    },
    set store(store) {
      requireFixture(current).store = store;
    },
    defer: (fn) => requireFixture(current).defer(fn),
  };
  t.beforeEach(async () => {
    current = await openFixture(harness);
  });
  t.afterEach(async () => {
    const f = current;
    current = undefined;
    if (f) await releaseFixture(f, harness);
  });
  return fixture;
}

function requireFixture(f: Fixture | undefined): Fixture {
  if (!f) throw new HarnessError("the store is used outside a test");
  return f;
}

interface OpenFixture extends Fixture {
  deferred: (() => unknown)[];
}

// Below vitest's 10 s hook timeout, so a close that never settles is named rather than timed out.
const CLOSE_MS = 8000;

/** Closes a store, or fails saying that its `close()` did not settle in time. */
async function closeWithin(store: AuditStore, name: string, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${name}: close() did not settle within ${ms} ms`)),
      ms,
    );
  });
  try {
    await Promise.race([store.close(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh store from the harness, with an empty list of things to release. */
export async function openFixture(harness: StoreHarness): Promise<OpenFixture> {
  const deferred: (() => unknown)[] = [];
  const store = await harness.create();
  return { store, deferred, defer: (fn) => deferred.push(fn) };
}

/**
 * Releases what the test opened, newest first, then closes the store and cleans up; every step
 * runs even if one fails, and the first failure is thrown.
 */
export async function releaseFixture(f: Fixture, harness: StoreHarness): Promise<void> {
  const deferred = (f as Partial<OpenFixture>).deferred ?? [];
  const steps = [
    ...deferred.splice(0).reverse(),
    () => closeWithin(f.store, harness.name, CLOSE_MS),
    () => harness.cleanup?.(),
  ];
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}
