import type { RetryOptions } from "../durable/store-writer.js";
import type { AuditError } from "../errors.js";
import { AuditConfigError } from "../errors.js";
import type { AuditExporter } from "../exporters/exporter.js";
import type { IntegrityOptions } from "../integrity.js";
import type { NormalizeOptions } from "../normalize.js";
import type { BatchOptions } from "../pipeline/batch-queue.js";
import type { EventProcessor } from "../pipeline/processors.js";
import type { TraceContextProvider } from "../pipeline/stamp.js";
import type { PrivacyOptions } from "../privacy.js";
import type { AuditStore } from "../store.js";

/** Options of {@link createAuditor}. */
export interface AuditorOptions {
  /**
   * Where the trail goes: a store, or a URL such as `"sqlite:./audit.db"`.
   * @default process.env.AUDIT_STORE
   */
  store?: AuditStore | string;
  /**
   * Sinks that receive every batch besides the store, or a comma-separated list of names
   * (`"console,otel"`). A failing exporter never blocks the store or the others.
   * @default process.env.AUDIT_EXPORTERS
   */
  exporters?: readonly AuditExporter[] | string;
  /** The default `actor` of events that name none. */
  actor?: string;
  /** Group-commit batching. */
  batch?: BatchOptions;
  /**
   * What `record` does when `batch.maxQueue` events are already waiting:
   * `"block"` writes the queue synchronously to the spool (the agent waits for the disk, memory
   * stays bounded, nothing is lost); `"drop"` drops the new event and counts it; `"throw"` throws
   * `AuditOverflowError`.
   * @default "block"
   */
  onOverflow?: "block" | "drop" | "throw";
  /**
   * `"strict"`: `commit(event)` and `flush()` resolve only when events are in the store and reject
   * otherwise (fail-closed). `"relaxed"`: they resolve once events are in the store or the spool.
   * @default "relaxed"
   */
  durability?: "relaxed" | "strict";
  /** Retries of a failing store write. */
  retry?: RetryOptions;
  /**
   * How long one store `append` may take before it counts as failed (and is retried, then spooled).
   * @default 5000
   */
  appendTimeoutMs?: number;
  /**
   * The bound of `close()`: it settles within this time whatever the store and the exporters do;
   * what could not be written by then is in the spool (or, without a spool, reported lost).
   * @default 30000
   */
  closeTimeoutMs?: number;
  /**
   * Directory of the local JSONL spool that holds events while the store is down; `false` turns
   * spooling off (a batch the store refuses after all retries is then lost and reported).
   * @default "./.audit-spool"
   */
  spool?: string | false;
  /**
   * The most bytes the spool may hold; past it new events are reported lost instead of filling
   * the disk.
   * @default 536870912 (512 MiB)
   */
  spoolMaxBytes?: number;
  /** Your own steps applied to each event in `record()`, before privacy and the chain. */
  processors?: readonly EventProcessor[];
  /**
   * Privacy of payloads: modes, secret scrubbing, size caps, model-content capture. `false` turns
   * all of it off (secrets then reach the store).
   * @default { mode: "full" } — secrets scrubbed, model content not kept
   */
  privacy?: PrivacyOptions | false;
  /**
   * Tamper evidence: the per-auditor hash chain and checkpoints. `false` turns it off.
   * @default {} — a SHA-256 chain with a checkpoint every 1000 events, when idle, and on close
   */
  integrity?: IntegrityOptions | false;
  /** Limits of payload normalisation. */
  normalize?: NormalizeOptions;
  /**
   * Gives the active trace context so events recorded inside a span carry its trace id, and a run
   * started inside one records that span as its `parentSpanId`. `@audit/otel` provides one
   * (`otelTraceContext`).
   */
  traceContext?: TraceContextProvider;
  /**
   * How long one exporter call may take before it counts as timed out; also the most that
   * `flush()` waits for exporters.
   * @default 30000
   */
  exportTimeoutMs?: number;
  /**
   * Receives every failure the agent is shielded from: store retries exhausted, exporter errors,
   * dropped events, unreadable spool lines, quarantined events.
   * @default logs the first of each kind to stderr
   */
  onError?: (error: AuditError) => void;
}

