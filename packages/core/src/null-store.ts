import { AuditClosedError } from "./errors.js";
import type { AuditEvent } from "./event.js";
import { resolveFilter, resolvePrune } from "./filter.js";
import type { AuditFilter, AuditStore, PruneOptions, StoreCapabilities } from "./store.js";
import { assertValidBatch } from "./validate.js";

/**
 * A store that keeps nothing, for turning the trail off without changing code (`AUDIT_STORE=null:`).
 * It still validates what it is given, so a program that works against it works against a real store.
 */
export class NullStore implements AuditStore {
  readonly id = "null";
  readonly capabilities: StoreCapabilities = {
    persistent: false,
    multiProcess: true,
    subscribe: false,
  };
  #closed = false;

  #check(): void {
    if (this.#closed) throw new AuditClosedError("[null] the store is closed");
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.#check();
    assertValidBatch(events);
  }

  async query(filter?: AuditFilter): Promise<AuditEvent[]> {
    this.#check();
    resolveFilter(filter);
    return [];
  }

  async *stream(filter?: AuditFilter): AsyncIterable<AuditEvent> {
    this.#check();
    resolveFilter(filter);
    yield* [];
  }

  async get(_id: string): Promise<AuditEvent | undefined> {
    this.#check();
    return undefined;
  }

  async count(filter?: AuditFilter): Promise<number> {
    this.#check();
    resolveFilter(filter);
    return 0;
  }

  async prune(options: PruneOptions): Promise<number> {
    this.#check();
    resolvePrune(options);
    return 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
