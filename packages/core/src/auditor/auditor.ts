import { type ApprovalHost, Approvals } from "../approvals/approvals.js";
import { writeResolution } from "../approvals/resolution-writer.js";
import type { Outcome } from "../durable/commit-tracker.js";
import type { StoreWriter } from "../durable/store-writer.js";
import { withTimeout } from "../durable/timeout.js";
import {
  AuditClosedError,
  type AuditError,
  AuditOverflowError,
  StoreError,
  StoreTimeoutError,
} from "../errors.js";
import type { AuditEvent, EventInput } from "../event.js";
import type { ExporterLanes } from "../exporters/lanes.js";
import { resolvePrune } from "../filter.js";
import { type EventProcessor, runProcessors } from "../pipeline/processors.js";
import type { EventStamper } from "../pipeline/stamp.js";
import type { FlushResult, WritePipeline } from "../pipeline/write-pipeline.js";
import type { AuditStore, PruneOptions } from "../store.js";
import { closeWithin } from "./close.js";
import { registerForExit } from "./exit-hook.js";
import type { AuditorHealth, AuditorStats } from "./health.js";
import {
  type AuditorInit,
  defaultOnError,
  type ResolvedSettings,
  resolveSettings,
} from "./options.js";
import { anchorRetention, pruneWithAnchors } from "./prune.js";
import { AuditRun, type RunOptions } from "./run.js";
import { assembleStages } from "./stages.js";

/**
 * The front door: records events, batches them into the store, fans them out to exporters, and
 * never loses one it acknowledged. A thin facade over the stages (stamp → processors → queue →
 * seal → writer/spool, exporter lanes); create it with `createAuditor`.
 */
export class Auditor {
  /** The store events are written to. */
  readonly store: AuditStore;
  /** Human approvals on top of the store. */
  readonly approvals: Approvals;
  /** `"relaxed"` or `"strict"`. */
  readonly durability: "relaxed" | "strict";

  readonly #settings: ResolvedSettings;
  readonly #stamper: EventStamper;
  readonly #processors: readonly EventProcessor[];
  readonly #pipeline: WritePipeline;
  readonly #writer: StoreWriter;
  readonly #witness: ExporterLanes | undefined;
  readonly #ownsStore: boolean;
  readonly #ownsExporters: boolean;
  readonly #onError: (error: AuditError) => void;
  readonly #unregister: () => void;
  readonly #stopRetention: () => void;
  readonly #reportBound = (e: AuditError) => this.#report(e);
  #lastError: AuditorHealth["lastError"];
  #recorded = 0;
  #closing: Promise<void> | undefined;