/** Options of the `Auditor` constructor: like {@link AuditorOptions}, with instances only. */
export type AuditorInit = Omit<AuditorOptions, "store" | "exporters"> & {
  /** The store events are written to. */
  store: AuditStore;
  /** Sinks that receive every batch besides the store. */
  exporters?: readonly AuditExporter[];
};

/** The numeric settings, checked and with defaults applied. */
export interface ResolvedSettings {
  durability: "relaxed" | "strict";
  onOverflow: "block" | "drop" | "throw";
  batch: Required<BatchOptions>;
  retry: Required<RetryOptions>;
  appendTimeoutMs: number;
  closeTimeoutMs: number;
  exportTimeoutMs: number;
  spool: string | false;
  spoolMaxBytes: number;
}

/** Checks the options and applies the documented defaults. @throws {AuditConfigError} */
export function resolveSettings(options: AuditorInit): ResolvedSettings {
  const durability = options.durability ?? "relaxed";
  if (durability !== "relaxed" && durability !== "strict") {
    throw new AuditConfigError(`durability must be "relaxed" or "strict"`);
  }
  const onOverflow = options.onOverflow ?? "block";
  if (!["block", "drop", "throw"].includes(onOverflow)) {
    throw new AuditConfigError(`onOverflow must be "block", "drop" or "throw"`);
  }
  const spool = options.spool === undefined ? "./.audit-spool" : options.spool;
  if (spool !== false && (typeof spool !== "string" || spool.length === 0)) {
    throw new AuditConfigError("spool must be a directory path or false");
  }
  return {
    durability,
    onOverflow,
    batch: {
      maxEvents: positiveInt(options.batch?.maxEvents ?? 512, "batch.maxEvents"),
      maxDelayMs: nonNegative(options.batch?.maxDelayMs ?? 50, "batch.maxDelayMs"),
      maxQueue: positiveInt(options.batch?.maxQueue ?? 10_000, "batch.maxQueue"),
    },
    retry: {
      attempts: positiveInt(options.retry?.attempts ?? 4, "retry.attempts"),
      initialDelayMs: nonNegative(options.retry?.initialDelayMs ?? 50, "retry.initialDelayMs"),
      maxDelayMs: nonNegative(options.retry?.maxDelayMs ?? 5000, "retry.maxDelayMs"),
    },
    appendTimeoutMs: positive(options.appendTimeoutMs ?? 5000, "appendTimeoutMs"),
    closeTimeoutMs: positive(options.closeTimeoutMs ?? 30_000, "closeTimeoutMs"),
    exportTimeoutMs: positive(options.exportTimeoutMs ?? 30_000, "exportTimeoutMs"),
    spool,
    spoolMaxBytes: positiveInt(options.spoolMaxBytes ?? 512 * 1024 * 1024, "spoolMaxBytes"),
  };
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new AuditConfigError(`${name} must be a whole number ≥ 1, got ${value}`);
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new AuditConfigError(`${name} must be a number ≥ 0, got ${value}`);
  }
  return value;
}

function positive(value: number, name: string): number {
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
    throw new AuditConfigError(`${name} must be a number > 0, got ${value}`);
  }
  return value;
}

/** The default `onError`: each kind of failure once, as a process warning. */
export function defaultOnError(): (error: AuditError) => void {
  const seen = new Set<string>();
  return (error) => {
    const key = `${error.name}:${error.message.slice(0, 80)}`;
    if (seen.has(key)) return;
    seen.add(key);
    process.emitWarning(error.message, { code: error.code, detail: String(error.cause ?? "") });
  };
}
