import { withTimeout } from "../durable/timeout.js";
import { type AuditError, ExportError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import type { AuditExporter } from "./exporter.js";

/** What one exporter's lane has done. */
export interface ExporterHealth {
  id: string;
  /** Batches the exporter took. */
  ok: number;
  /** Calls (export, flush, shutdown) that threw or rejected. */
  failed: number;
  /** Calls that did not settle within the timeout. */
  timedOut: number;
  /** Events not handed to it because its lane was full. */
  dropped: number;
  /** Events waiting in its lane. */
  pending: number;
  /** The last failure, if any. */
  lastError?: string;
  /** The exporter's own counters, when it has a `stats()` method. */
  details?: object;
}

interface Lane {
  exporter: AuditExporter;
  tail: Promise<void>;
  health: ExporterHealth;
}

/**
 * Sends batches to each exporter on its own lane. Contract: batches reach one exporter in order,
 * one at a time; every call has its own timeout and counts as failed or timed out when it does
 * not succeed; a lane holds at most `maxPending` events (past that, batches for that exporter are
 * dropped and counted, as OpenTelemetry's BatchSpanProcessor does); `flush` and `shutdown` settle
 * within one timeout whatever the exporters do; nothing here ever throws or rejects.
 */
export class ExporterLanes {
  readonly #lanes: Lane[];
  readonly #maxPending: number;
  readonly #timeoutMs: number;
  readonly #report: (error: AuditError) => void;

  constructor(
    exporters: readonly AuditExporter[],
    options: { maxPending: number; timeoutMs: number; report: (error: AuditError) => void },
  ) {
    this.#lanes = exporters.map((exporter) => ({
      exporter,
      tail: Promise.resolve(),
      health: { id: exporter.id, ok: 0, failed: 0, timedOut: 0, dropped: 0, pending: 0 },
    }));
    this.#maxPending = options.maxPending;
    this.#timeoutMs = options.timeoutMs;
    this.#report = options.report;
  }

  get size(): number {
    return this.#lanes.length;
  }

  /** Per-exporter counts. */
  health(): ExporterHealth[] {
    return this.#lanes.map((l) => {
      const h: ExporterHealth = { ...l.health };
      if (l.exporter.stats) {
        try {
          h.details = l.exporter.stats();
        } catch {
          // An exporter's counters are informative; a failing one must not break health().
        }
      }
      return h;
    });
  }

  /** Events dropped because a lane was full, over all exporters. */
  get dropped(): number {
    return this.#lanes.reduce((n, l) => n + l.health.dropped, 0);
  }

  /** Calls that failed or timed out, over all exporters. */
  get failed(): number {
    return this.#lanes.reduce((n, l) => n + l.health.failed + l.health.timedOut, 0);
  }

  /** Queues a batch for every exporter. Never throws. */
  dispatch(batch: readonly AuditEvent[]): void {
    if (batch.length === 0) return;
    for (const lane of this.#lanes) {
      const h = lane.health;
      if (h.pending + batch.length > this.#maxPending) {
        if (h.dropped === 0) {
          this.#report(
            new ExportError(
              h.id,
              `cannot keep up: dropping batches while ${h.pending} events are waiting (further drops are counted in health().exporters)`,
            ),
          );
        }
        h.dropped += batch.length;
        continue;
      }
      h.pending += batch.length;
      lane.tail = lane.tail
        .then(() => this.#call(lane, "export", () => lane.exporter.export(batch)))
        .then((ok) => {
          if (ok) h.ok++;
        })
        .finally(() => {
          h.pending -= batch.length;
        });
    }
  }

  // One exporter call with its timeout; failures are counted and reported, never thrown.
  async #call(lane: Lane, what: string, call: () => Promise<void> | void): Promise<boolean> {
    const h = lane.health;
    try {
      await withTimeout(
        call,
        this.#timeoutMs,
        () => new ExporterTimeout(h.id, what, this.#timeoutMs),
      );
      return true;
    } catch (err) {
      if (err instanceof ExporterTimeout) h.timedOut++;
      else h.failed++;
      const wrapped =
        err instanceof ExportError
          ? err
          : new ExportError(
              h.id,
              `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
              {
                cause: err,
              },
            );
      h.lastError = wrapped.message;
      this.#report(wrapped);
      return false;
    }
  }

  /**
   * Waits for every queued batch and asks each exporter to flush — but never longer than one
   * exporter timeout in all: a hung exporter is left behind, counted, and never delays the caller
   * beyond that bound.
   */
  async flush(): Promise<void> {
    await this.#bounded(async (lane) => {
      await lane.tail;
      if (lane.exporter.flush) await this.#call(lane, "flush", () => lane.exporter.flush!());
    });
  }

  /** Flushes, then shuts every exporter down; bounded like `flush`. */
  async shutdown(): Promise<void> {
    await this.#bounded(async (lane) => {
      await lane.tail;
      if (lane.exporter.flush) await this.#call(lane, "flush", () => lane.exporter.flush!());
      if (lane.exporter.shutdown) {
        await this.#call(lane, "shutdown", () => lane.exporter.shutdown!());
      }
    });
  }

  async #bounded(step: (lane: Lane) => Promise<void>): Promise<void> {
    if (this.#lanes.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#timeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([
        Promise.all(this.#lanes.map((l) => step(l).catch(() => undefined))),
        bound,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

class ExporterTimeout extends ExportError {
  constructor(id: string, what: string, ms: number) {
    super(id, `${what} timed out after ${ms} ms`);
  }
}
