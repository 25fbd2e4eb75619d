import { AuditClosedError, ExportError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import type { AuditExporter } from "./exporter.js";

/** Options of {@link CompositeExporter}. */
export interface CompositeExporterOptions {
  /** The children. Each gets every batch, whatever the others do. */
  exporters: readonly AuditExporter[];
  /**
   * Called once per failing child per batch. Without it, `export` rejects with an
   * `AggregateError` of the failures after every child has had the batch.
   */
  onError?: (error: ExportError) => void;
}

/**
 * Fans a batch out to several exporters in parallel. A failing or throwing child never stops the
 * others: every child is called, and the failures are reported afterwards.
 */
export class CompositeExporter implements AuditExporter {
  readonly id: string;
  readonly #children: readonly AuditExporter[];
  readonly #onError: ((error: ExportError) => void) | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(options: CompositeExporterOptions) {
    this.#children = [...options.exporters];
    this.#onError = options.onError;
    this.id = `composite(${this.#children.map((c) => c.id).join(",")})`;
  }

  async export(events: readonly AuditEvent[]): Promise<void> {
    if (this.#shutdown) throw new AuditClosedError(`[exporter ${this.id}] export after shutdown`);
    await this.#each("export failed", (c) => c.export(events));
  }

  async flush(): Promise<void> {
    await this.#each("flush failed", (c) => c.flush?.());
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#each("shutdown failed", (c) => c.shutdown?.());
    return this.#shutdown;
  }

  async #each(what: string, call: (child: AuditExporter) => unknown): Promise<void> {
    // Promise.resolve().then(...) turns a synchronous throw into a rejection of that child only.
    const results = await Promise.allSettled(
      this.#children.map((c) => Promise.resolve().then(() => call(c))),
    );
    const errors: ExportError[] = [];
    results.forEach((r, i) => {
      if (r.status === "rejected") {
        const child = this.#children[i]!;
        errors.push(
          new ExportError(
            child.id,
            `${what}: ${String((r.reason as Error)?.message ?? r.reason)}`,
            { cause: r.reason },
          ),
        );
      }
    });
    if (errors.length === 0) return;
    if (this.#onError) {
      for (const e of errors) {
        try {
          this.#onError(e);
        } catch {
          // A throwing error handler must not undo the isolation.
        }
      }
      return;
    }
    throw new AggregateError(
      errors,
      `[exporter ${this.id}] ${errors.length} of ${this.#children.length} children failed`,
    );
  }
}
