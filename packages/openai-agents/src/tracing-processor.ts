import type { Auditor, EventInput } from "@audit/core";
import type { Span, Trace, TracingProcessor } from "@openai/agents-core";
import { type RunScope, runEnvelope, runScopes, type TracedRun } from "./run-scope.js";
import {
  addUsage,
  durationBetween,
  isRejection,
  otelTraceId,
  parseJsonText,
  readUsage,
} from "./span-values.js";

// biome-ignore lint/suspicious/noExplicitAny: the SDK's own processor interface takes Span<any>.
type AnySpan = Span<any>;

/** Options of {@link AuditTracingProcessor}. */
export interface AuditTracingProcessorOptions {
  /**
   * The session a run belongs to. By default the trace's `groupId` (the SDK's conversation id,
   * set with `new Runner({ groupId })`), else none.
   */
  sessionId?: (trace: {
    traceId: string;
    name: string;
    groupId: string | null;
  }) => string | undefined;
  /**
   * Model name to record for a model turn when the model itself emits no generation or response
   * span (custom and scripted models). `runWithApprovals` fills it from the agents' `model`.
   * @default "unknown"
   */
  defaultModel?: string;
  /** Called with an error the processor caught; recording never throws into the SDK. @default none */
  onError?: (error: unknown) => void;
}

interface SpanState {
  run: TracedRun;
  /** Where the span's children hang in the trail (a turn passes its parent through). */
  childParent: string;
  /** The parent span id recorded on this span's own events. */
  parent: string;
  agent: string | undefined;
  kind: string;
  /** A turn whose model call was recorded by a generation or response span under it. */
  modelRecorded: boolean;
  scope: RunScope | undefined;
}

const MAX_TRACES = 10_000;

/**
 * An OpenAI Agents JS `TracingProcessor` that turns the SDK's spans into audit events: the root
 * task span into `run.start`/`run.end`, agent spans into `agent.start`/`agent.end`, model turns
 * (and generation/response spans) into `llm.end` with usage, function spans into
 * `tool.start`/`tool.end`/`tool.error`, handoffs into `agent.handoff` and guardrails into
 * `policy.decision`. The SDK's span ids become `spanId`/`parentSpanId`, its root span id the
 * `runId`, its trace id the `traceId` and its `groupId` the `sessionId`.
 *
 * Register it with `addTraceProcessor` (never `setTraceProcessors`, which shuts down the others).
 * It never throws into the SDK and never waits on the store: `record` only enqueues.
 */
export class AuditTracingProcessor implements TracingProcessor {
  readonly #audit: Auditor;
  readonly #options: AuditTracingProcessorOptions;
  readonly #traces = new Map<string, { name: string; groupId: string | null }>();
  readonly #spans = new Map<string, SpanState>();
  readonly #refusals = new Map<string, string>();
  #shutDown = false;

  /** @param audit the auditor to record into; the processor never closes it. */
  constructor(audit: Auditor, options: AuditTracingProcessorOptions = {}) {
    this.#audit = audit;
    this.#options = options;
  }

  /** The auditor this processor records into. */
  get auditor(): Auditor {
    return this.#audit;
  }

  /**
   * The audit run of an SDK span that is still open, e.g. the function span a guardrail runs in.
   * The SDK tells processors about a span without waiting for them, so code running inside the
   * span can be ahead of `onSpanStart`: the span's start is recorded here first when needed.
   */
  locate(span: AnySpan): TracedRun | undefined {
    if (this.#shutDown) return undefined;
    if (!this.#spans.has(span.spanId)) this.#guard(() => this.#start(span));
    return this.#spans.get(span.spanId)?.run;
  }

  /**
   * Marks a tool call as refused before it ran (by `auditPolicyGuardrail`): the SDK ends its
   * function span like a success whose output is the refusal, and the trail must say otherwise.
   */
  noteRefusal(spanId: string, message: string): void {
    if (this.#spans.has(spanId)) this.#refusals.set(spanId, message);
  }

  /** @inheritdoc */
  async onTraceStart(trace: Trace): Promise<void> {
    this.#guard(() => {
      // In-memory resumes add spans to a trace that already ended, so traces are kept (bounded).
      if (this.#traces.size >= MAX_TRACES) {
        const oldest = this.#traces.keys().next().value;
        if (oldest !== undefined) this.#traces.delete(oldest);
      }
      this.#traces.set(trace.traceId, { name: trace.name, groupId: trace.groupId });
    });
  }

  /** @inheritdoc */
  async onTraceEnd(_trace: Trace): Promise<void> {}

  /** @inheritdoc */
  async onSpanStart(span: AnySpan): Promise<void> {
    this.#guard(() => this.#start(span));
  }

  /** @inheritdoc */
  async onSpanEnd(span: AnySpan): Promise<void> {
    this.#guard(() => this.#end(span));
  }

  /** Stops recording and flushes what was recorded. The auditor stays open: its owner closes it. */
  async shutdown(_timeout?: number): Promise<void> {
    this.#shutDown = true;
    await this.forceFlush();
  }

  /** Waits until everything recorded so far is in the store. Never rejects. */
  async forceFlush(): Promise<void> {
    await this.#audit.flush().catch((err: unknown) => this.#options.onError?.(err));
  }

  #guard(fn: () => void): void {
    if (this.#shutDown) return;
    try {
      fn();
    } catch (err) {
      // The SDK awaits processors one after another without a catch: a throw here would keep
      // every processor registered after this one from seeing the span.
      this.#options.onError?.(err);
    }
  }

  #record(input: EventInput): void {
    this.#audit.record(input);
  }

