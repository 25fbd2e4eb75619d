import {
  type AuditError,
  describeError,
  EventRejectedError,
  SpoolError,
  StoreError,
  StoreTimeoutError,
} from "../errors.js";
import type { AuditEvent } from "../event.js";
import type { AuditStore } from "../store.js";
import { isRejection } from "./failure.js";
import type { Spool } from "./spool.js";
import { delay, withTimeout } from "./timeout.js";

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

/** Where each event of one write ended up. */
export interface WriteResult {
  stored: AuditEvent[];
  spooled: AuditEvent[];
  /** Refused by the store for its content; kept in the spool's quarantine, never retried. */
  quarantined: AuditEvent[];
  /** In neither the store nor the spool (no spool, spool full, or the disk refused). */
  lost: AuditEvent[];
}

/** The store's state as the writer sees it. */
export interface StoreHealth {
  state: "up" | "down";
  /** When the store entered this state (ISO time). */
  since: string;
  /** The last failure, if any. */
  lastError?: string;
}

/** Options of {@link StoreWriter}. */
export interface StoreWriterOptions {
  store: AuditStore;
  spool: Spool | undefined;
  retry: Required<RetryOptions>;
  /** Limit of one `append` call. */
  appendTimeoutMs: number;
  /** The most events per `append` during replay. */
  maxEvents: number;
  report: (error: AuditError) => void;
  /** Called after a replay emptied the spool. */
  onReplayed?: () => void;
}

/**
 * The durable stage. Contract: every event handed to `write` ends up in exactly one of stored,
 * spooled, quarantined or lost, and `write` always settles — an `append` that does not settle
 * within `appendTimeoutMs` counts as a failure. A failing store is retried with backoff, then
 * marked down (batches go straight to the spool and a probe replays the spool once it answers).
 * An error that says the store refuses the content is not retried: the batch is split until the
 * refused event is isolated, the others are written, and that one event is quarantined, so one bad
 * event never marks the store down or blocks its batch.
 */
export class StoreWriter {
  readonly store: AuditStore;
  readonly spool: Spool | undefined;
  readonly #retry: Required<RetryOptions>;
  readonly #appendTimeoutMs: number;
  readonly #maxEvents: number;
  readonly #report: (error: AuditError) => void;
  readonly #onReplayed: (() => void) | undefined;
  #health: StoreHealth = { state: "up", since: new Date().toISOString() };
  #probeTimer: NodeJS.Timeout | undefined;
  #probeDelay: number;
  #replaying: Promise<boolean> | undefined;
  #stopped = false;
  /** Counters since creation. */
  readonly counts = { stored: 0, spooled: 0, replayed: 0, quarantined: 0, lost: 0 };
  /** Events this writer put in the spool that no replay has taken out yet. */
  spoolPending = 0;

  constructor(options: StoreWriterOptions) {
    this.store = options.store;
    this.spool = options.spool;
    this.#retry = options.retry;
    this.#appendTimeoutMs = options.appendTimeoutMs;
    this.#maxEvents = options.maxEvents;
    this.#report = options.report;
    this.#onReplayed = options.onReplayed;
    this.#probeDelay = this.#retry.initialDelayMs;
  }

  /** Whether the store is taking writes, since when, and the last failure. */
  get health(): StoreHealth {
    return { ...this.#health };
  }

  /** False while the store is down and batches go to the spool. */
  get up(): boolean {
    return this.#health.state === "up";
  }

  /** Writes a batch: to the store when it can, else to the spool. Never throws. */
  async write(batch: readonly AuditEvent[]): Promise<WriteResult> {
    const result: WriteResult = { stored: [], spooled: [], quarantined: [], lost: [] };
    let rest: readonly AuditEvent[] = batch;
    let lastError: unknown;
    for (
      let attempt = 0;
      this.up && !this.#stopped && rest.length > 0 && attempt < this.#retry.attempts;
      attempt++
    ) {
      if (attempt > 0) await delay(this.#backoff(attempt));
      const failed = await this.#appendIsolating(rest, result);
      rest = failed.rest;
      lastError = failed.error;
    }
    if (rest.length > 0) {
      if (this.up && !this.#stopped) this.#markDown(lastError, rest.length);
      this.#scheduleProbe();
      this.toSpool(rest, result);
    }
    return result;
  }

  /**
   * Appends, isolating refused events: returns the events not written because of a transient
   * failure (and that failure), having quarantined any event the store refused for its content.
   */
  async #appendIsolating(
    events: readonly AuditEvent[],
    result: WriteResult,
  ): Promise<{ rest: readonly AuditEvent[]; error?: unknown }> {
    try {
      await this.#append(events);
      this.counts.stored += events.length;
      result.stored.push(...events);
      return { rest: [] };
    } catch (err) {
      if (!isRejection(err)) return { rest: events, error: err };
      if (events.length === 1) {
        this.#quarantine(events[0]!, err, result);
        return { rest: [] };
      }
      const mid = events.length >> 1;
      const first = await this.#appendIsolating(events.slice(0, mid), result);
      if (first.rest.length > 0)
        return { rest: [...first.rest, ...events.slice(mid)], error: first.error };
      return this.#appendIsolating(events.slice(mid), result);
    }
  }

  #append(events: readonly AuditEvent[]): Promise<void> {
    return withTimeout(
      () => this.store.append(events),
      this.#appendTimeoutMs,
      () =>
        new StoreTimeoutError(
          this.store.id,
          `append of ${events.length} events`,
          this.#appendTimeoutMs,
        ),
    );
  }

  #quarantine(event: AuditEvent, err: unknown, result: WriteResult): void {
    const rejected = new EventRejectedError(this.store.id, event.id, { cause: err });
    if (this.spool) {
      try {
        this.spool.quarantine(event, describeError(err), this.store.id);
        this.counts.quarantined++;
        result.quarantined.push(event);
        this.#report(rejected);
        return;
      } catch (spoolErr) {
        this.#report(spoolErr as SpoolError);
      }
    }
    this.counts.lost++;
    result.lost.push(event);
    this.#report(rejected);
  }

