import {
  AuditClosedError,
  type AuditError,
  type AuditEvent,
  type AuditExporter,
  ExportError,
} from "@audit/core";
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { auditAttributes, clean, errorOf, higherRisk, json, num, str } from "./attributes.js";
import type { SpanExportStats } from "./bounded-span-processor.js";
import {
  type AuditIdGenerator,
  auditIdGenerator,
  isSpanId,
  isTraceId,
  spanIdOfRun,
  traceIdOfRun,
} from "./ids.js";
import { type AuditLogger, logRecordOf } from "./log-records.js";
import { inputMessages, outputMessages } from "./messages.js";
import { BoundedMap, type OpenRun, type OpenSpan, type RunIds } from "./open-runs.js";
import { reportOnceToStderr } from "./report-once.js";
import { traceFlagsOf } from "./trace-context.js";

/** Options of {@link OtelExporter}. */
export interface OtelExporterOptions {
  /**
   * The tracer spans are made with.
   * @default trace.getTracer("@audit/otel") — the application's global provider
   */
  tracer?: Tracer;
  /**
   * The id generator of the tracer's provider. When it is this generator, exported span and trace
   * ids are the audit events' own; otherwise the provider picks ids and each span carries the
   * audit id as `audit.span.id`.
   * @default auditIdGenerator
   */
  idGenerator?: AuditIdGenerator;
  /**
   * Put model and tool content into span attributes (`gen_ai.input.messages`,
   * `gen_ai.output.messages`, `gen_ai.tool.call.arguments`, `gen_ai.tool.call.result`): opt-in, as
   * the GenAI conventions require. What is exported is what the auditor's privacy settings left in
   * the event.
   * @default true when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is "true", else false
   */
  captureContent?: boolean;
  /**
   * `gen_ai.provider.name` of a run's `invoke_agent` span when neither its `run.start` nor any of
   * its model calls names a provider (the conventions require the attribute).
   * @default "unknown"
   */
  providerName?: string;
  /**
   * Runs held open at most; past it the oldest is ended as unfinished and counted in
   * `stats().runsEvicted`. Bounds memory when runs never end.
   * @default 10000
   */
  maxOpenRuns?: number;
  /**
   * How long a run (or a call outside any run) may stay open before it is ended as unfinished and
   * counted in `stats().runsEvicted`.
   * @default 3600000 (one hour)
   */
  maxRunAgeMs?: number;
  /**
   * Receives what the exporter shields the auditor from: background export failures, dropped
   * spans, the first eviction.
   * @default the first of each kind is written to stderr
   */
  onError?: (error: AuditError) => void;
  /** Called by `flush()` (force-flush your provider here); it should settle promptly. */
  onFlush?: () => Promise<void>;
  /** Called when the exporter shuts down, after open spans were closed (shut your provider here). */
  onShutdown?: () => Promise<void>;
  /** Counters of the background export, when the exporter owns its provider. */
  exportStats?: () => SpanExportStats;
  /**
   * Also emit every audit event as an OpenTelemetry log record, correlated with its span, for
   * backends that keep logs longer than traces: a `Logger` of `@opentelemetry/api-logs`.
   * @default none (no log records)
   */
  logger?: AuditLogger;
  /**
   * `false` makes the exporter a no-op (as with `OTEL_SDK_DISABLED=true`).
   * @default true
   */
  enabled?: boolean;
}

/** Counters of {@link OtelExporter}, for health checks. */
export interface OtelExporterStats extends SpanExportStats {
  /** False when the exporter is a no-op (`OTEL_SDK_DISABLED`). */
  enabled: boolean;
  /** Runs whose `run.end` has not arrived. */
  openRuns: number;
  /** Spans started and not yet ended. */
  openSpans: number;
  /** Runs ended as unfinished because of `maxOpenRuns` or `maxRunAgeMs`. */
  runsEvicted: number;
  /** Spans ended as unfinished with them (their calls, and calls outside any run). */
  spansEvicted: number;
}

const NO_EXPORT_STATS: SpanExportStats = {
  exportedSpans: 0,
  failedExports: 0,
  failedSpans: 0,
  droppedSpans: 0,
  queuedSpans: 0,
  failing: false,
};

const ms = (iso: string) => Date.parse(iso);

