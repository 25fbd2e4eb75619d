import { ExportError } from "@audit/core";
import { type Context, TraceFlags } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import type {
  ReadableSpan,
  Span,
  SpanExporter,
  SpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/** What the background export did so far. */
export interface SpanExportStats {
  /** Spans the collector accepted. */
  exportedSpans: number;
  /** Batches whose export failed (collector down, refused, timed out). */
  failedExports: number;
  /** Spans in those failed batches: lost for the tracing backend (the audit store still has them). */
  failedSpans: number;
  /** Spans dropped because the queue was full while the collector could not keep up. */
  droppedSpans: number;
  /** Spans waiting to be sent. */
  queuedSpans: number;
  /** True while the last export failed. */
  failing: boolean;
}

/** Options of {@link BoundedSpanProcessor}. */
export interface BoundedSpanProcessorOptions {
  /** Spans held while the collector is slow; past it new spans are dropped and counted. */
  maxQueueSize: number;
  /** Spans per export request. */
  maxExportBatchSize: number;
  /** How long ended spans wait to be batched. */
  scheduledDelayMs: number;
  /** How long one export may take before it counts as failed. */
  exportTimeoutMs: number;
  /** How long `forceFlush()` waits for the collector (it never waits while exports are failing). */
  flushTimeoutMs: number;
  /** Receives each failed export and the first drop of each run of drops. */
  onError: (error: ExportError) => void;
}

/**
 * A batch span processor after the SDK's `BatchSpanProcessor` (bounded queue, one timer, an export
 * timeout), with what an audit trail needs on top: every failed export and every dropped span is
 * counted and reported, and `forceFlush()` settles within a bound whatever the collector does, so a
 * dead or hanging collector never holds up the auditor's `flush()` or an approval.
 */
export class BoundedSpanProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #options: BoundedSpanProcessorOptions;
  readonly #queue: ReadableSpan[] = [];
  readonly #stats = { exportedSpans: 0, failedExports: 0, failedSpans: 0, droppedSpans: 0 };
  #failing = false;
  #dropping = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(exporter: SpanExporter, options: BoundedSpanProcessorOptions) {
    this.#exporter = exporter;
    this.#options = options;
  }

  stats(): SpanExportStats {
    return { ...this.#stats, queuedSpans: this.#queue.length, failing: this.#failing };
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#shutdown) return;
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.#queue.length >= this.#options.maxQueueSize) {
      this.#stats.droppedSpans++;
      if (!this.#dropping) {
        this.#dropping = true;
        this.#options.onError(
          new ExportError(
            "otel",
            `span queue full (${this.#options.maxQueueSize}): the collector cannot keep up, dropping spans (counted in stats().droppedSpans; the audit store keeps every event)`,
          ),
        );
      }
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#options.maxExportBatchSize) this.#drain();
    else this.#schedule();
  }

  #schedule(): void {
    if (this.#timer || this.#running) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, this.#options.scheduledDelayMs);
    this.#timer.unref();
  }

  // One export at a time, batch after batch, until the queue is empty.
  #drain(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#running) return this.#running;
    // Cleared in a callback, which always runs after this assignment, even for an empty queue.
    const running = this.#loop().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  async #loop(): Promise<void> {
    while (this.#queue.length > 0) {
      await this.#exportOne(this.#queue.splice(0, this.#options.maxExportBatchSize));
    }
  }

  async #exportOne(batch: ReadableSpan[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      new Promise<{ ok: boolean; error?: Error }>((resolve) => {
        try {
          this.#exporter.export(batch, (r) =>
            resolve({
              ok: r.code === ExportResultCode.SUCCESS,
              ...(r.error !== undefined && { error: r.error }),
            }),
          );
        } catch (err) {
          resolve({ ok: false, error: err as Error });
        }
      }),
      new Promise<{ ok: boolean; error: Error }>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              ok: false,
              error: new Error(`timed out after ${this.#options.exportTimeoutMs} ms`),
            }),
          this.#options.exportTimeoutMs,
        );
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    if (result.ok) {
      this.#stats.exportedSpans += batch.length;
      this.#failing = false;
      this.#dropping = false;
      return;
    }
    this.#stats.failedExports++;
    this.#stats.failedSpans += batch.length;
    this.#failing = true;
    this.#options.onError(
      new ExportError(
        "otel",
        `export of ${batch.length} spans failed: ${result.error?.message ?? "unknown error"} (the audit store keeps every event; failures are counted in stats().failedExports)`,
        { cause: result.error },
      ),
    );
  }

  /**
   * Starts sending what is queued and waits for it at most `flushTimeoutMs`; while exports are
   * failing it does not wait at all. It never rejects: failures go to `onError`.
   */
  forceFlush(): Promise<void> {
    const done = this.#drain();
    if (this.#failing) return Promise.resolve();
    return this.#within(done, this.#options.flushTimeoutMs);
  }

  /** Sends what is queued, then shuts the exporter down: all within the export timeout. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#within(
      (async () => {
        await this.#drain();
        await this.#exporter.shutdown();
      })(),
      this.#options.exportTimeoutMs,
    );
    return this.#shutdown;
  }

  async #within(work: Promise<void>, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      work.catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}
