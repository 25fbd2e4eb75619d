import type { AuditEvent } from "../event.js";

/**
 * A sink the trail fans out to besides the store: a logger, an OpenTelemetry collector, a witness.
 * Modelled on OpenTelemetry's SpanExporter, but promise-based. Exporter failures are reported to
 * `onError` and counted; they never reach the agent and never block the store.
 */
export interface AuditExporter {
  /** Short name used in errors and counters: `"console"`, `"otel"`, … */
  readonly id: string;
  /** Sends a batch. Rejects on failure; the auditor reports it and carries on. */
  export(events: readonly AuditEvent[]): Promise<void>;
  /** Sends whatever the exporter buffers itself. */
  flush?(): Promise<void>;
  /** Flushes and releases resources. Idempotent; `export` after it rejects cleanly. */
  shutdown?(): Promise<void>;
  /**
   * The exporter's own counters (for one that buffers and sends in the background, its failed and
   * dropped sends), shown in `auditor.health().exporters[].details`.
   */
  stats?(): object;
}