/**
 * Turns audit events into OpenTelemetry spans following the GenAI semantic conventions v1.41.0: a
 * run becomes an `invoke_agent {agent}` span (INTERNAL), a tool call an `execute_tool {tool}` child
 * (INTERNAL), a model call a `chat {model}` child (CLIENT), each with the start and end times of its
 * events; policy decisions, approvals and their resolutions, actions and errors become span events
 * of their run; an event outside any run becomes a span of its own.
 *
 * Ids join up: with the {@link auditIdGenerator} in the provider (as `createOtlpExporter` does),
 * an exported span's id is the audit event's `spanId` and its trace id the event's `traceId`, or,
 * for a run recorded outside any trace, the run id's 128 bits.
 *
 * It never installs or replaces a global tracer provider. Duplicate events are ignored, an end that
 * arrives before its start still makes a whole span, runs that never end are ended as unfinished
 * past `maxOpenRuns` or `maxRunAgeMs`, and on shutdown.
 */
export class OtelExporter implements AuditExporter {
  readonly id = "otel";
  readonly #tracer: Tracer;
  readonly #ids: AuditIdGenerator;
  readonly #captureContent: boolean;
  readonly #providerName: string;
  readonly #maxOpenRuns: number;
  readonly #maxRunAgeMs: number;
  readonly #enabled: boolean;
  readonly #onError: (error: AuditError) => void;
  readonly #onShutdown: (() => Promise<void>) | undefined;
  readonly #onFlush: (() => Promise<void>) | undefined;
  readonly #exportStats: (() => SpanExportStats) | undefined;
  readonly #logger: AuditLogger | undefined;
  // Open spans by the audit span id of their operation; insertion order is opening order.
  readonly #open = new Map<string, OpenSpan>();
  // Open runs by run id; insertion order is opening order, which the age limit relies on.
  readonly #runs = new Map<string, OpenRun>();
  // Spans open outside any run, so that they too are bounded.
  readonly #orphans = new Set<string>();
  // Runs already ended or evicted: late events still hang under them.
  readonly #closedRuns = new BoundedMap<string, RunIds>(100_000);
  // Exported span context of every audit span id seen, to parent children whatever the ids.
  readonly #contexts = new BoundedMap<string, SpanContext>(100_000);
  readonly #done = new BoundedMap<string, true>(100_000);
  readonly #seen = new BoundedMap<string, true>(100_000);
  #idsFollow = true;
  #runsEvicted = 0;
  #spansEvicted = 0;
  #shutdown: Promise<void> | undefined;

  constructor(options: OtelExporterOptions = {}) {
    this.#tracer = options.tracer ?? trace.getTracer("@audit/otel");
    this.#ids = options.idGenerator ?? auditIdGenerator;
    this.#captureContent =
      options.captureContent ??
      process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.trim().toLowerCase() ===
        "true";
    this.#providerName = options.providerName ?? "unknown";
    this.#maxOpenRuns = positive(options.maxOpenRuns, 10_000, "maxOpenRuns");
    this.#maxRunAgeMs = positive(options.maxRunAgeMs, 3_600_000, "maxRunAgeMs");
    this.#enabled = options.enabled ?? true;
    this.#onError = options.onError ?? reportOnceToStderr();
    this.#onShutdown = options.onShutdown;
    this.#onFlush = options.onFlush;
    this.#exportStats = options.exportStats;
    this.#logger = options.logger;
  }

  /** Spans started and not yet ended (runs or calls whose end has not arrived). */
  get openSpans(): number {
    return this.#open.size;
  }

