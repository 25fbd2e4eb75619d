import { AuditClosedError } from "./errors.js";
import type { AuditEvent } from "./event.js";
import {
  compareEvents,
  cursorNotFound,
  eventMatches,
  type ResolvedFilter,
  resolveFilter,
  resolvePrune,
} from "./filter.js";
import type { AuditFilter, AuditStore, PruneOptions, StoreCapabilities } from "./store.js";
import { assertValidBatch } from "./validate.js";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most events kept; past it the oldest are evicted (and counted in `evicted`). A memory store
   * is for tests and development: it must not grow without bound inside a long-lived agent.
   * @default 100000
   */
  maxEvents?: number;
}

/**
 * A bounded in-process store. Events are copied in and out as JSON, so it behaves like a real
 * store: what you read back is what was persisted, and mutating a returned event changes nothing.
 */
export class MemoryStore implements AuditStore {
  readonly id = "memory";
  readonly capabilities: StoreCapabilities = {
    persistent: false,
    multiProcess: false,
    subscribe: true,
  };
  /** How many events were evicted because `maxEvents` was reached. */
  evicted = 0;

  readonly #maxEvents: number;
  // Sorted by (time, id); appends in time order land at the end, so inserts are cheap.
  #events: AuditEvent[] = [];
  #byId = new Map<string, AuditEvent>();
  #subscribers = new Set<{ filter: ResolvedFilter; onEvent: (e: AuditEvent) => void }>();
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxEvents = options.maxEvents ?? 100_000;
  }

  #check(): void {
    if (this.#closed) throw new AuditClosedError("[memory] the store is closed");
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.#check();
    assertValidBatch(events);
    const added: AuditEvent[] = [];
    for (const event of events) {
      if (this.#byId.has(event.id)) continue;
      const copy = JSON.parse(JSON.stringify(event)) as AuditEvent;
      this.#insert(copy);
      this.#byId.set(copy.id, copy);
      added.push(copy);
    }
    while (this.#events.length > this.#maxEvents) {
      const oldest = this.#events.shift()!;
      this.#byId.delete(oldest.id);
      this.evicted++;
    }
    for (const e of added) this.#notify(e);
  }

  #insert(event: AuditEvent): void {
    const list = this.#events;
    const last = list[list.length - 1];
    if (last === undefined || compareEvents(last, event) < 0) {
      list.push(event);
      return;
    }
    list.splice(this.#lowerBound(event), 0, event);
  }

  // The index of the first stored event not before `key`.
  #lowerBound(key: Pick<AuditEvent, "time" | "id">): number {
    let lo = 0;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEvents(this.#events[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #notify(event: AuditEvent): void {
    for (const sub of this.#subscribers) {
      if (!eventMatches(sub.filter, event)) continue;
      try {
        sub.onEvent(structuredClone(event));
      } catch {
        // A subscriber's exception must not break the writer.
      }
    }
  }

  *#matches(filter: ResolvedFilter): Generator<AuditEvent> {
    const list = this.#events;
    let start: number;
    if (filter.after !== undefined) {
      const cursor = this.#byId.get(filter.after);
      if (!cursor) throw cursorNotFound(filter.after);
      start = this.#lowerBound(cursor);
      if (filter.order === "asc") start++;
      else start--;
    } else {
      start = filter.order === "asc" ? 0 : list.length - 1;
    }
    const step = filter.order === "asc" ? 1 : -1;
    let found = 0;
    for (let i = start; i >= 0 && i < list.length; i += step) {
      if (filter.limit !== undefined && found >= filter.limit) return;
      const e = list[i]!;
      if (!eventMatches(filter, e)) continue;
      found++;
      yield e;
    }
  }

  async query(filter?: AuditFilter): Promise<AuditEvent[]> {
    this.#check();
    const resolved = resolveFilter(filter);
    return Array.from(this.#matches(resolved), (e) => structuredClone(e));
  }

  async *stream(filter?: AuditFilter): AsyncIterable<AuditEvent> {
    this.#check();
    const resolved = resolveFilter(filter);
    // Page by keyset so events appended while the caller iterates neither repeat nor shift pages.
    let cursor: AuditEvent | undefined;
    let remaining = resolved.limit;
    while (remaining === undefined || remaining > 0) {
      const page: AuditEvent[] = [];
      const pageFilter: ResolvedFilter = { ...resolved, limit: Math.min(500, remaining ?? 500) };
      if (cursor) pageFilter.after = cursor.id;
      for (const e of this.#matches(pageFilter)) page.push(structuredClone(e));
      for (const e of page) yield e;
      if (page.length < pageFilter.limit!) return;
      cursor = page[page.length - 1];
      if (remaining !== undefined) remaining -= page.length;
      this.#check();
    }
  }

  async get(id: string): Promise<AuditEvent | undefined> {
    this.#check();
    const e = this.#byId.get(id);
    return e ? structuredClone(e) : undefined;
  }

  async count(filter?: AuditFilter): Promise<number> {
    this.#check();
    let n = 0;
    for (const _ of this.#matches(resolveFilter(filter))) n++;
    return n;
  }

  async prune(options: PruneOptions): Promise<number> {
    this.#check();
    const { before, keep } = resolvePrune(options);
    const list = this.#events;
    let cut = 0;
    if (before !== undefined) cut = this.#lowerBound({ time: before, id: "" });
    if (keep !== undefined) cut = Math.max(cut, list.length - keep);
    const removed = list.splice(0, cut);
    for (const e of removed) this.#byId.delete(e.id);
    return removed.length;
  }

  subscribe(filter: AuditFilter, onEvent: (event: AuditEvent) => void): () => void {
    this.#check();
    const sub = { filter: resolveFilter(filter), onEvent };
    this.#subscribers.add(sub);
    return () => {
      this.#subscribers.delete(sub);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
  }
}
