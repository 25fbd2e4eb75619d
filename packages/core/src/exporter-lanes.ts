import { ExportError } from "./errors.js";
import type { AuditEvent } from "./event.js";
import type { AuditExporter } from "./exporter.js";

interface Lane {
  exporter: AuditExporter;
  tail: Promise<void>;
  pending: number;
  dropped: number;
  failed: number;
}

/**
 * Sends batches to each exporter on its own lane: batches reach one exporter in order and one at a
 * time, while a slow or failing exporter holds up neither the store nor the other exporters. A lane
 * holds at most `maxPending` events; past that, batches for that exporter are dropped and counted,
 * as OpenTelemetry's BatchSpanProcessor does, because an exporter must never grow memory unbounded.
 */
export class ExporterLanes {
  readonly #lanes: Lane[];
  readonly #maxPending: number;
  readonly #timeoutMs: number;
  readonly #report: (error: ExportError) => void;

  constructor(
    exporters: readonly AuditExporter[],
    options: { maxPending: number; timeoutMs: number; report: (error: ExportError) => void },
  ) {
    this.#lanes = exporters.map((exporter) => ({
      exporter,
      tail: Promise.resolve(),
      pending: 0,
      dropped: 0,
      failed: 0,
    }));
    this.#maxPending = options.maxPending;
    this.#timeoutMs = options.timeoutMs;
    this.#report = options.report;
  }

  get size(): number {
    return this.#lanes.length;
  }

  /** Events dropped because a lane was full, over all exporters. */
  get dropped(): number {
    return this.#lanes.reduce((n, l) => n + l.dropped, 0);
  }

  /** Batches whose export failed, over all exporters. */
  get failed(): number {
    return this.#lanes.reduce((n, l) => n + l.failed, 0);
  }

  /** Queues a batch for every exporter. Never throws. */
  dispatch(batch: readonly AuditEvent[]): void {
    for (const lane of this.#lanes) {
      if (lane.pending + batch.length > this.#maxPending) {
        if (lane.dropped === 0) {
          this.#report(
            new ExportError(
              lane.exporter.id,
              `cannot keep up: dropping batches while ${lane.pending} events are waiting (further drops are counted in stats().exportDropped)`,
            ),
          );
        }
        lane.dropped += batch.length;
        continue;
      }
      lane.pending += batch.length;
      lane.tail = lane.tail
        .then(() => this.#withTimeout(lane.exporter, () => lane.exporter.export(batch), "export"))
        .catch((err: unknown) => {
          lane.failed++;
          this.#report(wrap(lane.exporter, "export failed", err));
        })
        .finally(() => {
          lane.pending -= batch.length;
        });
    }
  }

  /** Resolves when every queued batch has been handled, then asks each exporter to flush. */
  async flush(): Promise<void> {
    await Promise.all(
      this.#lanes.map(async (lane) => {
        await lane.tail;
        if (!lane.exporter.flush) return;
        try {
          await this.#withTimeout(lane.exporter, () => lane.exporter.flush!(), "flush");
        } catch (err) {
          this.#report(wrap(lane.exporter, "flush failed", err));
        }
      }),
    );
  }

  /** Flushes, then shuts every exporter down. */
  async shutdown(): Promise<void> {
    await this.flush();
    await Promise.all(
      this.#lanes.map(async (lane) => {
        if (!lane.exporter.shutdown) return;
        try {
          await this.#withTimeout(lane.exporter, () => lane.exporter.shutdown!(), "shutdown");
        } catch (err) {
          this.#report(wrap(lane.exporter, "shutdown failed", err));
        }
      }),
    );
  }

  async #withTimeout(
    exporter: AuditExporter,
    call: () => Promise<void> | void,
    what: string,
  ): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ExportError(exporter.id, `${what} timed out after ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      timer.unref();
    });
    try {
      await Promise.race([Promise.resolve().then(call), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function wrap(exporter: AuditExporter, what: string, err: unknown): ExportError {
  if (err instanceof ExportError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ExportError(exporter.id, `${what}: ${message}`, { cause: err });
}