  /** What the exporter holds and what its background export did. */
  stats(): OtelExporterStats {
    return {
      ...(this.#exportStats?.() ?? NO_EXPORT_STATS),
      enabled: this.#enabled,
      openRuns: this.#runs.size,
      openSpans: this.#open.size,
      runsEvicted: this.#runsEvicted,
      spansEvicted: this.#spansEvicted,
    };
  }

  /** Turns the events into spans. Synchronous work only: sending happens in the background. */
  async export(events: readonly AuditEvent[]): Promise<void> {
    if (this.#shutdown) throw new AuditClosedError("[audit] [exporter otel] export after shutdown");
    if (!this.#enabled) return;
    for (const e of events) {
      if (this.#seen.has(e.id)) continue;
      this.#seen.set(e.id, true);
      try {
        this.#handle(e);
        this.#logger?.emit(logRecordOf(e, this.#spanContextOf(e)));
      } catch (err) {
        // One event the mapping cannot take must not cost the rest of the batch its spans.
        this.#onError(
          new ExportError(
            "otel",
            `event ${String(e.id)} (${String(e.type)}) could not become a span: ${(err as Error)?.message ?? err}`,
            { cause: err },
          ),
        );
      }
    }
    this.#evict(Date.now());
  }

  // What each event type does; anything else becomes an event of its enclosing span.
  readonly #handlers: Record<string, (e: AuditEvent) => void> = {
    "run.start": (x) => this.#startRun(x),
    "run.end": (x) => this.#endRun(x),
    "tool.start": (x) => this.#startCall(x, this.#tool),
    "tool.end": (x) => this.#endCall(x, this.#tool),
    "tool.error": (x) => this.#endCall(x, this.#tool),
    "llm.start": (x) => this.#startCall(x, this.#llm),
    "llm.end": (x) => this.#endCall(x, this.#llm),
    // Integrity bookkeeping of the auditor, not an operation of the agent.
    "audit.checkpoint": () => undefined,
  };

  #handle(e: AuditEvent): void {
    const handler = this.#handlers[e.type];
    if (handler) handler(e);
    else this.#spanEvent(e);
  }

  // The exported span an event belongs to: its own, the one it happened in, or its run's.
  #spanContextOf(e: AuditEvent): SpanContext | undefined {
    const run =
      e.runId !== undefined
        ? (this.#runs.get(e.runId) ?? this.#closedRuns.get(e.runId))
        : undefined;
    return (
      (e.spanId !== undefined ? this.#contexts.get(e.spanId) : undefined) ??
      (e.parentSpanId !== undefined ? this.#contexts.get(e.parentSpanId) : undefined) ??
      (run
        ? { traceId: run.traceId, spanId: run.spanId, traceFlags: run.traceFlags }
        : undefined) ??
      (isTraceId(e.traceId) && isSpanId(e.parentSpanId)
        ? {
            traceId: e.traceId,
            spanId: e.parentSpanId,
            traceFlags: traceFlagsOf(e.traceId) ?? TraceFlags.SAMPLED,
          }
        : undefined)
    );
  }

  // ---- spans ---------------------------------------------------------------------------------

  #startSpan(
    name: string,
    kind: SpanKind,
    startTime: number,
    attributes: Attributes,
    parent: Context,
    wanted: { traceId?: string | undefined; spanId?: string | undefined },
  ): Span {
    this.#ids.next(wanted);
    let span: Span;
    try {
      span = this.#tracer.startSpan(name, { kind, startTime, attributes }, parent);
    } finally {
      this.#ids.clear();
    }
    const sc = span.spanContext();
    if (wanted.spanId !== undefined && sc.spanId !== wanted.spanId) {
      // The provider does not use our id generator: keep the audit id beside the span's own.
      this.#idsFollow = false;
      span.setAttribute("audit.span.id", wanted.spanId);
    }
    return span;
  }

  #remember(key: string, open: OpenSpan): void {
    this.#open.set(key, open);
    this.#contexts.set(key, open.span.spanContext());
    if (open.runId === undefined) this.#orphans.add(key);
    else this.#runs.get(open.runId)?.children.add(key);
  }

  #end(key: string, endTime: number): void {
    const open = this.#open.get(key);
    if (!open) return;
    open.span.end(endTime);
    this.#open.delete(key);
    this.#orphans.delete(key);
    if (open.runId !== undefined) this.#runs.get(open.runId)?.children.delete(key);
    this.#done.set(key, true);
  }

