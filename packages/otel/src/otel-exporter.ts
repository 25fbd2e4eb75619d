import { AuditClosedError, type AuditEvent, type AuditExporter } from "@audit/core";
import {
  type Attributes,
  type Context,
  context as contextApi,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/** Options of {@link OtelExporter}. */
export interface OtelExporterOptions {
  /**
   * The tracer spans are made with.
   * @default trace.getTracer("@audit/otel") — the application's global provider
   */
  tracer?: Tracer;
  /**
   * Put model and tool content (inputs, outputs, arguments, results) into span attributes. Off by
   * default; what is exported is what the auditor's privacy settings left in the event.
   * @default false
   */
  captureContent?: boolean;
  /** Called when the exporter shuts down, after open spans were closed (flush your provider here). */
  onShutdown?: () => Promise<void>;
  /** Called by `flush()` (force-flush your provider here). */
  onFlush?: () => Promise<void>;
}

const ms = (iso: string) => Date.parse(iso);

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function json(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Drops undefined values, which OpenTelemetry attributes must not hold. */
function clean(attrs: Record<string, unknown>): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    out[k] = v as string | number | boolean;
  }
  return out;
}

/** The audit ids every span and span event carries. */
function auditAttributes(e: AuditEvent): Attributes {
  return clean({
    "audit.event.id": e.id,
    "audit.event.type": e.type,
    "audit.run.id": e.runId,
    "audit.actor": e.actor,
    "audit.risk": e.risk,
    "audit.chain.id": e.chain?.id,
    "audit.chain.seq": e.chain?.seq,
    "audit.chain.hash": e.chain?.hash,
  });
}

interface OpenSpan {
  span: Span;
  ended: boolean;
}

/**
 * Turns audit events into OpenTelemetry spans, following the GenAI semantic conventions: a run
 * becomes an `invoke_agent {agent}` span, a tool call an `execute_tool {tool}` child, a model call a
 * `chat {model}` child, each with the start and end times of its events; policy decisions,
 * approvals, actions and errors become span events; failures set status ERROR and `error.type`.
 *
 * It never installs or replaces a global tracer provider: it uses the tracer it is given, or the
 * application's. Duplicate events are ignored, an end that arrives before its start still makes a
 * whole span, and spans whose end never arrives are closed on shutdown with an explicit status.
 */
export class OtelExporter implements AuditExporter {
  readonly id = "otel";
  readonly #tracer: Tracer;
  readonly #captureContent: boolean;
  readonly #onShutdown: (() => Promise<void>) | undefined;
  readonly #onFlush: (() => Promise<void>) | undefined;
  // Keyed by the audit span id of the operation.
  readonly #open = new Map<string, OpenSpan>();
  readonly #done = new Set<string>();
  readonly #seen = new Set<string>();
  #shutdown: Promise<void> | undefined;

  constructor(options: OtelExporterOptions = {}) {
    this.#tracer = options.tracer ?? trace.getTracer("@audit/otel");
    this.#captureContent = options.captureContent ?? false;
    this.#onShutdown = options.onShutdown;
    this.#onFlush = options.onFlush;
  }

  /** Spans started and not yet ended (runs or calls whose end has not arrived). */
  get openSpans(): number {
    return this.#open.size;
  }

  async export(events: readonly AuditEvent[]): Promise<void> {
    if (this.#shutdown) throw new AuditClosedError("[audit] [exporter otel] export after shutdown");
    for (const e of events) {
      if (this.#seen.has(e.id)) continue;
      this.#remember(e.id);
      this.#handle(e);
    }
  }

  #remember(id: string): void {
    this.#seen.add(id);
    // Duplicates arrive close together (retries, replays); a bounded memory is enough.
    if (this.#seen.size > 100_000) {
      let n = 0;
      for (const old of this.#seen) {
        this.#seen.delete(old);
        if (++n >= 50_000) break;
      }
    }
  }

  // What each event type does; anything else becomes an event on its enclosing span.
  readonly #handlers: Record<string, (e: AuditEvent) => void> = {
    "run.start": (x) => this.#startRun(x),
    "run.end": (x) => this.#endRun(x),
    "tool.start": (x) => this.#startTool(x),
    "tool.end": (x) => this.#endTool(x),
    "tool.error": (x) => this.#endTool(x),
    "llm.start": (x) => this.#startLlm(x),
    "llm.end": (x) => this.#endLlm(x),
    "audit.checkpoint": () => undefined,
  };

