import { resolve as resolvePath } from "node:path";
import { Approvals } from "./approvals.js";
import {
  AuditClosedError,
  AuditConfigError,
  AuditError,
  AuditOverflowError,
  AuditValidationError,
  StoreError,
} from "./errors.js";
import { type AuditEvent, type EventInput, isRisk, isValidEventType } from "./event.js";
import type { AuditExporter } from "./exporter.js";
import { ExporterLanes } from "./exporter-lanes.js";
import { resolvePrune } from "./filter.js";
import { uuidv7WithTime } from "./ids.js";
import { ChainSealer, type IntegrityOptions } from "./integrity.js";
import { type NormalizeOptions, normalizePayload } from "./normalize.js";
import { PrivacyFilter, type PrivacyOptions } from "./privacy.js";
import { exportersFromEnv, openStore } from "./registry.js";
import { AuditRun, type RunOptions } from "./run.js";
import { Spool } from "./spool.js";
import type { AuditStore, PruneOptions } from "./store.js";
import { isEventTime } from "./validate.js";

/**
 * A step every event passes through in `record()`, after it is stamped and normalised. Privacy and
 * the hash chain come later, when the event leaves the queue, so they see what processors produced
 * and the chain covers exactly what is stored. A processor must be synchronous and must not throw;
 * if it does, the event's payload is replaced by an error marker rather than stored unprocessed.
 */
export interface EventProcessor {
  /** Name used in error reports. */
  readonly name: string;
  /** Returns the event to store (the same object, changed, or a new one). */
  process(event: AuditEvent): AuditEvent;
}

/** Batching of writes to the store (group commit). */
export interface BatchOptions {
  /**
   * The most events written in one store call.
   * @default 512
   */
  maxEvents?: number;
  /**
   * How long a recorded event may wait for companions before it is written.
   * @default 50
   */
  maxDelayMs?: number;
  /**
   * The most events held in memory waiting for the store; past it `onOverflow` applies.
   * @default 10000
   */
  maxQueue?: number;
}

/** How writes to a failing store are retried before the batch goes to the spool. */
export interface RetryOptions {
  /**
   * Attempts per batch, the first included.
   * @default 4
   */
  attempts?: number;
  /**
   * Delay before the first retry; doubled each time, with jitter.
   * @default 50
   */
  initialDelayMs?: number;
  /**
   * The longest delay between retries, and between probes of a store that is down.
   * @default 5000
   */
  maxDelayMs?: number;
}

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
   * {@link AuditOverflowError}.
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
   * Directory of the local JSONL spool that holds events while the store is down; `false` turns
   * spooling off (a batch the store refuses after all retries is then lost and reported).
   * @default "./.audit-spool"
   */
  spool?: string | false;
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
  traceContext?: () => { traceId?: string; spanId?: string } | undefined;
  /**
   * How long one exporter call may take before it counts as failed.
   * @default 30000
   */
  exportTimeoutMs?: number;
  /**
   * Receives every failure the agent is shielded from: store retries exhausted, exporter errors,
   * dropped events, unreadable spool lines.
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

/** Counters of what the auditor did, for health checks. */
export interface AuditorStats {
  /** Events accepted by `record`. */
  recorded: number;
  /** Events written to the store (replays included). */
  stored: number;
  /** Events written to the spool. */
  spooled: number;
  /** Events replayed from the spool into the store. */
  replayed: number;
  /** Events dropped by `onOverflow: "drop"`. */
  dropped: number;
  /** Events lost because neither the store nor the spool took them. */
  lost: number;
  /** Events an exporter did not get because its lane was full. */
  exportDropped: number;
  /** Exporter calls that failed. */
  exportFailed: number;
  /** Events waiting in memory. */
  queued: number;
  /** False while the store is failing and batches go to the spool. */
  storeHealthy: boolean;
}

/** What one `flush` achieved. */
export interface FlushResult {
  /** Events recorded before the flush that are now in the spool rather than the store. */
  spooled: number;
}

interface Deferred {
  resolve: () => void;
  reject: (err: Error) => void;
}

type Outcome = "stored" | "spooled" | "lost";

const live = new Set<Auditor>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // On process.exit() no more I/O can be awaited: whatever is still in memory goes to the spool
  // synchronously, to be replayed by the next auditor that opens it.
  process.on("exit", () => {
    for (const a of live) a.spillOnExit();
  });
}

