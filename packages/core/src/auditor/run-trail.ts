import { performance } from "node:perf_hooks";
import type { AuditEvent, EventInput, Risk } from "../event.js";
import { newSpanId, uuidv7 } from "../ids.js";

/** What a run trail needs of its auditor. */
export interface RunTrailHost {
  record(input: EventInput): AuditEvent;
}

/** Where a run sits: its ids and the envelope fields every one of its events carries. */
export interface RunTrailInit {
  runId?: string;
  parentSpanId?: string;
  sessionId?: string;
  actor?: string;
}

/**
 * The events of one framework run, for integrations. `auditor.startRun` writes a fixed
 * `run.start` payload; a framework run also carries the framework's own ids (call id, operation,
 * model), so this writes the run's events itself, with the same envelope `AuditRun` gives them.
 */
export class RunTrail {
  /** The run's id. */
  readonly runId: string;
  /** The span of the run itself. */
  readonly spanId = newSpanId();
  readonly #audit: RunTrailHost;
  readonly #init: RunTrailInit;
  readonly #startedAt = performance.now();
  #ended = false;

  constructor(audit: RunTrailHost, init: RunTrailInit) {
    this.#audit = audit;
    this.#init = init;
    this.runId = init.runId ?? uuidv7();
  }

  /** True once `end` was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Milliseconds since the run started. */
  elapsed(): number {
    return round(performance.now() - this.#startedAt);
  }

  /** Records `run.start`. */
  start(data: Record<string, unknown>): AuditEvent {
    return this.#write("run.start", data, this.spanId, this.#init.parentSpanId, undefined);
  }

  /** Records an event under the run span, or under `parentSpanId` when given. */
  record(
    type: string,
    data: Record<string, unknown>,
    options: { spanId?: string; parentSpanId?: string; risk?: Risk } = {},
  ): AuditEvent {
    return this.#write(
      type,
      data,
      options.spanId,
      options.parentSpanId ?? this.spanId,
      options.risk,
    );
  }

  /** Records `run.end` once; later calls do nothing and return undefined. */
  end(data: Record<string, unknown> & { status: "ok" | "error" }): AuditEvent | undefined {
    if (this.#ended) return undefined;
    this.#ended = true;
    return this.#write(
      "run.end",
      { ...data, durationMs: this.elapsed() },
      this.spanId,
      this.#init.parentSpanId,
      data.status === "error" ? "high" : undefined,
    );
  }

  #write(
    type: string,
    data: Record<string, unknown>,
    spanId: string | undefined,
    parentSpanId: string | undefined,
    risk: Risk | undefined,
  ): AuditEvent {
    const { sessionId, actor } = this.#init;
    return this.#audit.record({
      type,
      data,
      runId: this.runId,
      ...(sessionId !== undefined && { sessionId }),
      ...(actor !== undefined && { actor }),
      ...(spanId !== undefined && { spanId }),
      ...(parentSpanId !== undefined && { parentSpanId }),
      ...(risk !== undefined && { risk }),
    });
  }
}

/** Milliseconds with microsecond precision, as durations are recorded. */
export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The type name the trail records for a thrown value (`errorType` in error payloads). */
export function errorType(err: unknown): string {
  if (err instanceof Error) return err.name || "Error";
  if (err && typeof err === "object" && typeof (err as { name?: unknown }).name === "string")
    return (err as { name: string }).name;
  return typeof err;
}