  #handle(e: AuditEvent): void {
    const handler = this.#handlers[e.type];
    if (handler) handler(e);
    else this.#spanEvent(e);
  }

  // The context a new span starts in: its parent's span, or the remote span that was active when
  // the event was recorded, or none.
  #parentContext(e: AuditEvent): Context {
    const parent = e.parentSpanId ? this.#open.get(e.parentSpanId) : undefined;
    if (parent && !parent.ended) return trace.setSpan(contextApi.active(), parent.span);
    if (e.traceId && /^[0-9a-f]{32}$/.test(e.traceId)) {
      const spanId =
        e.parentSpanId && /^[0-9a-f]{16}$/.test(e.parentSpanId) ? e.parentSpanId : undefined;
      if (spanId) {
        return trace.setSpanContext(ROOT_CONTEXT, {
          traceId: e.traceId,
          spanId,
          traceFlags: TraceFlags.SAMPLED,
          isRemote: true,
        });
      }
    }
    return ROOT_CONTEXT;
  }

  #start(
    key: string,
    name: string,
    e: AuditEvent,
    startTime: number,
    attributes: Attributes,
  ): OpenSpan | undefined {
    if (this.#open.has(key) || this.#done.has(key)) return undefined;
    const span = this.#tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, startTime, attributes: { ...auditAttributes(e), ...attributes } },
      this.#parentContext(e),
    );
    const open = { span, ended: false };
    this.#open.set(key, open);
    return open;
  }

  #finish(key: string, endTime: number): void {
    const open = this.#open.get(key);
    if (!open) return;
    open.ended = true;
    open.span.end(endTime);
    this.#open.delete(key);
    this.#done.add(key);
    if (this.#done.size > 100_000) this.#done.clear();
  }

  // A failure: status ERROR with the message, `error.type`, and an `exception` span event.
  #failed(span: Span, errorType: string, message: string | undefined, time: number): void {
    this.#fail(span, errorType, message);
    span.addEvent(
      "exception",
      clean({ "exception.type": errorType, "exception.message": message }),
      time,
    );
  }

  #fail(span: Span, errorType: string, message: string | undefined): void {
    span.setAttribute("error.type", errorType);
    span.setStatus({ code: SpanStatusCode.ERROR, ...(message !== undefined && { message }) });
  }

  #runAttributes(e: AuditEvent, agent: string | undefined): Attributes {
    return clean({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": agent,
      "gen_ai.conversation.id": e.sessionId,
      "gen_ai.input.messages": this.#captureContent ? json(e.data.input) : undefined,
    });
  }

  #startRun(e: AuditEvent): void {
    const agent = str(e.data.agent) ?? e.actor;
    this.#start(
      e.spanId ?? e.id,
      agent ? `invoke_agent ${agent}` : "invoke_agent",
      e,
      ms(e.time),
      this.#runAttributes(e, agent),
    );
  }

  // The span an end event closes. When its start never reached us (an out-of-order batch, or a
  // model call recorded as one event), it is made now, starting the end's duration earlier.
  #spanToEnd(
    key: string,
    e: AuditEvent,
    name: string,
    attributes: () => Attributes,
  ): OpenSpan | undefined {
    if (this.#done.has(key)) return undefined;
    return (
      this.#open.get(key) ??
      this.#start(key, name, e, ms(e.time) - (num(e.data.durationMs) ?? 0), attributes())
    );
  }

  #endRun(e: AuditEvent): void {
    const key = e.spanId ?? e.runId ?? e.id;
    const open = this.#spanToEnd(key, e, e.actor ? `invoke_agent ${e.actor}` : "invoke_agent", () =>
      this.#runAttributes(e, e.actor),
    );
    if (!open) return;
    const span = open.span;
    span.setAttribute("audit.run.end.event.id", e.id);
    if (this.#captureContent && e.data.output !== undefined)
      span.setAttribute("gen_ai.output.messages", json(e.data.output)!);
    if (e.data.status === "error") {
      const err = e.data.error as { name?: string; message?: string } | undefined;
      this.#failed(span, str(err?.name) ?? "Error", str(err?.message), ms(e.time));
    } else {
      span.setStatus({ code: SpanStatusCode.OK });
    }
    this.#finish(key, ms(e.time));
  }

  #toolAttributes(e: AuditEvent): Attributes {
    return clean({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": str(e.data.tool),
      "gen_ai.tool.call.id": str(e.data.callId),
      "gen_ai.conversation.id": e.sessionId,
      "gen_ai.tool.call.arguments": this.#captureContent ? json(e.data.args) : undefined,
    });
  }

  #startTool(e: AuditEvent): void {
    const tool = str(e.data.tool) ?? "tool";
    this.#start(
      e.spanId ?? str(e.data.callId) ?? e.id,
      `execute_tool ${tool}`,
      e,
      ms(e.time),
      this.#toolAttributes(e),
    );
  }

  #endTool(e: AuditEvent): void {
    const key = e.spanId ?? str(e.data.callId) ?? e.id;
    const open = this.#spanToEnd(key, e, `execute_tool ${str(e.data.tool) ?? "tool"}`, () =>
      this.#toolAttributes(e),
    );
    if (!open) return;
    const span = open.span;
    span.setAttribute("audit.tool.end.event.id", e.id);
    if (e.type === "tool.error") {
      const err = e.data.error as { name?: string; message?: string } | undefined;
      const errorType = str(e.data.errorType) ?? str(err?.name) ?? "Error";
      this.#failed(span, errorType, str(err?.message), ms(e.time));
    } else {
      if (this.#captureContent && e.data.result !== undefined)
        span.setAttribute("gen_ai.tool.call.result", json(e.data.result)!);
      span.setStatus({ code: SpanStatusCode.OK });
    }
    this.#finish(key, ms(e.time));
  }

  #llmAttributes(e: AuditEvent): Attributes {
    return clean({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": str(e.data.provider),
      "gen_ai.request.model": str(e.data.model),
      "gen_ai.conversation.id": e.sessionId,
      "gen_ai.input.messages": this.#captureContent ? json(e.data.input) : undefined,
    });
  }

  #startLlm(e: AuditEvent): void {
    const model = str(e.data.model);
    this.#start(
      e.spanId ?? e.id,
      model ? `chat ${model}` : "chat",
      e,
      ms(e.time),
      this.#llmAttributes(e),
    );
  }

  // A model call is usually one llm.end event carrying its duration; an llm.start before it (same
  // span id) opens the span early.
  #endLlm(e: AuditEvent): void {
    const key = e.spanId ?? e.id;
    const model = str(e.data.model);
    const open = this.#spanToEnd(key, e, model ? `chat ${model}` : "chat", () =>
      this.#llmAttributes(e),
    );
    if (!open) return;
    const span = open.span;
    span.setAttributes(
      clean({
        "audit.llm.end.event.id": e.id,
        "gen_ai.response.model": str(e.data.model),
        "gen_ai.usage.input_tokens": num(e.data.inputTokens),
        "gen_ai.usage.output_tokens": num(e.data.outputTokens),
        "gen_ai.response.finish_reasons": str(e.data.finishReason),
        "audit.llm.cost_usd": num(e.data.costUsd),
        "gen_ai.output.messages": this.#captureContent ? json(e.data.output) : undefined,
      }),
    );
    this.#finish(key, ms(e.time));
  }

  // Policy decisions, approvals, actions, errors and custom events: events on the enclosing span.
  #spanEvent(e: AuditEvent): void {
    const target =
      (e.parentSpanId && this.#open.get(e.parentSpanId)) ||
      (e.spanId && this.#open.get(e.spanId)) ||
      undefined;
    if (!target) return;
    const d = e.data;
    const attrs: Record<string, unknown> = { ...auditAttributes(e) };
    switch (e.type) {
      case "policy.decision":
        Object.assign(attrs, {
          "audit.policy.name": d.policy,
          "audit.policy.decision": d.decision,
          "audit.policy.rule": d.rule,
          "audit.policy.reason": d.reason,
        });
        break;
      case "approval.request":
        Object.assign(attrs, {
          "audit.approval.id": d.approvalId,
          "audit.approval.action": d.action,
          "audit.approval.reason": d.reason,
        });
        break;
      case "approval.resolve":
        Object.assign(attrs, {
          "audit.approval.id": d.approvalId,
          "audit.approval.outcome": d.outcome,
          "audit.approval.resolved_by": d.resolvedBy,
        });
        break;
      case "action":
        Object.assign(attrs, {
          "audit.action.type": d.actionType,
          "audit.action.target": d.target,
          "audit.action.status": d.status,
        });
        break;
      case "error":
        target.span.addEvent(
          "exception",
          clean({ ...attrs, "exception.type": d.errorType, "exception.message": d.message }),
          ms(e.time),
        );
        return;
    }
    target.span.addEvent(
      e.type === "policy.decision" ? "audit.policy.decision" : `audit.${e.type}`,
      clean(attrs),
      ms(e.time),
    );
  }

  async flush(): Promise<void> {
    await this.#onFlush?.();
  }

  /**
   * Ends every span still open — runs that never ended (a crash) — with status ERROR,
   * `error.type` `"audit.unfinished"` and the attribute `audit.unfinished`, then calls `onShutdown`.
   * Idempotent; `export` afterwards rejects.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      const now = Date.now();
      for (const [key, open] of this.#open) {
        open.span.setAttribute("audit.unfinished", true);
        this.#fail(
          open.span,
          "audit.unfinished",
          "the run ended without its end event (crash or shutdown)",
        );
        this.#finish(key, now);
      }
      await this.#onShutdown?.();
    })();
    return this.#shutdown;
  }
}
