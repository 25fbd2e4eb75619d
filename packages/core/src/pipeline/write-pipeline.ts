import { CommitTracker, type Outcome } from "../durable/commit-tracker.js";
import type { StoreWriter, WriteResult } from "../durable/store-writer.js";
import { delay } from "../durable/timeout.js";
import { AuditError, AuditOverflowError, type SpoolError, StoreError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import type { ExporterLanes } from "../exporters/lanes.js";
import type { BatchQueue } from "./batch-queue.js";
import type { SealStage } from "./seal.js";

/** What one `flush` achieved, for the events recorded since the previous flush. */
export interface FlushResult {
  /** Events now in the spool rather than the store (replayed when the store answers). */
  spooled: number;
  /** Events the store refused for their content, kept in the spool's quarantine. */
  quarantined: number;
  /** Events in neither the store nor the spool. */
  lost: number;
}

/** Options of {@link WritePipeline}. */
export interface WritePipelineOptions {
  queue: (onReady: () => void) => BatchQueue;
  seal: SealStage;
  writer: StoreWriter;
  lanes: ExporterLanes;
  onOverflow: "block" | "drop" | "throw";
  durability: "relaxed" | "strict";
  report: (error: AuditError) => void;
}

/**
 * Moves events from the queue through the seal stage to the store writer and the exporter lanes,
 * one batch at a time (group commit: the next batch gathers while one is written), and answers
 * `flush`, `commit` and `close`. It holds no timer of its own: the queue, the seal stage and the
 * writer each own theirs.
 */
export class WritePipeline {
  readonly queue: BatchQueue;
  readonly seal: SealStage;
  readonly writer: StoreWriter;
  readonly lanes: ExporterLanes;
  readonly tracker = new CommitTracker();
  readonly #onOverflow: "block" | "drop" | "throw";
  readonly #durability: "relaxed" | "strict";
  readonly #report: (error: AuditError) => void;
  #inflight: { batch: AuditEvent[]; recorded: AuditEvent[]; start: number } | undefined;
  #draining = false;
  #paused: Promise<void> | undefined;
  #aborted = false;
  #flushedThrough = 0;
  #flushWaiters: { target: number; resolve: () => void }[] = [];
  #dropped = 0;

  constructor(options: WritePipelineOptions) {
    this.queue = options.queue(() => this.#onReady());
    this.seal = options.seal;
    this.writer = options.writer;
    this.lanes = options.lanes;
    this.#onOverflow = options.onOverflow;
    this.#durability = options.durability;
    this.#report = options.report;
  }

  /** Events dropped by `onOverflow: "drop"`. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Events waiting in memory (queued or being written). */
  get depth(): number {
    return this.queue.length + (this.#inflight?.batch.length ?? 0);
  }

  /**
   * Queues a recorded event, applying the overflow policy when the queue is full.
   * @throws {AuditOverflowError} with `onOverflow: "throw"`, or `"block"` without a spool.
   */
  enqueue(event: AuditEvent): void {
    if (this.queue.full) {
      const spool = this.writer.spool;
      if (this.#onOverflow === "throw" || (this.#onOverflow === "block" && !spool)) {
        throw new AuditOverflowError(
          `queue full (${this.queue.maxQueue} events waiting for the store); ${spool ? 'raise batch.maxQueue or use onOverflow "block"' : 'onOverflow "block" needs a spool to block on'}`,
        );
      }
      if (this.#onOverflow === "drop") {
        this.#dropped++;
        this.tracker.settle(event, "dropped");
        if (this.#dropped === 1) {
          this.#report(
            new AuditOverflowError(
              'queue full: dropping events (onOverflow "drop"); the count is in health().dropped',
            ),
          );
        }
        return;
      }
      this.#spillQueue();
    }
    this.queue.push(event);
  }

  /** Queues an event the library made (a checkpoint); the drain starts right away. */
  enqueueInternal(event: AuditEvent): void {
    this.queue.push(event);
    this.queue.readySoon();
  }

  // onOverflow "block": the agent waits for a synchronous, fsynced write of the queue to the spool.
  #spillQueue(): void {
    const { events, start } = this.queue.takeAll();
    const batch = this.seal.seal(events);
    this.lanes.dispatch(batch);
    const result: WriteResult = { stored: [], spooled: [], quarantined: [], lost: [] };
    this.writer.toSpool(batch, result);
    this.#settle(result, [{ events, start }]);
  }

  #onReady(): void {
    if (this.#draining || this.#paused || this.#aborted) return;
    if (this.queue.length === 0) {
      this.#resolveFlushWaiters();
      return;
    }
    this.#draining = true;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.#paused && !this.#aborted) {
        const { events, start } = this.queue.take();
        const batch = this.seal.seal(events);
        this.#inflight = { batch, recorded: events, start };
        this.lanes.dispatch(batch);
        const writing = this.writer.write(batch);
        // Prepare the next batch (privacy, chain) while this one is on the wire or on a worker.
        for (const e of this.queue.peek(this.queue.maxEvents)) this.seal.prepare(e);
        const result = await writing;
        this.#inflight = undefined;
        this.#settle(result, [{ events, start }]);
        this.#resolveFlushWaiters();
      }
    } catch (err) {
      // Every stage promises not to throw; if one does, say so rather than crash the process.
      this.#report(new AuditError("the write pipeline failed unexpectedly", { cause: err }));
    } finally {
      this.#inflight = undefined;
      this.#draining = false;
      this.#resolveFlushWaiters();
      if (this.queue.length > 0 && !this.#paused && !this.#aborted) this.queue.readySoon();
    }
  }

  // An event settles once: a batch that `abort` already spooled keeps that outcome. Event numbers
  // are only needed for what did not reach the store (flush counts those), so the lookup from
  // event to number is built only then, per batch, never in record().
  #settle(result: WriteResult, numbered: { events: readonly AuditEvent[]; start: number }[]): void {
    let seqOf: Map<AuditEvent, number> | undefined;
    const seq = (e: AuditEvent) => {
      if (!seqOf) {
        seqOf = new Map();
        for (const n of numbered) {
          for (let i = 0; i < n.events.length; i++) seqOf.set(n.events[i]!, n.start + i);
        }
      }
      return seqOf.get(e);
    };
    const mark = (list: AuditEvent[], outcome: Outcome) => {
      for (const e of list) {
        if (this.tracker.outcome(e) !== undefined) continue;
        this.tracker.settle(e, outcome, outcome === "stored" ? undefined : seq(e));
      }
    };
    mark(result.stored, "stored");
    mark(result.spooled, "spooled");
    mark(result.quarantined, "quarantined");
    mark(result.lost, "lost");
  }

  // Every event numbered below this is settled (stored, spooled, quarantined, lost or dropped).
  #settledBelow(): number {
    return this.#inflight ? this.#inflight.start : this.queue.headSeq;
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

  /**
   * Resolves once every event queued before the call is settled; see `Auditor.flush`. With
   * `exporters: false` it does not wait for exporters at all (approvals need only the store).
   */
  async flush(options: { exporters?: boolean } = {}): Promise<FlushResult> {
    const from = this.#flushedThrough;
    const target = this.queue.nextSeq;
    if (this.#settledBelow() < target && !this.#aborted) {
      await new Promise<void>((resolve) => {
        this.#flushWaiters.push({ target, resolve });
        this.queue.readySoon();
      });
    }
    this.#flushedThrough = Math.max(this.#flushedThrough, target);
    const counts = this.tracker.countNotStored(from, target);
    if (counts.spooled > 0 && this.writer.up) {
      await this.writer.replay();
    }
    if (options.exporters !== false) await this.lanes.flush();
    const after = this.tracker.countNotStored(from, target);
    this.tracker.forgetBelow(from);
    const result = { spooled: after.spooled, quarantined: after.quarantined, lost: after.lost };
    if (this.#durability === "strict" && result.spooled + result.quarantined + result.lost > 0) {
      throw new StoreError(
        this.writer.store.id,
        `${result.spooled + result.quarantined + result.lost} events are not in the store (${result.spooled} spooled, ${result.quarantined} quarantined, ${result.lost} lost)${this.writer.spool ? `; the spool at ${this.writer.spool.dir} keeps what it could` : ""}`,
      );
    }
    return result;
  }

  /** Resolves with the outcome of a queued event once it is known. */
  async outcome(event: AuditEvent): Promise<Outcome | undefined> {
    const known = this.tracker.outcome(event);
    if (known) return known;
    const pending = this.#inflight?.recorded.includes(event) === true || this.queue.includes(event);
    if (!pending) return undefined;
    this.queue.readySoon();
    return this.tracker.wait(event);
  }

  /**
   * Runs `fn` while no batch is being written and none starts (events keep queueing). Used to
   * write an approval resolution in the chain's order and undo its link if it lost.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#paused) await this.#paused;
    let release!: () => void;
    this.#paused = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      while (this.#draining) await delay(1);
      return await fn();
    } finally {
      this.#paused = undefined;
      release();
      this.queue.readySoon();
    }
  }

  /**
   * Writes what is still in memory to the spool, synchronously (process exit, or `close` past its
   * bound). The batch being written may also reach the store: replay by id makes both safe.
   */
  spillSync(finalCheckpoint: boolean): void {
    const inflight = this.#inflight?.batch ?? [];
    const numbered = this.#inflight
      ? [{ events: this.#inflight.recorded, start: this.#inflight.start }]
      : [];
    const { events, start } = this.queue.takeAll();
    numbered.push({ events, start });
    const rest = this.seal.seal(events);
    if (finalCheckpoint && this.seal.sealer && this.seal.sealer.head.seq > 0) {
      rest.push(this.seal.checkpoint(true));
    }
    const all = [...inflight, ...rest];
    const result: WriteResult = { stored: [], spooled: [], quarantined: [], lost: [] };
    try {
      this.writer.toSpool(all, result);
      this.writer.spool?.close();
    } catch (err) {
      this.#report(err as SpoolError);
    }
    this.#settle(result, numbered);
  }

  /**
   * Stops writing: what is queued or in flight goes to the spool, every waiter settles. Used when
   * `close` runs out of time.
   */
  abort(finalCheckpoint: boolean): void {
    if (this.#aborted) return;
    this.spillSync(finalCheckpoint);
    this.#aborted = true;
    this.#inflight = undefined;
    for (const w of this.#flushWaiters) w.resolve();
    this.#flushWaiters = [];
  }
}