  /** Prefer `createAuditor`, which also opens stores and exporters from URLs and names. */
  constructor(options: AuditorInit, ownership: { store?: boolean; exporters?: boolean } = {}) {
    const s = resolveSettings(options);
    this.#settings = s;
    this.store = options.store;
    this.durability = s.durability;
    this.#ownsStore = ownership.store ?? false;
    this.#ownsExporters = ownership.exporters ?? false;
    this.#onError = options.onError ?? defaultOnError();
    const report = (e: AuditError) => this.#report(e);
    this.#processors = options.processors ?? [];
    const stages = assembleStages(options, s, report, {
      onIdle: () => this.#idleCheckpoint(),
    });
    this.#stamper = stages.stamper;
    this.#writer = stages.writer;
    this.#pipeline = stages.pipeline;
    this.#witness = stages.witness;
    this.approvals = new Approvals(this.#approvalHost());
    const pipeline = this.#pipeline;
    this.#unregister = registerForExit({
      get busy() {
        return pipeline.depth > 0;
      },
      flushSoon: () => pipeline.queue.readySoon(),
      spillSync: () => pipeline.spillSync(!this.#closing),
    });
    // A store that deletes by itself (a size cap) tells us what it cut, so we anchor the rest.
    const stopRetention = this.store.onRetention?.((heads) =>
      anchorRetention(this.#pipeline, heads),
    );
    this.#stopRetention = stopRetention ?? (() => {});
    // Events a crashed process left in the spool are replayed as soon as the store answers.
    if (this.#writer.spool?.hasPending()) void this.#writer.replay();
  }

  /**
   * Stamps an event (id, time, actor, trace context), normalises its payload, runs the processors
   * and queues it. Synchronous and cheap; returns the event as it will be stored.
   * @throws {AuditValidationError} for a malformed or reserved type, a library id, a bad risk;
   *   {@link AuditClosedError} after close; {@link AuditOverflowError} when the queue is full and
   *   `onOverflow` is `"throw"`.
   */
  record<T extends string>(input: EventInput<T>): AuditEvent {
    if (this.#closing) throw new AuditClosedError("record() after close()");
    const stamped = this.#stamper.stamp(input);
    const event =
      this.#processors.length === 0
        ? stamped
        : runProcessors(this.#processors, stamped, this.#reportBound);
    this.#pipeline.enqueue(event);
    this.#recorded++;
    return event;
  }

  /**
   * Resolves when `event` (returned by this auditor's `record`) is durable: in the store, or with
   * relaxed durability also in the spool or its quarantine. Rejects when it was dropped or lost,
   * and in strict mode whenever it is not in the store. Bounded: a hung store times out per
   * attempt (`appendTimeoutMs`), so this settles after at most `retry.attempts` attempts.
   */
  async commit(event: AuditEvent): Promise<void> {
    const outcome: Outcome | undefined = await this.#pipeline.outcome(event);
    if (outcome === "stored") return;
    if (outcome === "dropped") {
      throw new AuditOverflowError(`event ${event.id} was dropped because the queue was full`);
    }
    if (outcome === undefined) {
      // Not recorded by this auditor: ask the store itself.
      if ((await this.store.get(event.id).catch(() => undefined)) !== undefined) return;
      throw new StoreError(this.store.id, `event ${event.id} is not in the store`);
    }
    if (outcome === "lost") {
      throw new StoreError(
        this.store.id,
        `event ${event.id} could not be written to the store or the spool`,
      );
    }
    if (this.durability === "relaxed") return;
    // Spooled earlier: it may have been replayed since, so ask the store itself.
    if (outcome === "spooled" && this.#writer.up) await this.#writer.replay();
    const stored = await withTimeout(
      () => this.store.get(event.id),
      this.#settings.appendTimeoutMs,
      () => new StoreTimeoutError(this.store.id, "get", this.#settings.appendTimeoutMs),
    ).catch(() => undefined);
    if (!stored) {
      throw new StoreError(
        this.store.id,
        `event ${event.id} is not in the store (${outcome}); ${outcome === "spooled" ? "it is kept in the spool and will be replayed" : "it is kept in the spool's quarantine"}`,
      );
    }
  }

  /**
   * Resolves when every event recorded before the call is settled: in the store, or (relaxed
   * durability) in the spool. Says how many are not in the store; in strict mode rejects with
   * {@link StoreError} when any is not. Waits for exporters at most `exportTimeoutMs`.
   */
  flush(): Promise<FlushResult> {
    return this.#pipeline.flush();
  }

  /** What every stage is doing: store state, queue, spool, quarantine, exporters, last error. */
  health(): AuditorHealth {
    const w = this.#writer;
    const spool = w.spool;
    return {
      store: { id: this.store.id, ...w.health },
      queue: { depth: this.#pipeline.depth, max: this.#settings.batch.maxQueue },
      spool: spool && {
        dir: spool.dir,
        bytes: spool.bytes(),
        maxBytes: spool.maxBytes,
        events: w.spoolPending,
      },
      events: { recorded: this.#recorded, ...w.counts, dropped: this.#pipeline.dropped },
      exporters: this.#pipeline.lanes.health(),
      lastError: this.#lastError,
    };
  }

  /** What the auditor has done so far (see {@link Auditor.health} for more). */
  stats(): AuditorStats {
    const c = this.#writer.counts;
    return {
      recorded: this.#recorded,
      ...c,
      dropped: this.#pipeline.dropped,
      exportDropped: this.#pipeline.lanes.dropped,
      exportFailed: this.#pipeline.lanes.failed,
      queued: this.#pipeline.depth,
      storeHealthy: this.#writer.up,
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
   * Replays the spool (this process's files and any a crashed process left) into the store, by id.
   * Resolves `true` when the spool is empty afterwards. Runs by itself once the store answers.
   */
  replaySpool(): Promise<boolean> {
    return this.#writer.replay();
  }

  /**
   * Flushes, writes the final checkpoint, replays the spool if the store answers, then releases
   * what the auditor opened (a store opened from a URL, exporters created from names). Settles
   * within `closeTimeoutMs` whatever the store and exporters do: what could not be written by then
   * is in the spool. A store or exporter you passed in stays open. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await closeWithin({
      pipeline: this.#pipeline,
      writer: this.#writer,
      witness: this.#witness,
      ownsStore: this.#ownsStore,
      ownsExporters: this.#ownsExporters,
      timeoutMs: this.#settings.closeTimeoutMs,
      report: (e) => this.#report(e),
    });
    this.#unregister();
    this.#stopRetention();
  }

  /**
   * Deletes old events from the store (`before` a time, or all but the newest `keep`) and records a
   * prune checkpoint for every chain that lost events, naming the last deleted link, so the rest of
   * each chain still verifies. Returns how many events were deleted.
   */
  async prune(options: PruneOptions): Promise<number> {
    if (this.#closing) throw new AuditClosedError("prune() after close()");
    resolvePrune(options);
    await this.flush().catch(() => undefined);
    return pruneWithAnchors(this.store, options, this.#pipeline);
  }

  #approvalHost(): ApprovalHost {
    const pipeline = this.#pipeline;
    return {
      store: this.store,
      // The store only: a slow exporter must never hold up a human's decision.
      flush: () => pipeline.flush({ exporters: false }),
      linkIntact: (e) => pipeline.seal.sealer?.intact(e) ?? true,
      writeResolution: (event) =>
        writeResolution(pipeline, this.#writer, this.#settings.appendTimeoutMs, event),
    };
  }

  #idleCheckpoint(): void {
    const pipeline = this.#pipeline;
    if (this.#closing) return;
    if (pipeline.depth > 0) {
      pipeline.seal.rearmIdle();
      return;
    }
    void pipeline.exclusive(async () => {
      if (pipeline.seal.uncovered) pipeline.enqueueInternal(pipeline.seal.checkpoint(false));
    });
  }

  #report(error: AuditError): void {
    this.#lastError = {
      message: error.message,
      code: error.code,
      stage: error.stage,
      time: new Date().toISOString(),
    };
    try {
      this.#onError(error);
    } catch {
      // A throwing onError must not turn into an audit failure in the agent.
    }
  }
}
