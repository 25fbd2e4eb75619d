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
  toMatchObject(expected: object): void;
  toThrow(expected?: unknown): void;
  not: Matchers;
  rejects: {
    toThrow(expected?: unknown): Promise<void>;
    toBeInstanceOf(c: unknown): Promise<void>;
  };
  resolves: { toBe(expected: unknown): Promise<void>; toBeUndefined(): Promise<void> };
}

/** The test runner's functions: pass vitest's (or Jest's) own. */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void> | void, timeout?: number): void;
  expect(value: unknown): Matchers;
  beforeEach(fn: () => Promise<void> | void): void;
  afterEach(fn: () => Promise<void> | void): void;
}

/** How the suite gets stores of the adapter under test. */
export interface StoreHarness {
  /** Shown in test names. */
  name: string;
  /** A new, empty store. Each test gets its own. */
  create(): Promise<AuditStore>;
  /**
   * Closes `store` and opens the same location again: for persistent stores, so the suite can
   * check that what was written survives a restart. Omit for in-memory stores.
   */
  reopen?(store: AuditStore): Promise<AuditStore>;
  /**
   * Reads what was really persisted, bypassing the adapter's query path (raw SQL, the files
   * themselves), in any order. Lets the suite check writes independently of reads.
   */
  readRaw?(store: AuditStore): Promise<AuditEvent[]>;
  /** Called after each test, after the store was closed. */
  cleanup?(): Promise<void>;
}

/** Per-test state: the store and a cleanup list. */
export interface Fixture {
  store: AuditStore;
}

/**
 * Sets up `beforeEach` / `afterEach` so each test of a sub-suite gets a fresh store from the
 * harness, closed (and cleaned up) afterwards.
 */
export function useStore(t: TestApi, harness: StoreHarness): Fixture {
  const fixture = {} as Fixture;
  t.beforeEach(async () => {
    fixture.store = await harness.create();
  });
  t.afterEach(async () => {
    await fixture.store?.close();
    await harness.cleanup?.();
  });
  return fixture;
}