  /** Puts events in the spool (or counts them lost when it cannot). Synchronous; never throws. */
  toSpool(events: readonly AuditEvent[], result?: WriteResult): void {
    if (events.length === 0) return;
    if (!this.spool) {
      this.counts.lost += events.length;
      result?.lost.push(...events);
      return;
    }
    try {
      this.spool.write(events);
      this.counts.spooled += events.length;
      this.spoolPending += events.length;
      result?.spooled.push(...events);
    } catch (err) {
      this.counts.lost += events.length;
      result?.lost.push(...events);
      this.#report(
        err instanceof SpoolError
          ? err
          : new SpoolError(`cannot spool ${events.length} events`, { cause: err }),
      );
    }
  }

  #markDown(err: unknown, count: number): void {
    this.#health = {
      state: "down",
      since: new Date().toISOString(),
      lastError: describeError(err),
    };
    this.#report(
      new StoreError(
        this.store.id,
        `write of ${count} events failed after ${this.#retry.attempts} attempts (${describeError(err)}); ${this.spool ? `events go to the spool at ${this.spool.dir} and are replayed when the store answers` : "no spool is configured, so they are lost"}`,
        { cause: err },
      ),
    );
  }

  #markUp(): void {
    if (!this.up) this.#health = { state: "up", since: new Date().toISOString() };
    this.#probeDelay = this.#retry.initialDelayMs;
  }

  #backoff(attempt: number): number {
    const base = Math.min(this.#retry.maxDelayMs, this.#retry.initialDelayMs * 2 ** (attempt - 1));
    return base / 2 + Math.random() * (base / 2);
  }

  #scheduleProbe(): void {
    if (this.#probeTimer || this.#stopped || !this.spool) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      void this.replay().then((ok) => {
        if (ok) return;
        this.#probeDelay = Math.min(this.#retry.maxDelayMs, Math.max(10, this.#probeDelay * 2));
        this.#scheduleProbe();
      });
    }, this.#probeDelay);
    // A store that is down must not keep the process alive: the spool already holds the events.
    this.#probeTimer.unref();
  }

  /**
   * Replays the spool (this process's files and any a dead process left) into the store, by id, so
   * nothing is duplicated. Resolves `true` when the spool is empty afterwards; never rejects.
   */
  replay(): Promise<boolean> {
    this.#replaying ??= this.#replayOnce()
      .catch((err: unknown) => {
        this.#report(new SpoolError("replay of the spool failed", { cause: err }));
        return false;
      })
      .finally(() => {
        this.#replaying = undefined;
      });
    return this.#replaying;
  }

  async #replayOnce(): Promise<boolean> {
    const spool = this.spool;
    if (!spool) return true;
    let files = spool.claim();
    while (files.length > 0) {
      for (let i = 0; i < files.length; i++) {
        const file = files[i]!;
        const result: WriteResult = { stored: [], spooled: [], quarantined: [], lost: [] };
        let badLines = 0;
        // A bounded piece at a time: a store that is still down costs one batch, not the file.
        const batches = spool.readBatches(file, this.#maxEvents);
        try {
          for (;;) {
            let next: IteratorResult<{ events: AuditEvent[]; badLines: number }>;
            try {
              next = batches.next();
            } catch (err) {
              // Unreadable (permissions, I/O): leave it for a later replay or a human.
              spool.release(file);
              this.#report(err as SpoolError);
              break;
            }
            if (next.done) {
              spool.done(file);
              this.counts.replayed += result.stored.length;
              this.#markUp();
              break;
            }
            badLines += next.value.badLines;
            if (next.value.events.length === 0) continue;
            const failed = await this.#appendIsolating(next.value.events, result);
            if (failed.rest.length > 0) {
              for (const rest of files.slice(i)) spool.release(rest);
              if (this.up) this.#markDown(failed.error, failed.rest.length);
              this.#report(
                new StoreError(
                  this.store.id,
                  `replay of the spool is waiting for the store (${describeError(failed.error)})`,
                  { cause: failed.error },
                ),
              );
              return false;
            }
          }
        } finally {
          batches.return(undefined);
          if (badLines > 0) {
            this.#report(
              new SpoolError(
                `spool file ${file.originalName}: skipped ${badLines} unreadable lines (a write cut short by a crash)`,
              ),
            );
          }
        }
      }
      files = spool.claim();
    }
    this.#markUp();
    this.spoolPending = 0;
    this.#onReplayed?.();
    return true;
  }

  /** Stops probing; what is in the spool stays for the next auditor that opens it. */
  stop(): void {
    this.#stopped = true;
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }
}