function defaultOnError(): (error: AuditError) => void {
  const seen = new Set<string>();
  return (error) => {
    const key = `${error.name}:${error.message.slice(0, 80)}`;
    if (seen.has(key)) return;
    seen.add(key);
    process.emitWarning(error.message, { code: error.code, detail: String(error.cause ?? "") });
  };
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * The front door: records events, batches them into the store, fans them out to exporters, and
 * never loses one it acknowledged. Create it with {@link createAuditor}.
 */
export class Auditor {
  /** The store events are written to. */
  readonly store: AuditStore;
  /** Human approvals on top of the store. */
  readonly approvals: Approvals;
  /** `"relaxed"` or `"strict"`. */
  readonly durability: "relaxed" | "strict";

  readonly #ownsStore: boolean;
  readonly #ownsExporters: boolean;
  readonly #lanes: ExporterLanes;
  readonly #spool: Spool | undefined;
  readonly #processors: readonly EventProcessor[];
  readonly #privacy: PrivacyFilter | undefined;
  readonly #sealer: ChainSealer | undefined;
  readonly #witness: ExporterLanes | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #normalize: NormalizeOptions | undefined;
  readonly #traceContext: AuditorOptions["traceContext"];
  readonly #actor: string | undefined;
  readonly #maxEvents: number;
  readonly #maxDelayMs: number;
  readonly #maxQueue: number;
  readonly #onOverflow: "block" | "drop" | "throw";
  readonly #retry: Required<RetryOptions>;
  readonly #onError: (error: AuditError) => void;

  #queue: AuditEvent[] = [];
  // Events are numbered in the order they were recorded; the queue holds a contiguous range.
  #recordedSeq = 0;
  #queueHeadSeq = 0;
  #inflight: { batch: AuditEvent[]; start: number; end: number } | undefined;
  #writing = false;
  #timer: NodeJS.Timeout | undefined;
  #immediate = false;
  #commitWaiters = new Map<AuditEvent, Deferred[]>();
  // Events that went through privacy and sealing (possibly ahead of their batch).
  #prepared = new WeakSet<AuditEvent>();
  #checkpointsAfter = new Map<AuditEvent, AuditEvent>();
  #flushWaiters: { target: number; resolve: () => void }[] = [];
  #spooledEvents = new WeakSet<AuditEvent>();
  #droppedEvents = new WeakSet<AuditEvent>();
  // Ranges [start, end) of event numbers that went to the spool and are not yet known replayed.
  #spooledRanges: [number, number][] = [];
  #healthy = true;
  #probeTimer: NodeJS.Timeout | undefined;
  #probeDelay: number;
  #replaying: Promise<boolean> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  #stats = { recorded: 0, stored: 0, spooled: 0, replayed: 0, dropped: 0, lost: 0 };

  /** Prefer {@link createAuditor}, which also opens stores and exporters from URLs and names. */
  constructor(options: AuditorInit, ownership: { store?: boolean; exporters?: boolean } = {}) {
    this.store = options.store;
    this.#ownsStore = ownership.store ?? false;
    this.#ownsExporters = ownership.exporters ?? false;
    this.durability = options.durability ?? "relaxed";
    if (this.durability !== "relaxed" && this.durability !== "strict") {
      throw new AuditConfigError(`[audit] durability must be "relaxed" or "strict"`);
    }
    this.#onOverflow = options.onOverflow ?? "block";
    if (!["block", "drop", "throw"].includes(this.#onOverflow)) {
      throw new AuditConfigError(`[audit] onOverflow must be "block", "drop" or "throw"`);
    }
    this.#maxEvents = positiveInt(options.batch?.maxEvents ?? 512, "batch.maxEvents");
    this.#maxDelayMs = nonNegative(options.batch?.maxDelayMs ?? 50, "batch.maxDelayMs");
    this.#maxQueue = positiveInt(options.batch?.maxQueue ?? 10_000, "batch.maxQueue");
    this.#retry = {
      attempts: positiveInt(options.retry?.attempts ?? 4, "retry.attempts"),
      initialDelayMs: nonNegative(options.retry?.initialDelayMs ?? 50, "retry.initialDelayMs"),
      maxDelayMs: nonNegative(options.retry?.maxDelayMs ?? 5000, "retry.maxDelayMs"),
    };
    this.#probeDelay = this.#retry.initialDelayMs;
    this.#onError = options.onError ?? defaultOnError();
    const spoolDir = options.spool === undefined ? "./.audit-spool" : options.spool;
    if (spoolDir !== false && (typeof spoolDir !== "string" || spoolDir.length === 0)) {
      throw new AuditConfigError("[audit] spool must be a directory path or false");
    }
    this.#spool = spoolDir === false ? undefined : new Spool(resolvePath(spoolDir));
    this.#processors = options.processors ?? [];
    this.#privacy =
      options.privacy === false ? undefined : new PrivacyFilter(options.privacy ?? {});
    this.#sealer =
      options.integrity === false ? undefined : new ChainSealer(options.integrity ?? {});
    this.#normalize = options.normalize;
    this.#traceContext = options.traceContext;
    this.#actor = options.actor;
    this.#lanes = new ExporterLanes(options.exporters ?? [], {
      maxPending: this.#maxQueue,
      timeoutMs: options.exportTimeoutMs ?? 30_000,
      report: (e) => this.#report(e),
    });
    this.#witness = this.#sealer?.witness
      ? new ExporterLanes([this.#sealer.witness], {
          maxPending: this.#maxQueue,
          timeoutMs: options.exportTimeoutMs ?? 30_000,
          report: (e) => this.#report(e),
        })
      : undefined;
    this.approvals = new Approvals(this);
    live.add(this);
    installExitHook();
    // Events a crashed process left in the spool are replayed as soon as the store answers.
    if (this.#spool?.hasPending()) void this.replaySpool();
  }

  /**
   * Stamps an event (id, time, actor, trace context), normalises its payload, runs the processors
   * and queues it. Synchronous and cheap; returns the event as it will be stored.
   * @throws {AuditValidationError} for a malformed type or risk; {@link AuditClosedError} after close;
   *   {@link AuditOverflowError} when the queue is full and `onOverflow` is `"throw"`.
   */
  record<T extends string>(input: EventInput<T>): AuditEvent {
    if (this.#closing) throw new AuditClosedError("[audit] record() after close()");
    const event = this.#stamp(input);
    this.#enqueue(event);
    return event;
  }

  #stamp(input: EventInput): AuditEvent {
    if (input === null || typeof input !== "object") {
      throw new AuditValidationError("[audit] record() expects an object like { type, data }");
    }
    if (!isValidEventType(input.type)) {
      throw new AuditValidationError(
        `[audit] event type ${JSON.stringify(input.type)} must be dotted lowercase, e.g. "tool.start" or "billing.refund"`,
      );
    }
    if (input.risk !== undefined && !isRisk(input.risk)) {
      throw new AuditValidationError(`[audit] risk must be low, medium, high or critical`);
    }
    let id: string;
    let time: string;
    if (input.id === undefined && input.time === undefined) {
      const t = uuidv7WithTime();
      id = t.id;
      time = new Date(t.ms).toISOString();
    } else {
      id = input.id ?? uuidv7WithTime().id;
      if (typeof id !== "string" || id.length === 0 || id.length > 200) {
        throw new AuditValidationError("[audit] event id must be a non-empty string");
      }
      time = input.time === undefined ? new Date().toISOString() : toEventTime(input.time);
    }
    const event: AuditEvent = {
      id,
      type: input.type,
      time,
      data: normalizePayload(input.data, this.#normalize),
    };
    const actor = input.actor ?? this.#actor;
    if (actor !== undefined) event.actor = String(actor);
    if (input.sessionId !== undefined) event.sessionId = String(input.sessionId);
    if (input.runId !== undefined) event.runId = String(input.runId);
    if (input.spanId !== undefined) event.spanId = String(input.spanId);
    if (input.parentSpanId !== undefined) event.parentSpanId = String(input.parentSpanId);
    let traceId = input.traceId;
    if (traceId === undefined && this.#traceContext) {
      let active: { traceId?: string; spanId?: string } | undefined;
      try {
        active = this.#traceContext();
      } catch {
        active = undefined;
      }
      traceId = active?.traceId;
      // A run (or a lone event) recorded inside an active span happens inside that span.
      const opensOperation = input.runId === undefined || input.type === "run.start";
      if (active?.spanId !== undefined && input.parentSpanId === undefined && opensOperation) {
        event.parentSpanId = String(active.spanId);
      }
    }
    if (traceId !== undefined) event.traceId = String(traceId);
    if (input.risk !== undefined) event.risk = input.risk;
    return this.#process(event);
  }

  #process(event: AuditEvent): AuditEvent {
    let current = event;
    for (const p of this.#processors) {
      try {
        current = p.process(current);
      } catch (err) {
        // Storing the unprocessed payload could leak what a privacy step was meant to remove.
        current = {
          ...current,
          data: { $processorError: `${p.name}: ${String((err as Error)?.message ?? err)}` },
        };
        this.#report(
          new AuditError(`[audit] processor ${p.name} failed on ${event.type}`, { cause: err }),
        );
      }
    }
    return current;
  }

  #enqueue(event: AuditEvent): void {
    if (this.#queue.length >= this.#maxQueue) {
      if (this.#onOverflow === "throw" || (this.#onOverflow === "block" && !this.#spool)) {
        throw new AuditOverflowError(
          `[audit] queue full (${this.#maxQueue} events waiting for the store); ${this.#spool ? 'raise batch.maxQueue or use onOverflow "block"' : 'onOverflow "block" needs a spool to block on'}`,
        );
      }
      if (this.#onOverflow === "drop") {
        this.#stats.dropped++;
        this.#droppedEvents.add(event);
        if (this.#stats.dropped === 1) {
          this.#report(
            new AuditOverflowError(
              `[audit] queue full: dropping events (onOverflow "drop"); the count is in stats().dropped`,
            ),
          );
        }
        return;
      }
      this.#spillQueue();
    }
    this.#stats.recorded++;
    this.#recordedSeq++;
    this.#queue.push(event);
    if (this.#queue.length >= this.#maxEvents) this.#kickSoon();
    else this.#armTimer();
  }

  // onOverflow "block": the agent waits for a synchronous, fsynced write of the queue to the spool.
  #spillQueue(): void {
    const recorded = this.#queue;
    this.#queue = [];
    const start = this.#queueHeadSeq;
    this.#queueHeadSeq += recorded.length;
    const batch = this.#seal(recorded);
    this.#lanes.dispatch(batch);
    const outcome = this.#toSpool(batch, start, recorded.length);
    this.#settle(batch, outcome);
    this.#scheduleProbe();
  }

  #armTimer(): void {
    if (this.#timer || this.#immediate || this.#writing) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, this.#maxDelayMs);
  }

  #kickSoon(): void {
    if (this.#immediate || this.#writing) return;
    this.#immediate = true;
    // Deferred so a store that works synchronously (SQLite) never runs inside record().
    setImmediate(() => {
      this.#immediate = false;
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#writing || this.#queue.length === 0) {
      this.#resolveFlushWaiters();
      return;
    }
    this.#writing = true;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      // Group commit: while one batch is being written, the next one gathers in the queue.
      while (this.#queue.length > 0) {
        const recorded =
          this.#queue.length <= this.#maxEvents
            ? this.#queue
            : this.#queue.slice(0, this.#maxEvents);
        if (recorded === this.#queue) this.#queue = [];
        else this.#queue.splice(0, this.#maxEvents);
        const start = this.#queueHeadSeq;
        this.#queueHeadSeq += recorded.length;
        const batch = this.#seal(recorded);
        this.#inflight = { batch, start, end: this.#queueHeadSeq };
        this.#lanes.dispatch(batch);
        const persisting = this.#persist(batch, start, recorded.length);
        this.#sealAhead();
        const outcome = await persisting;
        this.#inflight = undefined;
        this.#settle(batch, outcome);
        this.#resolveFlushWaiters();
      }
    } finally {
      this.#writing = false;
      this.#resolveFlushWaiters();
    }
  }

  /**
   * Seals events into the chain as they leave the queue — off the agent's path, in recorded order —
   * and adds a checkpoint after every `checkpointEvery` events. Returns the batch to write.
   */
  #seal(recorded: AuditEvent[]): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (const e of recorded) {
      this.#sealOne(e);
      out.push(e);
      const checkpoint = this.#checkpointsAfter.get(e);
      if (checkpoint) {
        out.push(checkpoint);
        this.#checkpointsAfter.delete(e);
      }
    }
    if (this.#sealer) this.#armIdleCheckpoint();
    return out;
  }

  // Privacy, then the chain link; a checkpoint that falls due right after this event is made now
  // (so it links to this event) and written right after it.
  #sealOne(e: AuditEvent): void {
    if (this.#prepared.has(e)) return;
    this.#prepared.add(e);
    // A sealed event must not change, and checkpoints (hashes, signatures) hold nothing private.
    if (e.chain !== undefined || e.type === "audit.checkpoint") {
      if (e.chain === undefined) this.#sealer?.seal(e);
      return;
    }
    if (this.#privacy) this.#applyPrivacy(e);
    const sealer = this.#sealer;
    if (!sealer) return;
    sealer.seal(e);
    if (sealer.due()) this.#checkpointsAfter.set(e, this.#checkpoint(false));
  }

  // While a batch is being written (on a worker thread, or on the network), prepare the next one
  // here, so the hashing overlaps the write instead of following it.
  #sealAhead(): void {
    const n = Math.min(this.#queue.length, this.#maxEvents);
    for (let i = 0; i < n; i++) this.#sealOne(this.#queue[i]!);
  }

  // Privacy runs here, as events leave the queue and before anything is hashed, written, spooled
  // or exported, rather than inside record(): scrubbing every string is the costliest step of an
  // event, and here it stays off the agent's path. The event object is changed in place, so the
  // one record() returned shows what was stored.
  #applyPrivacy(e: AuditEvent): void {
    try {
      e.data = this.#privacy!.apply(e).data;
    } catch (err) {
      e.data = { $processorError: `privacy: ${String((err as Error)?.message ?? err)}` };
      this.#report(new AuditError(`[audit] privacy failed on ${e.type}`, { cause: err }));
    }
  }

  // A sealed checkpoint of the current head; it also goes to the witness.
  #checkpoint(final: boolean): AuditEvent {
    const sealer = this.#sealer!;
    const event = sealer.checkpointEvent(sealer.checkpointData({ final }), this.#actor);
    sealer.seal(event);
    sealer.covered();
    this.#witness?.dispatch([event]);
    return event;
  }

  // A chain that goes quiet with events not covered by a checkpoint gets one.
  #armIdleCheckpoint(): void {
    const sealer = this.#sealer;
    if (!sealer || this.#closing || sealer.uncovered === 0) return;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#closing || sealer.uncovered === 0) return;
      if (this.#queue.length > 0 || this.#inflight) {
        this.#armIdleCheckpoint();
        return;
      }
      this.#enqueueInternal(this.#checkpoint(false));
    }, sealer.idleMs);
    // The chain's checkpoint must not keep a finished process alive; close() writes the final one.
    this.#idleTimer.unref();
  }

  // Queues an internal event (a checkpoint, sealed or not); it is not counted as recorded.
  #enqueueInternal(event: AuditEvent): void {
    this.#recordedSeq++;
    this.#queue.push(event);
    this.#kickSoon();
  }

  async #persist(batch: AuditEvent[], start: number, count: number): Promise<Outcome> {
    if (!this.#healthy) {
      this.#scheduleProbe();
      return this.#toSpool(batch, start, count);
    }
    let lastError: unknown;
    for (let attempt = 0; attempt < this.#retry.attempts; attempt++) {
      if (attempt > 0) await sleep(this.#backoff(attempt));
      try {
        await this.store.append(batch);
        this.#stats.stored += batch.length;
        return "stored";
      } catch (err) {
        lastError = err;
        // A store that refuses the input itself will refuse it again; spool it for inspection.
        if (err instanceof AuditValidationError) break;
      }
    }
    this.#healthy = false;
    this.#report(
      new StoreError(
        this.store.id,
        `write of ${batch.length} events failed after ${this.#retry.attempts} attempts (${describe(lastError)}); ${this.#spool ? `events go to the spool at ${this.#spool.dir} and are replayed when the store answers` : "no spool is configured, so they are lost"}`,
        { cause: lastError },
      ),
    );
    this.#scheduleProbe();
    return this.#toSpool(batch, start, count);
  }

  #backoff(attempt: number): number {
    const base = Math.min(this.#retry.maxDelayMs, this.#retry.initialDelayMs * 2 ** (attempt - 1));
    return base / 2 + Math.random() * (base / 2);
  }

  #toSpool(batch: AuditEvent[], start: number, count: number): Outcome {
    if (!this.#spool) {
      this.#stats.lost += batch.length;
      return "lost";
    }
    try {
      this.#spool.write(batch);
    } catch (err) {
      this.#stats.lost += batch.length;
      this.#report(
        new StoreError(
          this.store.id,
          `the spool at ${this.#spool.dir} refused ${batch.length} events too; they are lost`,
          {
            cause: err,
          },
        ),
      );
      return "lost";
    }
    this.#stats.spooled += batch.length;
    for (const e of batch) this.#spooledEvents.add(e);
    const last = this.#spooledRanges[this.#spooledRanges.length - 1];
    if (last && last[1] === start) last[1] = start + count;
    else this.#spooledRanges.push([start, start + count]);
    return "spooled";
  }

  #settle(batch: AuditEvent[], outcome: Outcome): void {
    if (this.#commitWaiters.size === 0) return;
    for (const e of batch) {
      const waiters = this.#commitWaiters.get(e);
      if (!waiters) continue;
      this.#commitWaiters.delete(e);
      for (const w of waiters) {
        if (outcome === "stored" || (outcome === "spooled" && this.durability === "relaxed"))
          w.resolve();
        else w.reject(this.#notDurable(e, outcome));
      }
    }
  }

  #notDurable(e: AuditEvent, outcome: Outcome): StoreError {
    return new StoreError(
      this.store.id,
      outcome === "lost"
        ? `event ${e.id} could not be written to the store or the spool`
        : `event ${e.id} is not in the store (the store is failing); it is kept in the spool and will be replayed`,
    );
  }

  // The number of the oldest event still in memory: everything below it is stored or spooled.
  #settledBelow(): number {
    return this.#inflight ? this.#inflight.start : this.#queueHeadSeq;
  }

  #resolveFlushWaiters(): void {
    if (this.#flushWaiters.length === 0) return;
    const below = this.#settledBelow();
    this.#flushWaiters = this.#flushWaiters.filter((w) => {
      if (w.target > below) return true;
      w.resolve();
      return false;
    });
  }

  #scheduleProbe(): void {
    if (this.#probeTimer || this.#closed || !this.#spool) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      void this.replaySpool().then((ok) => {
        if (!ok) {
          this.#probeDelay = Math.min(this.#retry.maxDelayMs, Math.max(10, this.#probeDelay * 2));
          this.#scheduleProbe();
        }
      });
    }, this.#probeDelay);
    // A store that is down must not keep the process alive: the spool already holds the events.
    this.#probeTimer.unref();
  }

  /**
   * Replays the spool (this process's files and any a crashed process left) into the store, by id,
   * so nothing is duplicated. Resolves `true` when the spool is empty afterwards. Runs by itself
   * after a store failure; call it to replay right away.
   */
  replaySpool(): Promise<boolean> {
    this.#replaying ??= this.#replayOnce().finally(() => {
      this.#replaying = undefined;
    });
    return this.#replaying;
  }

  async #replayOnce(): Promise<boolean> {
    const spool = this.#spool;
    if (!spool) return true;
    let files = spool.claim();
    while (files.length > 0) {
      for (let i = 0; i < files.length; i++) {
        const file = files[i]!;
        const { events, badLines } = spool.read(file);
        if (badLines > 0) {
          this.#report(
            new StoreError(
              this.store.id,
              `spool file ${file.originalName}: skipped ${badLines} unreadable lines (a write cut short by a crash)`,
            ),
          );
        }
        try {
          for (let off = 0; off < events.length; off += this.#maxEvents) {
            await this.store.append(events.slice(off, off + this.#maxEvents));
          }
        } catch (err) {
          for (const rest of files.slice(i)) spool.release(rest);
          this.#report(
            new StoreError(
              this.store.id,
              `replay of the spool is waiting for the store (${describe(err)})`,
              {
                cause: err,
              },
            ),
          );
          return false;
        }
        spool.done(file);
        this.#stats.replayed += events.length;
        this.#stats.stored += events.length;
        this.#healthy = true;
        this.#probeDelay = this.#retry.initialDelayMs;
      }
      files = spool.claim();
    }
    this.#healthy = true;
    this.#spooledRanges = [];
    return true;
  }

  /**
   * Resolves when `event` (returned by this auditor's `record`) is durable: in the store, or with
   * relaxed durability also in the spool. Rejects in strict mode when the store did not take it.
   */
  async commit(event: AuditEvent): Promise<void> {
    if (this.#droppedEvents.has(event)) {
      throw new AuditOverflowError(
        `[audit] event ${event.id} was dropped because the queue was full`,
      );
    }
    const pending = this.#queue.includes(event) || this.#inflight?.batch.includes(event) === true;
    if (pending) {
      await new Promise<void>((resolve, reject) => {
        const list = this.#commitWaiters.get(event);
        if (list) list.push({ resolve, reject });
        else this.#commitWaiters.set(event, [{ resolve, reject }]);
        this.#kickSoon();
      });
      return;
    }
    if (!this.#spooledEvents.has(event) || this.durability === "relaxed") return;
    // Spooled earlier: it may have been replayed since, so ask the store itself.
    if (this.#healthy) await this.replaySpool();
    const stored = await this.store.get(event.id).catch(() => undefined);
    if (!stored) throw this.#notDurable(event, "spooled");
  }

  /**
   * Resolves when every event recorded before the call is durable: in the store, or (relaxed
   * durability, store failing) in the spool. In strict mode it rejects with {@link StoreError} when
   * some of them are only in the spool. Also waits for exporters to have been handed the events.
   */
  async flush(): Promise<FlushResult> {
    const from = this.#flushedThrough;
    const target = this.#recordedSeq;
    if (this.#settledBelow() < target) {
      await new Promise<void>((resolve) => {
        this.#flushWaiters.push({ target, resolve });
        this.#kickSoon();
      });
    }
    this.#flushedThrough = Math.max(this.#flushedThrough, target);
    if (this.#spooledRanges.length > 0 && this.#healthy) await this.replaySpool();
    await this.#lanes.flush();
    let spooled = 0;
    for (const [s, e] of this.#spooledRanges)
      spooled += Math.max(0, Math.min(e, target) - Math.max(s, from));
    if (spooled > 0 && this.durability === "strict") {
      throw new StoreError(
        this.store.id,
        `${spooled} events are not in the store (it is failing); they are kept in the spool at ${this.#spool?.dir} and will be replayed`,
      );
    }
    return { spooled };
  }
  #flushedThrough = 0;

  /** What the auditor has done so far. */
  stats(): AuditorStats {
    return {
      ...this.#stats,
      exportDropped: this.#lanes.dropped,
      exportFailed: this.#lanes.failed,
      queued: this.#queue.length + (this.#inflight?.batch.length ?? 0),
      storeHealthy: this.#healthy,
    };
  }

  /** Starts an agent run: records `run.start` and returns the run handle. */
  startRun(options: RunOptions = {}): AuditRun {
    return new AuditRun(this, options);
  }

  /**
   * Runs `fn` inside a run that ends by itself: `run.end` with the result as output when `fn`
   * resolves (unless it ended the run itself), `run.fail` when it throws (and the error is rethrown).
   */
  async withRun<T>(options: RunOptions, fn: (run: AuditRun) => Promise<T> | T): Promise<T> {
    const run = this.startRun(options);
    let result: T;
    try {
      result = await fn(run);
    } catch (err) {
      if (!run.ended) await run.fail(err);
      throw err;
    }
    if (!run.ended) await run.end({ output: result });
    return result;
  }

  /**
   * Flushes, then releases what the auditor opened (a store opened from a URL, exporters created
   * from names). A store or exporter you passed in is flushed but stays open: close it yourself.
   * Idempotent: later calls return the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const reportFailure = (err: unknown) => {
      if (err instanceof AuditError) this.#report(err);
    };
    try {
      await this.flush().catch(reportFailure);
      // The final checkpoint closes the chain: verifyChain can then tell a cut-off tail.
      if (this.#sealer && this.#sealer.head.seq > 0) {
        if (this.#idleTimer) clearTimeout(this.#idleTimer);
        this.#enqueueInternal(this.#checkpoint(true));
        await this.flush().catch(reportFailure);
      }
    } finally {
      this.#closed = true;
      if (this.#idleTimer) clearTimeout(this.#idleTimer);
      if (this.#probeTimer) clearTimeout(this.#probeTimer);
      if (this.#timer) clearTimeout(this.#timer);
      this.#spool?.close();
      live.delete(this);
      if (this.#ownsExporters) await this.#lanes.shutdown();
      else await this.#lanes.flush();
      await this.#witness?.flush();
      if (this.#ownsStore) {
        await this.store.close().catch((err: unknown) => {
          this.#report(
            new StoreError(this.store.id, `close failed: ${describe(err)}`, { cause: err }),
          );
        });
      }
    }
  }

  /** @internal Called on process exit: writes what is still in memory to the spool, synchronously. */
  spillOnExit(): void {
    if (!this.#spool) return;
    // The in-flight batch may or may not have reached the store; replay by id makes both safe.
    const queued = this.#seal(this.#queue);
    if (this.#sealer && this.#sealer.head.seq > 0 && !this.#closing)
      queued.push(this.#checkpoint(true));
    const events = [...(this.#inflight?.batch ?? []), ...queued];
    if (events.length === 0) return;
    try {
      this.#spool.write(events);
      this.#spool.close();
    } catch {
      // Nothing more can be done while the process exits.
    }
  }

  /**
   * Deletes old events from the store (`before` a time, or all but the newest `keep`) and records a
   * prune checkpoint for every chain that lost events, naming the last deleted link, so the rest of
   * each chain still verifies. Returns how many events were deleted.
   */
  async prune(options: PruneOptions): Promise<number> {
    if (this.#closing) throw new AuditClosedError("[audit] prune() after close()");
    const { before, keep } = resolvePrune(options);
    await this.flush().catch(() => undefined);
    const anchors = new Map<string, { seq: number; hash: string }>();
    if (this.#sealer) {
      // The events prune will delete are the oldest ones: those before `before`, and the first
      // (count - keep). Their chains' highest deleted links become the anchors.
      const limit = keep === undefined ? undefined : Math.max(0, (await this.store.count()) - keep);
      let n = 0;
      for await (const e of this.store.stream()) {
        const byCount = limit !== undefined && n < limit;
        const byTime = before !== undefined && e.time < before;
        n++;
        // Ascending order: once an event survives both conditions, every later one does too.
        if (!byCount && !byTime) break;
        if (!e.chain) continue;
        const a = anchors.get(e.chain.id);
        if (!a || e.chain.seq > a.seq)
          anchors.set(e.chain.id, { seq: e.chain.seq, hash: e.chain.hash });
      }
    }
    const deleted = await this.store.prune(options);
    if (this.#sealer && anchors.size > 0) {
      for (const [chainId, a] of anchors) {
        const data = this.#sealer.anchorData(chainId, a.seq, a.hash, { reason: "prune" });
        this.#enqueueInternal(this.#sealer.checkpointEvent(data, this.#actor));
      }
      await this.flush();
    }
    return deleted;
  }

  /**
   * @internal Prepares an event written straight to the store rather than queued (an approval
   * resolution): privacy applies, and it is sealed as a chain of its own.
   */
  prepareDirect(event: AuditEvent): AuditEvent {
    const prepared = this.#privacy ? this.#privacy.apply(event) : event;
    this.#sealer?.sealStandalone(prepared);
    return prepared;
  }

  /** @internal Reports a failure the agent is shielded from. */
  report(error: AuditError): void {
    this.#report(error);
  }

  #report(error: AuditError): void {
    try {
      this.#onError(error);
    } catch {
      // A throwing onError must not turn into an audit failure in the agent.
    }
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new AuditConfigError(`[audit] ${name} must be a whole number ≥ 1, got ${value}`);
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new AuditConfigError(`[audit] ${name} must be a number ≥ 0, got ${value}`);
  }
  return value;
}

function toEventTime(value: string | Date): string {
  if (typeof value === "string" && isEventTime(value)) return value;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms))
    throw new AuditValidationError(`[audit] event time ${String(value)} is not a valid time`);
  return new Date(ms).toISOString();
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Creates an auditor. The store comes from `options.store` (an instance or a URL) or the
 * `AUDIT_STORE` environment variable; exporters from `options.exporters` or `AUDIT_EXPORTERS`.
 * @throws {AuditConfigError} when no store is configured or an option is invalid;
 *   {@link AdapterNotInstalledError} when the URL needs a package that is not installed.
 */
export async function createAuditor(options: AuditorOptions = {}): Promise<Auditor> {
  const storeOption = options.store ?? process.env.AUDIT_STORE;
  if (storeOption === undefined || storeOption === "") {
    throw new AuditConfigError(
      '[audit] no store configured: pass { store } to createAuditor or set AUDIT_STORE (for example "sqlite:./audit.db", "jsonl:./audit-logs" or "memory:")',
    );
  }
  const ownsStore = typeof storeOption === "string";
  const store = typeof storeOption === "string" ? await openStore(storeOption) : storeOption;
  const exportersOption = options.exporters ?? process.env.AUDIT_EXPORTERS;
  const ownsExporters = typeof exportersOption === "string";
  let exporters: readonly AuditExporter[];
  try {
    exporters =
      typeof exportersOption === "string"
        ? await exportersFromEnv(exportersOption)
        : (exportersOption ?? []);
  } catch (err) {
    if (ownsStore) await store.close().catch(() => undefined);
    throw err;
  }
  return new Auditor(
    { ...options, store, exporters },
    { store: ownsStore, exporters: ownsExporters },
  );
}