  #raiseRisk(open: OpenSpan, risk: string | undefined): void {
    const next = higherRisk(open.risk, risk);
    if (next !== undefined && next !== open.risk) {
      open.risk = next;
      open.span.setAttribute("audit.risk", next);
    }
  }

  // A failure, as the conventions' "recording errors" asks: status ERROR with the message,
  // `error.type`, and an `exception` event with type, message and stack trace.
  #failed(span: Span, e: AuditEvent): void {
    const err = errorOf(e);
    span.setAttribute("error.type", err.type);
    span.setStatus({
      code: SpanStatusCode.ERROR,
      ...(err.message !== undefined && { message: err.message }),
    });
    span.addEvent(
      "exception",
      clean({
        "exception.type": err.type,
        "exception.message": err.message,
        "exception.stacktrace": err.stack,
      }),
      ms(e.time),
    );
  }

  #unfinished(key: string, reason: keyof typeof UNFINISHED, time: number): void {
    const open = this.#open.get(key);
    if (!open) return;
    open.span.setAttributes({ "audit.unfinished": true, "audit.unfinished.reason": reason });
    open.span.setAttribute("error.type", "audit.unfinished");
    open.span.setStatus({ code: SpanStatusCode.ERROR, message: UNFINISHED[reason] });
    this.#end(key, time);
  }

  // ---- runs ----------------------------------------------------------------------------------

  #runAttributes(e: AuditEvent, agent: string | undefined): Attributes {
    return clean({
      ...auditAttributes(e),
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": agent,
      "gen_ai.provider.name": str(e.data.provider),
      "gen_ai.conversation.id": e.sessionId,
      "gen_ai.input.messages":
        this.#captureContent && e.type === "run.start" && e.data.input !== undefined
          ? JSON.stringify(inputMessages(e.data.input))
          : undefined,
    });
  }

  // The parent of a run's span: the span it was started inside (a parent agent's tool call, or
  // the application's active span), if any.
  #runParent(e: AuditEvent, traceId: string, flags: number): Context {
    if (e.type !== "run.start" || !isSpanId(e.parentSpanId)) return ROOT_CONTEXT;
    const known = this.#contexts.get(e.parentSpanId);
    if (known) return trace.setSpanContext(ROOT_CONTEXT, known);
    return trace.setSpanContext(ROOT_CONTEXT, {
      traceId,
      spanId: e.parentSpanId,
      traceFlags: flags,
      isRemote: true,
    });
  }

  /** The run an event belongs to, opening its span first when this is its first event. */
  #run(e: AuditEvent): OpenRun | RunIds | undefined {
    const runId = runIdOf(e);
    if (runId === undefined) return undefined;
    return this.#runs.get(runId) ?? this.#closedRuns.get(runId) ?? this.#openRun(e, runId);
  }

  #openRun(e: AuditEvent, runId: string): OpenRun {
    const isRunEvent = e.type === "run.start" || e.type === "run.end";
    // Events recorded by hand may carry no span id: the run's span id is then derived from the
    // run id, so every such event lands under the same span.
    const auditSpanId =
      (isRunEvent ? (isSpanId(e.spanId) ? e.spanId : undefined) : undefined) ??
      (!isRunEvent && isSpanId(e.parentSpanId) ? e.parentSpanId : undefined) ??
      spanIdOfRun(runId);
    const parentKnown =
      e.type === "run.start" && e.parentSpanId ? this.#contexts.get(e.parentSpanId) : undefined;
    const traceId =
      parentKnown?.traceId ?? (isTraceId(e.traceId) ? e.traceId : traceIdOfRun(runId));
    const flags = parentKnown?.traceFlags ?? traceFlagsOf(traceId) ?? TraceFlags.SAMPLED;
    const agent = str(e.data.agent) ?? e.actor;
    const start = e.type === "run.end" ? ms(e.time) - (num(e.data.durationMs) ?? 0) : ms(e.time);
    const span = this.#startSpan(
      agent ? `invoke_agent ${agent}` : "invoke_agent",
      SpanKind.INTERNAL,
      start,
      this.#runAttributes(e, agent),
      this.#runParent(e, traceId, flags),
      { traceId, spanId: auditSpanId },
    );
    const sc = span.spanContext();
    const run: OpenRun = {
      runId,
      key: auditSpanId,
      traceId: sc.traceId,
      spanId: sc.spanId,
      traceFlags: sc.traceFlags,
      openedAt: Date.now(),
      provider: str(e.data.provider) !== undefined,
      children: new Set(),
    };
    this.#runs.set(runId, run);
    // A run is bounded as a run (not as a lone span), so it is neither an orphan nor a child.
    this.#open.set(auditSpanId, { span, runId, openedAt: run.openedAt, risk: e.risk });
    this.#contexts.set(auditSpanId, sc);
    return run;
  }

  #startRun(e: AuditEvent): void {
    const runId = runIdOf(e)!;
    if (this.#closedRuns.has(runId)) return;
    const existing = this.#runs.get(runId);
    if (!existing) {
      this.#openRun(e, runId);
      return;
    }
    // The run was opened by an earlier event of it (recorded by hand, or out of order): the
    // start still names it, and its span id leads to the same span.
    const open = this.#open.get(existing.key);
    if (!open) return;
    const agent = str(e.data.agent) ?? e.actor;
    if (agent) open.span.updateName(`invoke_agent ${agent}`);
    open.span.setAttributes(this.#runAttributes(e, agent));
    if (isSpanId(e.spanId) && e.spanId !== existing.key)
      this.#contexts.set(e.spanId, open.span.spanContext());
    if (str(e.data.provider)) existing.provider = true;
  }

  #endRun(e: AuditEvent): void {
    const runId = runIdOf(e)!;
    if (this.#closedRuns.has(runId)) return;
    const run = this.#runs.get(runId) ?? this.#openRun(e, runId);
    const open = this.#open.get(run.key);
    if (!open) return;
    const span = open.span;
    this.#raiseRisk(open, e.risk);
    span.setAttribute("audit.run.end.event.id", e.id);
    if (!run.provider) span.setAttribute("gen_ai.provider.name", this.#providerName);
    const failed = e.data.status === "error";
    if (this.#captureContent && e.data.output !== undefined)
      span.setAttribute(
        "gen_ai.output.messages",
        JSON.stringify(outputMessages(e.data.output, failed ? "error" : "stop")),
      );
    if (failed) this.#failed(span, e);
    // Calls still open when their run ends will never end: close them now, marked.
    for (const child of [...run.children]) this.#unfinished(child, "run ended", ms(e.time));
    this.#closeRun(run, ms(e.time));
  }

  #closeRun(run: OpenRun, endTime: number): void {
    this.#end(run.key, endTime);
    this.#runs.delete(run.runId);
    this.#closedRuns.set(run.runId, {
      traceId: run.traceId,
      spanId: run.spanId,
      traceFlags: run.traceFlags,
    });
  }

  // ---- tool and model calls ------------------------------------------------------------------

  #parentOf(e: AuditEvent, run: RunIds | undefined): Context {
    const parentId = e.parentSpanId ?? (run && "key" in run ? (run as OpenRun).key : undefined);
    if (parentId !== undefined) {
      const known = this.#contexts.get(parentId);
      if (known) return trace.setSpanContext(ROOT_CONTEXT, known);
      if (run && this.#idsFollow && isSpanId(parentId)) {
        return trace.setSpanContext(ROOT_CONTEXT, {
          traceId: run.traceId,
          spanId: parentId,
          traceFlags: run.traceFlags,
        });
      }
    }
    if (run) {
      return trace.setSpanContext(ROOT_CONTEXT, {
        traceId: run.traceId,
        spanId: run.spanId,
        traceFlags: run.traceFlags,
      });
    }
    // Outside any run: under the application's span it was recorded in, if any.
    if (isTraceId(e.traceId) && isSpanId(e.parentSpanId)) {
      return trace.setSpanContext(ROOT_CONTEXT, {
        traceId: e.traceId,
        spanId: e.parentSpanId,
        traceFlags: traceFlagsOf(e.traceId) ?? TraceFlags.SAMPLED,
        isRemote: true,
      });
    }
    return ROOT_CONTEXT;
  }

  readonly #tool: CallKind = {
    kind: SpanKind.INTERNAL,
    key: (e) => e.spanId ?? str(e.data.callId) ?? e.id,
    name: (e) => `execute_tool ${str(e.data.tool) ?? "tool"}`,
    attributes: (e) =>
      clean({
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": str(e.data.tool) ?? "tool",
        "gen_ai.tool.call.id": str(e.data.callId),
        "gen_ai.conversation.id": e.sessionId,
        "gen_ai.tool.call.arguments": this.#captureContent ? json(e.data.args) : undefined,
      }),
    end: (span, e) => {
      if (e.type === "tool.error") {
        this.#failed(span, e);
        return;
      }
      if (this.#captureContent && e.data.result !== undefined)
        span.setAttribute("gen_ai.tool.call.result", json(e.data.result)!);
    },
  };

  readonly #llm: CallKind = {
    kind: SpanKind.CLIENT,
    key: (e) => e.spanId ?? e.id,
    name: (e) => (str(e.data.model) ? `chat ${str(e.data.model)}` : "chat"),
    attributes: (e) =>
      clean({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": str(e.data.provider) ?? this.#providerName,
        "gen_ai.request.model": str(e.data.model),
        "gen_ai.conversation.id": e.sessionId,
        "gen_ai.input.messages":
          this.#captureContent && e.data.input !== undefined
            ? JSON.stringify(inputMessages(e.data.input))
            : undefined,
      }),
    end: (span, e) => {
      const reasons = finishReasons(e.data);
      span.setAttributes(
        clean({
          "gen_ai.response.model": str(e.data.model),
          "gen_ai.usage.input_tokens": num(e.data.inputTokens),
          "gen_ai.usage.output_tokens": num(e.data.outputTokens),
          "gen_ai.response.finish_reasons": reasons,
          "audit.llm.cost_usd": num(e.data.costUsd),
          "gen_ai.output.messages":
            this.#captureContent && e.data.output !== undefined
              ? JSON.stringify(outputMessages(e.data.output, reasons?.[0] ?? "stop"))
              : undefined,
        }),
      );
      if (e.data.error !== undefined) this.#failed(span, e);
      // The run's provider is the one of its model calls when the run named none.
      const run = e.runId !== undefined ? this.#runs.get(e.runId) : undefined;
      const provider = str(e.data.provider);
      if (run && !run.provider && provider) {
        run.provider = true;
        this.#open.get(run.key)?.span.setAttribute("gen_ai.provider.name", provider);
      }
    },
  };

  #startCall(e: AuditEvent, kind: CallKind): OpenSpan | undefined {
    const key = kind.key(e);
    if (this.#open.has(key) || this.#done.has(key)) return undefined;
    const run = this.#run(e);
    const span = this.#startSpan(
      kind.name(e),
      kind.kind,
      e.type.endsWith(".start") ? ms(e.time) : ms(e.time) - (num(e.data.durationMs) ?? 0),
      { ...auditAttributes(e), ...kind.attributes(e) },
      this.#parentOf(e, run),
      { spanId: isSpanId(key) ? key : undefined },
    );
    const open: OpenSpan = {
      span,
      runId: run && "runId" in run ? (run as OpenRun).runId : undefined,
      openedAt: Date.now(),
      risk: e.risk,
    };
    this.#remember(key, open);
    return open;
  }

  // The span an end event closes. When its start never reached us (an out-of-order batch, or a
  // model call recorded as one event), it is made now, starting the end's duration earlier.
  #endCall(e: AuditEvent, kind: CallKind): void {
    const key = kind.key(e);
    if (this.#done.has(key)) return;
    const open = this.#open.get(key) ?? this.#startCall(e, kind);
    if (!open) return;
    this.#raiseRisk(open, e.risk);
    open.span.setAttribute(`audit.${e.type.split(".")[0]}.end.event.id`, e.id);
    kind.end(open.span, e);
    this.#end(key, ms(e.time));
  }

  // ---- everything else: events of the enclosing span -------------------------------------------

  #spanEvent(e: AuditEvent): void {
    const run = this.#run(e);
    const target =
      (e.spanId !== undefined ? this.#open.get(e.spanId) : undefined) ??
      (e.parentSpanId !== undefined ? this.#open.get(e.parentSpanId) : undefined) ??
      (run && "key" in run ? this.#open.get((run as OpenRun).key) : undefined);
    const attrs = { ...auditAttributes(e), ...eventAttributes(e) };
    const name = e.type === "error" ? "exception" : `audit.${e.type}`;
    if (target) {
      target.span.addEvent(name, attrs, ms(e.time));
      this.#raiseRisk(target, e.risk);
      return;
    }
    // Nothing open to hang it on (a top-level `record()`, or its run already ended): a span of its
    // own, of no duration, under its run or under the application's span it was recorded in.
    const span = this.#startSpan(
      e.type,
      SpanKind.INTERNAL,
      ms(e.time),
      auditAttributes(e),
      this.#parentOf(e, run),
      { traceId: isTraceId(e.traceId) ? e.traceId : undefined },
    );
    span.addEvent(name, attrs, ms(e.time));
    span.end(ms(e.time));
  }

  // ---- bounds --------------------------------------------------------------------------------

  #evict(now: number): void {
    const before = this.#runsEvicted + this.#spansEvicted;
    while (this.#runs.size > this.#maxOpenRuns) {
      this.#evictRun(this.#runs.values().next().value as OpenRun, now);
    }
    for (const run of this.#runs.values()) {
      if (now - run.openedAt <= this.#maxRunAgeMs) break;
      this.#evictRun(run, now);
    }
    while (this.#orphans.size > this.#maxOpenRuns)
      this.#evictOrphan(this.#orphans.values().next().value as string, now);
    for (const key of this.#orphans) {
      const open = this.#open.get(key);
      if (open && now - open.openedAt <= this.#maxRunAgeMs) break;
      this.#evictOrphan(key, now);
    }
    if (before === 0 && this.#runsEvicted + this.#spansEvicted > 0) {
      this.#onError(
        new ExportError(
          "otel",
          `evicted runs that did not end within maxRunAgeMs (${this.#maxRunAgeMs} ms) or past maxOpenRuns (${this.#maxOpenRuns}); their spans were ended as unfinished (counted in stats().runsEvicted)`,
        ),
      );
    }
  }

  #evictRun(run: OpenRun, now: number): void {
    for (const child of [...run.children]) {
      this.#unfinished(child, "evicted", now);
      this.#spansEvicted++;
    }
    this.#unfinished(run.key, "evicted", now);
    this.#closeRun(run, now);
    this.#runsEvicted++;
  }

  #evictOrphan(key: string, now: number): void {
    this.#unfinished(key, "evicted", now);
    this.#orphans.delete(key);
    this.#spansEvicted++;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Ends runs past their age, then force-flushes the provider (bounded: see `onFlush`). */
  async flush(): Promise<void> {
    if (this.#enabled && !this.#shutdown) this.#evict(Date.now());
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
      for (const run of [...this.#runs.values()]) {
        for (const child of [...run.children]) this.#unfinished(child, "shutdown", now);
        this.#unfinished(run.key, "shutdown", now);
        this.#closeRun(run, now);
      }
      for (const key of [...this.#open.keys()]) this.#unfinished(key, "shutdown", now);
      await this.#onShutdown?.();
    })();
    return this.#shutdown;
  }
}

// Why a span was ended without its end event, as `audit.unfinished.reason` and status message.
const UNFINISHED = {
  evicted: "the end did not arrive in time (evicted: maxOpenRuns or maxRunAgeMs)",
  shutdown: "the run ended without its end event (crash or shutdown)",
  "run ended": "the call's end did not arrive before its run ended",
} as const;

interface CallKind {
  kind: SpanKind;
  key: (e: AuditEvent) => string;
  name: (e: AuditEvent) => string;
  attributes: (e: AuditEvent) => Attributes;
  end: (span: Span, e: AuditEvent) => void;
}

// A run event without a run id (recorded by hand) is its own run, keyed by its span.
function runIdOf(e: AuditEvent): string | undefined {
  if (e.runId !== undefined) return e.runId;
  if (e.type === "run.start" || e.type === "run.end") return e.spanId ?? e.id;
  return undefined;
}

function finishReasons(d: Record<string, unknown>): string[] | undefined {
  if (Array.isArray(d.finishReasons)) return d.finishReasons.map(String);
  const one = str(d.finishReason);
  return one === undefined ? undefined : [one];
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`[audit] [exporter otel] ${name} must be a positive number, got ${value}`);
  return value;
}

// The attributes of a span event, by event type.
function eventAttributes(e: AuditEvent): Attributes {
  const d = e.data;
  switch (e.type) {
    case "policy.decision":
      return clean({
        "audit.policy.name": d.policy,
        "audit.policy.decision": d.decision,
        "audit.policy.rule": d.rule,
        "audit.policy.reason": d.reason,
      });
    case "approval.request":
      return clean({
        "audit.approval.id": d.approvalId,
        "audit.approval.action": d.action,
        "audit.approval.reason": d.reason,
      });
    case "approval.resolve":
      return clean({
        "audit.approval.id": d.approvalId,
        "audit.approval.outcome": d.outcome,
        "audit.approval.resolved_by": d.resolvedBy,
        "audit.approval.comment": str(d.comment),
      });
    case "action":
      return clean({
        "audit.action.type": d.actionType,
        "audit.action.target": d.target,
        "audit.action.status": d.status,
      });
    case "error": {
      const err = errorOf(e);
      return clean({
        "exception.type": err.type,
        "exception.message": err.message,
        "exception.stacktrace": err.stack,
      });
    }
    default:
      return {};
  }
}
