import { createHash } from "node:crypto";
import { type IdGenerator, RandomIdGenerator } from "@opentelemetry/sdk-trace-base";

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/** True for a valid W3C trace id: 32 lowercase hex characters, not all zero. */
export function isTraceId(value: unknown): value is string {
  return typeof value === "string" && TRACE_ID.test(value) && !/^0+$/.test(value);
}

/** True for a valid W3C span id: 16 lowercase hex characters, not all zero. */
export function isSpanId(value: unknown): value is string {
  return typeof value === "string" && SPAN_ID.test(value) && !/^0+$/.test(value);
}

function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * The trace id of a run whose events carry none: the run id's 128 bits when it is a UUID (so the
 * trace can be found from the run id by eye), else the first 128 bits of its SHA-256.
 */
export function traceIdOfRun(runId: string): string {
  const hex = runId.replaceAll("-", "").toLowerCase();
  if (
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(runId) &&
    isTraceId(hex)
  )
    return hex;
  return digest(`audit.trace:${runId}`).slice(0, 32);
}

/** The span id of a run whose `run.start` carries none (an event recorded by hand). */
export function spanIdOfRun(runId: string): string {
  return digest(`audit.run:${runId}`).slice(0, 16);
}

/**
 * An OpenTelemetry id generator that hands out the ids the audit events already carry, so that an
 * exported span's ids are the audit event's `spanId` and `traceId`. Every id not asked for (the
 * application's own spans) is random, as with the SDK's default generator.
 *
 * `createOtlpExporter` installs it in its own provider. To get the same ids through your own
 * provider, pass it there: `new NodeTracerProvider({ idGenerator: auditIdGenerator })`.
 */
export class AuditIdGenerator implements IdGenerator {
  readonly #random = new RandomIdGenerator();
  #traceId: string | undefined;
  #spanId: string | undefined;

  /**
   * Ids for the next span started, used by the exporter right before `startSpan`; starting a span
   * is synchronous, so no other span can take them in between.
   */
  next(ids: { traceId?: string | undefined; spanId?: string | undefined }): void {
    this.#traceId = isTraceId(ids.traceId) ? ids.traceId : undefined;
    this.#spanId = isSpanId(ids.spanId) ? ids.spanId : undefined;
  }

  /** Forgets ids that no span took (the tracer was not ours). */
  clear(): void {
    this.#traceId = undefined;
    this.#spanId = undefined;
  }

  /** The trace id set by `next()`, once, else a random one. */
  generateTraceId(): string {
    const id = this.#traceId;
    this.#traceId = undefined;
    return id ?? this.#random.generateTraceId();
  }

  /** The span id set by `next()`, once, else a random one. */
  generateSpanId(): string {
    const id = this.#spanId;
    this.#spanId = undefined;
    return id ?? this.#random.generateSpanId();
  }
}

/** The generator `createOtlpExporter` uses; give it to your own provider to keep the ids equal. */
export const auditIdGenerator = new AuditIdGenerator();
