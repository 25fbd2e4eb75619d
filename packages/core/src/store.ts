import type { AuditEvent, Risk } from "./event.js";

/** What a store can do beyond the contract every store meets. Core adapts around what is missing. */
export interface StoreCapabilities {
  /** Events survive `close()` and a new process opening the same location. */
  persistent: boolean;
  /** Several processes may write the same location at once. */
  multiProcess: boolean;
  /** `subscribe` is implemented (live tail); otherwise callers poll. */
  subscribe: boolean;
}

/**
 * Which events to read. Every condition must hold. Results are ordered by `(time, id)`; `after`
 * continues from an event id (a keyset cursor), so pages never skip or repeat events even when
 * thousands share one timestamp.
 */
export interface AuditFilter {
  /** Exact type, a prefix pattern like `"tool.*"`, or a list of either. */
  type?: string | string[];
  /** Only events of this actor. */
  actor?: string;
  /** Only events of this session. */
  sessionId?: string;
  /** Only events of this run. */
  runId?: string;
  /** Only events whose payload has this `approvalId`. */
  approvalId?: string;
  /** This risk level and above. */
  risk?: Risk;
  /** Events at or after this time (inclusive). Also `"1h"`, `"7d"`, `"30m"` relative to now. */
  since?: Date | string;
  /** Events before this time (exclusive). Also relative, like `since`. */
  until?: Date | string;
  /** Top-level payload equality: `{ tool: "search" }`. */
  data?: Record<string, string | number | boolean>;
  /**
   * Order by `(time, id)`.
   * @default "asc"
   */
  order?: "asc" | "desc";
  /** At most this many events; applied after every other condition. */
  limit?: number;
  /** Keyset cursor: continue after the event with this id, in the filter's order. */
  after?: string;
}

/** Options of {@link AuditStore.prune}. */
export interface PruneOptions {
  /** Delete events older than this (`Date`, ISO string, or `"30d"`). */
  before?: Date | string;
  /** Keep only this many newest events. */
  keep?: number;
}

/**
 * An indexed column a store can report in {@link StoredRow.columns}, named after what it copies
 * from the event: `id`, `time`, `type`, `actor`, `sessionId`, `runId`, `spanId`, `parentSpanId`,
 * `traceId` (the envelope field, or null when absent); `approvalId` (`data.approvalId` when it is a
 * string, else null); `risk` (the level's name) or `riskLevel` (its index in `RISK_LEVELS`, 0 = low);
 * `chainId` and `chainSeq` (`chain.id`, `chain.seq`).
 */
export type IndexedColumn =
  | "id"
  | "time"
  | "type"
  | "actor"
  | "sessionId"
  | "runId"
  | "spanId"
  | "parentSpanId"
  | "traceId"
  | "approvalId"
  | "risk"
  | "riskLevel"
  | "chainId"
  | "chainSeq";

/** One stored event as the store really holds it: what `verifyChain` checks a reader can rely on. */
export interface StoredRow {
  /** Where the row is, for findings: `"row 17"`, `"audit-2026-11-30.jsonl line 42"`. */
  location: string;
  /**
   * The event's stored text exactly as kept (a SQL body, a JSONL line). Bytes when the store can
   * give them, so that text that is not valid UTF-8 is seen rather than silently repaired.
   */
  text: string | Uint8Array;
  /**
   * The row's indexed columns (what filters such as `--risk high` read), as stored: every one must
   * equal what the body says. Absent for stores without columns (files).
   */
  columns?: Partial<Record<IndexedColumn, string | number | null>>;
}

/** One group of {@link TrailStats}: how many events, and the first and last time among them. */
export interface StatsGroup {
  count: number;
  first: string;
  last: string;
}

/**
 * Counts of a trail's events (those matching a filter) by type, actor and risk. Events without an
 * actor or a risk count under `"(none)"`.
 */
export interface TrailStats {
  total: number;
  /** Time of the oldest counted event; absent when none matched. */
  first?: string;
  /** Time of the newest counted event. */
  last?: string;
  byType: Record<string, StatsGroup>;
  byActor: Record<string, StatsGroup>;
  byRisk: Record<string, StatsGroup>;
}

/** What a store says about itself, with no secret in it: for `audit doctor` and error messages. */
export interface StoreDescription {
  /** The backend, as {@link AuditStore.id}. */
  id: string;
  /** Where the trail is: a path, `host:port/database schema s`; never a password. */
  location: string;
  /** Whether the store was opened read-only. */
  readOnly: boolean;
  capabilities: StoreCapabilities;
}

/** The last link a retention step deleted from one chain. */
export interface PrunedChainHead {
  chainId: string;
  seq: number;
  hash: string;
}

/**
 * Where the trail lives. Every store passes `@audit/test-suite`. Stores are thin translations of
 * this contract into one backend's idiom; batching, retries and spooling happen in the auditor.
 */
export interface AuditStore {
  /** Short name of the backend: `"memory"`, `"sqlite"`, `"postgres"`, … */
  readonly id: string;
  /** What this store can do. */
  readonly capabilities: StoreCapabilities;
  /** Writes a batch in one atomic write. Idempotent on event id: an id already stored is skipped, never overwritten. */
  append(events: readonly AuditEvent[]): Promise<void>;
  /** Matching events, ordered by `(time, id)`. */
  query(filter?: AuditFilter): Promise<AuditEvent[]>;
  /** Every matching event exactly once, in order, in constant memory. */
  stream(filter?: AuditFilter): AsyncIterable<AuditEvent>;
  /** One event by id. */
  get(id: string): Promise<AuditEvent | undefined>;
  /** How many events match (`limit` and `after` are honoured). */
  count(filter?: AuditFilter): Promise<number>;
  /** Deletes old events; returns how many were deleted. */
  prune(options: PruneOptions): Promise<number>;
  /**
   * Every stored row, unparsed, for verification: each row exactly once (unreadable ones too), in
   * the order the store's reads return events, `(time, id)` ascending as the store sorts them
   * (files: each file's lines merged as `stream` merges them). Optional: when a store has it,
   * `verifyChain` reads the trail through it and also checks that stored text is strict JSON,
   * that every indexed column equals the body, and that the stored order is the trail's order.
   * Constant memory.
   */
  storedRows?(): AsyncIterable<StoredRow>;
  /** Calls `onEvent` for each new matching event; returns the unsubscribe function. */
  subscribe?(filter: AuditFilter, onEvent: (event: AuditEvent) => void): () => void;
  /**
   * Counts by type, actor and risk without reading every event (SQL stores: `GROUP BY`). Optional:
   * `trailStats` in `@audit/core/store-kit` streams for stores without it. `limit` and `after`
   * are not part of a stats filter.
   */
  stats?(filter?: AuditFilter): Promise<TrailStats>;
  /** What and where the store is, without secrets. Optional. */
  describe?(): StoreDescription;
  /** Releases what the store opened. Idempotent. */
  close(): Promise<void>;
  /**
   * The listener is called after each deletion — `prune`, or a store's own size cap such as
   * SQLite's `maxEvents` — with the last deleted link of every chain that lost events, read in the
   * same pass as the deletion, so the auditor can write the prune checkpoints that keep the rest
   * verifiable even while other processes write. Offered by SQLite and JSONL.
   * Returns the function that removes the listener.
   */
  onRetention?(listener: (heads: readonly PrunedChainHead[]) => void): () => void;
}
