import { performance } from "node:perf_hooks";
import type { AuditEvent, EventInput, EventPayloads, Risk } from "../event.js";
import { newSpanId, uuidv7 } from "../ids.js";
import { normalize } from "../normalize.js";
import { errorType, round } from "./run-trail.js";

/** What a run needs of its auditor. */
export interface RunHost {
  readonly durability: "relaxed" | "strict";
  record(input: EventInput): AuditEvent;
  commit(event: AuditEvent): Promise<void>;
}

/** Options of `auditor.startRun` and `auditor.withRun`. */
export interface RunOptions {
  /** The agent's name; also the run's `actor` unless `actor` is given. */
  agent?: string;
  /** The conversation or job this run belongs to. */
  sessionId?: string;
  /** What the run was asked to do. */
  input?: unknown;
  /** Who acts in this run. @default the agent name, else the auditor's actor */
  actor?: string;
  /** Use this run id instead of a new UUIDv7. */
  runId?: string;
  /** OpenTelemetry trace id to attach (otherwise the auditor's trace context applies). */
  traceId?: string;
  /** The span this run happens inside (e.g. a parent agent's tool call). */
  parentSpanId?: string;
}

/** A model call to record with `run.llm`. */
export type LlmCall = Omit<EventPayloads["llm.end"], "durationMs"> & {
  /** How long the call took. @default 0 */
  durationMs?: number;
  /** What was sent to the model (subject to privacy settings). */
  input?: unknown;
};

/** Extra fields for events recorded inside a run. */
export interface RunEventOptions {
  risk?: Risk;
  /** A span id of its own; by default the event hangs directly under the run. */
  spanId?: string;
}

function defaultPolicyRisk(decision: string): Risk {
  if (decision === "deny") return "high";
  if (decision === "review") return "medium";
  return "low";
}

/**
 * One agent run. Every event it records carries the run id, session, actor and span ids, and
 * timings are measured for you. Created by `auditor.startRun()` or `auditor.withRun()`.
 */
export class AuditRun {
  /** This run's id. */
  readonly runId: string;
  /** The span of the run itself; tool and model calls are its children. */
  readonly spanId: string;
  /** The session, if any. */
  readonly sessionId: string | undefined;
  /** The agent name, if any. */
  readonly agent: string | undefined;
  /** The `run.start` event. */
  readonly startEvent: AuditEvent;

  readonly #auditor: RunHost;
  readonly #actor: string | undefined;
  readonly #traceId: string | undefined;
  readonly #startedAt = performance.now();
  #endEvent: AuditEvent | undefined;