  #start(span: AnySpan): void {
    if (this.#spans.has(span.spanId)) return;
    const data = span.spanData as { type: string; [key: string]: unknown };
    const parent = span.parentId ? this.#spans.get(span.parentId) : undefined;
    if (!parent) {
      this.#startRoot(span);
      return;
    }
    const state: SpanState = {
      run: parent.run,
      childParent: span.spanId,
      parent: parent.childParent,
      agent: parent.agent,
      kind: data.type,
      modelRecorded: false,
      scope: parent.scope,
    };
    this.#spans.set(span.spanId, state);
    const envelope = {
      ...runEnvelope(parent.run),
      spanId: span.spanId,
      parentSpanId: state.parent,
    };
    switch (data.type) {
      case "agent": {
        state.agent = String(data.name);
        this.#record({
          type: "agent.start",
          ...envelope,
          actor: state.agent,
          data: { agent: state.agent },
        });
        break;
      }
      case "turn":
        // A turn holds the model call and the tool calls it asked for; the tool calls are the
        // model call's siblings in the trail, not its children.
        state.childParent = state.parent;
        break;
      case "function":
        this.#record({
          type: "tool.start",
          ...envelope,
          ...(state.agent !== undefined && { actor: state.agent }),
          data: {
            tool: String(data.name),
            callId: span.spanId,
            ...(parseJsonText(data.input) !== undefined && { args: parseJsonText(data.input) }),
          },
        });
        break;
      default:
        break;
    }
  }

  #startRoot(span: AnySpan): void {
    const scope = runScopes.getStore();
    const data = span.spanData as { type: string; name?: unknown };
    if (scope?.run && !scope.run.ended) {
      // A resume after approvals: the new task span continues the run the scope holds open.
      this.#spans.set(span.spanId, {
        run: scope.run,
        childParent: scope.run.rootSpanId,
        parent: scope.run.rootSpanId,
        agent: undefined,
        kind: data.type,
        modelRecorded: false,
        scope,
      });
      return;
    }
    const trace = this.#traces.get(span.traceId);
    const sessionId = this.#options.sessionId
      ? this.#options.sessionId({
          traceId: span.traceId,
          name: trace?.name ?? "",
          groupId: trace?.groupId ?? null,
        })
      : (trace?.groupId ?? undefined);
    const run: TracedRun = {
      runId: span.spanId,
      rootSpanId: span.spanId,
      sessionId: sessionId ?? undefined,
      traceId: otelTraceId(span.traceId),
      actor: undefined,
      ended: false,
    };
    if (scope) scope.run = run;
    const isAgent = data.type === "agent";
    this.#spans.set(span.spanId, {
      run,
      childParent: span.spanId,
      parent: span.spanId,
      agent: isAgent ? String(data.name) : undefined,
      kind: data.type,
      modelRecorded: false,
      scope,
    });
    const workflow = trace?.name ?? (typeof data.name === "string" ? data.name : undefined);
    this.#record({
      type: "run.start",
      ...runEnvelope(run),
      spanId: span.spanId,
      data: {
        ...(workflow !== undefined && { agent: workflow }),
        ...(scope?.input !== undefined && { input: scope.input }),
        sdkTraceId: span.traceId,
      },
    });
  }

  #end(span: AnySpan): void {
    const state = this.#spans.get(span.spanId);
    if (!state) return;
    this.#spans.delete(span.spanId);
    const data = span.spanData as { type: string; [key: string]: unknown };
    const error = span.error as { message: string; data?: Record<string, unknown> } | null;
    const durationMs = durationBetween(span.startedAt, span.endedAt);
    const envelope = {
      ...runEnvelope(state.run),
      spanId: span.spanId,
      parentSpanId: state.parent,
      ...(state.agent !== undefined && { actor: state.agent }),
    };
    if (span.parentId === null) {
      this.#endRoot(span, state, error);
      return;
    }
    switch (data.type) {
      case "agent":
        this.#record({
          type: "agent.end",
          ...envelope,
          data: {
            agent: String(data.name),
            status: error ? "error" : "ok",
            ...(Array.isArray(data.tools) && { tools: data.tools }),
            ...(Array.isArray(data.handoffs) && { handoffs: data.handoffs }),
            ...(error && { error: error.data?.error ?? error.message }),
            durationMs,
          },
          ...(error && { risk: "high" as const }),
        });
        break;
      case "turn": {
        const usage = readUsage(data.usage);
        // No usage means no model call happened in this turn (a resume that only ran approved
        // tools), and a generation or response span already recorded the call.
        if (!usage || state.modelRecorded) break;
        this.#record({
          type: "llm.end",
          ...envelope,
          parentSpanId: state.parent,
          data: {
            model: this.#modelOf(state),
            inputTokens: usage.inputTokens,
            outputTokens: usage.outputTokens,
            ...(usage.cachedInputTokens > 0 && { cachedInputTokens: usage.cachedInputTokens }),
            turn: data.turn,
            durationMs,
            ...(error && { error: error.data?.error ?? error.message }),
          },
        });
        break;
      }
      case "generation":
      case "response":
        this.#endModelSpan(span, state, envelope, durationMs, error);
        break;
      case "function": {
        const tool = String(data.name);
        const refusal = this.#refusals.get(span.spanId);
        this.#refusals.delete(span.spanId);
        if (refusal !== undefined && !error) {
          this.#record({
            type: "tool.error",
            ...envelope,
            risk: "medium",
            data: {
              tool,
              callId: span.spanId,
              error: refusal,
              errorType: "ToolCallRefused",
              durationMs,
            },
          });
        } else if (error) {
          const rejected = isRejection(error);
          this.#record({
            type: "tool.error",
            ...envelope,
            risk: "medium",
            data: {
              tool,
              callId: span.spanId,
              error: rejected
                ? (parseJsonText(data.output) ?? error.message)
                : (error.data?.error ?? error.message),
              errorType: rejected ? "ToolCallRejected" : "ToolCallError",
              durationMs,
            },
          });
        } else {
          const result = parseJsonText(data.output);
          this.#record({
            type: "tool.end",
            ...envelope,
            data: {
              tool,
              callId: span.spanId,
              ...(result !== undefined && { result }),
              durationMs,
            },
          });
        }
        break;
      }
      case "handoff":
        this.#record({
          type: "agent.handoff",
          ...envelope,
          data: {
            ...(data.from_agent !== undefined && { from: data.from_agent }),
            ...(data.to_agent !== undefined && { to: data.to_agent }),
          },
        });
        break;
      case "guardrail":
        this.#record({
          type: "policy.decision",
          ...envelope,
          risk: data.triggered ? "high" : "low",
          data: {
            policy: String(data.name),
            decision: data.triggered ? "deny" : "allow",
            rule: "agent-guardrail",
            ...(data.triggered === true && { reason: "guardrail tripwire triggered" }),
          },
        });
        break;
      default:
        break;
    }
  }

  #modelOf(state: SpanState): string {
    const fromAgent = state.agent ? state.scope?.models.get(state.agent) : undefined;
    return fromAgent ?? this.#options.defaultModel ?? "unknown";
  }

  #endModelSpan(
    span: AnySpan,
    state: SpanState,
    envelope: Record<string, unknown>,
    durationMs: number,
    error: { message: string; data?: Record<string, unknown> } | null,
  ): void {
    const data = span.spanData as Record<string, unknown>;
    const response = (data._response ?? {}) as Record<string, unknown>;
    const model =
      (typeof data.model === "string" && data.model) ||
      (typeof response.model === "string" && response.model) ||
      this.#modelOf(state);
    const usage = readUsage(data.usage ?? response.usage);
    const turn = span.parentId ? this.#spans.get(span.parentId) : undefined;
    if (turn?.kind === "turn") turn.modelRecorded = true;
    const output = data.output ?? response.output;
    this.#record({
      type: "llm.end",
      ...(envelope as object),
      data: {
        model,
        provider: "openai",
        ...(usage && { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens }),
        ...(output !== undefined && { output }),
        ...(typeof response.status === "string" && { finishReason: response.status }),
        ...(typeof data.response_id === "string" && { responseId: data.response_id }),
        durationMs,
        ...(error && { error: error.data?.error ?? error.message }),
      },
      ...(error && { risk: "medium" as const }),
    } as EventInput);
  }

  #endRoot(
    span: AnySpan,
    state: SpanState,
    error: { message: string; data?: Record<string, unknown> } | null,
  ): void {
    const run = state.run;
    const data = span.spanData as Record<string, unknown>;
    const usage = readUsage(data.usage);
    const scope = state.scope;
    if (scope) {
      // runWithApprovals records run.end itself, once the last resume is done, with the output.
      if (error) scope.rootError = error;
      if (usage && data.type === "task") addUsage(scope.usage, usage);
      return;
    }
    if (run.ended) return;
    run.ended = true;
    this.#record({
      type: "run.end",
      ...runEnvelope(run),
      spanId: run.rootSpanId,
      ...(error && { risk: "high" as const }),
      data: {
        status: error ? "error" : "ok",
        ...(error && { error: error.data?.error ?? error.message }),
        ...(usage && { usage }),
        durationMs: durationBetween(span.startedAt, span.endedAt),
      },
    });
  }
}