  constructor(auditor: RunHost, options: RunOptions) {
    this.#auditor = auditor;
    this.runId = options.runId ?? uuidv7();
    this.spanId = newSpanId();
    this.sessionId = options.sessionId;
    this.agent = options.agent;
    this.#actor = options.actor ?? options.agent;
    this.#traceId = options.traceId;
    const data: EventPayloads["run.start"] = {};
    if (options.agent !== undefined) data.agent = options.agent;
    if (options.input !== undefined) data.input = options.input;
    this.startEvent = this.#record("run.start", data, {
      spanId: this.spanId,
      parentSpanId: options.parentSpanId,
    });
  }

  /** True once `end` or `fail` was called. */
  get ended(): boolean {
    return this.#endEvent !== undefined;
  }

  #record(
    type: string,
    data: object,
    extra: {
      spanId?: string | undefined;
      parentSpanId?: string | undefined;
      risk?: Risk | undefined;
    },
  ): AuditEvent {
    return this.#auditor.record({
      type,
      data: data as Record<string, unknown>,
      runId: this.runId,
      ...(this.sessionId !== undefined && { sessionId: this.sessionId }),
      ...(this.#actor !== undefined && { actor: this.#actor }),
      ...(this.#traceId !== undefined && { traceId: this.#traceId }),
      ...(extra.spanId !== undefined && { spanId: extra.spanId }),
      ...(extra.parentSpanId !== undefined && { parentSpanId: extra.parentSpanId }),
      ...(extra.risk !== undefined && { risk: extra.risk }),
    });
  }

  /** Records a custom event inside the run, e.g. `run.event("memory.write", { key })`. */
  event(
    type: string,
    data: Record<string, unknown> = {},
    options: RunEventOptions = {},
  ): AuditEvent {
    return this.#record(type, data, {
      spanId: options.spanId,
      parentSpanId: this.spanId,
      risk: options.risk,
    });
  }

  /**
   * Runs a tool call and records it: `tool.start`, then `tool.end` with the result and duration, or
   * `tool.error` (and the error is rethrown). With strict durability the `tool.start` event is
   * committed before the tool runs, so a side effect never happens without its audit record.
   */
  async tool<R>(
    name: string,
    args: unknown,
    fn: () => Promise<R> | R,
    options: RunEventOptions & { callId?: string } = {},
  ): Promise<R> {
    const spanId = options.spanId ?? newSpanId();
    const callId = options.callId ?? uuidv7();
    const extra = { spanId, parentSpanId: this.spanId, risk: options.risk };
    const start = this.#record("tool.start", { tool: name, callId, args }, extra);
    if (this.#auditor.durability === "strict") await this.#auditor.commit(start);
    const t0 = performance.now();
    try {
      const result = await fn();
      const durationMs = round(performance.now() - t0);
      this.#record("tool.end", { tool: name, callId, result, durationMs }, extra);
      return result;
    } catch (err) {
      const durationMs = round(performance.now() - t0);
      this.#record(
        "tool.error",
        { tool: name, callId, error: err, errorType: errorType(err), durationMs },
        { ...extra, risk: options.risk ?? "medium" },
      );
      throw err;
    }
  }

  /** Records a finished model call as `llm.end`. */
  llm(call: LlmCall, options: RunEventOptions = {}): AuditEvent {
    return this.#record(
      "llm.end",
      { ...call, durationMs: call.durationMs ?? 0 },
      { spanId: options.spanId ?? newSpanId(), parentSpanId: this.spanId, risk: options.risk },
    );
  }

  /** Records a policy decision. Risk defaults to high for deny, medium for review, low for allow. */
  policy(decision: EventPayloads["policy.decision"], options: RunEventOptions = {}): AuditEvent {
    return this.#record("policy.decision", decision, {
      parentSpanId: this.spanId,
      spanId: options.spanId,
      risk: options.risk ?? defaultPolicyRisk(decision.decision),
    });
  }

  /** Records an action taken on the outside world (sent an email, issued a refund). */
  action(action: EventPayloads["action"], options: RunEventOptions = {}): AuditEvent {
    return this.#record("action", action, {
      parentSpanId: this.spanId,
      spanId: options.spanId,
      risk: options.risk,
    });
  }

  /** Records an error that did not end the run. */
  error(err: unknown, options: RunEventOptions = {}): AuditEvent {
    const e = normalize(err);
    const message =
      err instanceof Error ? err.message : typeof e === "string" ? e : JSON.stringify(e);
    const data: EventPayloads["error"] = { message, errorType: errorType(err) };
    if (err instanceof Error && err.stack) data.stack = err.stack;
    return this.#record("error", data, {
      parentSpanId: this.spanId,
      spanId: options.spanId,
      risk: options.risk ?? "high",
    });
  }

  /**
   * Asks a human to approve an action: records `approval.request` and returns its approval id.
   * Wait for the answer with `auditor.approvals.wait(id)`.
   */
  requestApproval(
    request: { action: string; reason?: string; options?: unknown },
    options: RunEventOptions & { approvalId?: string } = {},
  ): string {
    const approvalId = options.approvalId ?? uuidv7();
    this.#record(
      "approval.request",
      { approvalId, ...request },
      { parentSpanId: this.spanId, spanId: options.spanId, risk: options.risk ?? "high" },
    );
    return approvalId;
  }

  /** Ends the run successfully (`run.end`, status ok). Calling it again returns the first end. */
  async end(result: { output?: unknown; usage?: unknown } = {}): Promise<AuditEvent> {
    return this.#finish({ status: "ok", ...result }, undefined);
  }

  /** Ends the run with an error (`run.end`, status error, risk high). */
  async fail(err: unknown, result: { usage?: unknown } = {}): Promise<AuditEvent> {
    return this.#finish({ status: "error", error: err, ...result }, "high");
  }

  async #finish(
    data: Omit<EventPayloads["run.end"], "durationMs">,
    risk: Risk | undefined,
  ): Promise<AuditEvent> {
    if (this.#endEvent) return this.#endEvent;
    const durationMs = round(performance.now() - this.#startedAt);
    this.#endEvent = this.#record(
      "run.end",
      { ...data, durationMs },
      { spanId: this.spanId, risk },
    );
    if (this.#auditor.durability === "strict") await this.#auditor.commit(this.#endEvent);
    return this.#endEvent;
  }
}
