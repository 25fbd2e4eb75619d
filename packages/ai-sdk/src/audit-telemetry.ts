import { AsyncLocalStorage } from "node:async_hooks";
import type { Auditor } from "@audit/core";
import {
  errorType,
  type NormalizedVerdict,
  newSpanId,
  normalizeVerdict,
  RunTrail,
  roundDuration as round,
  type ToolPolicy,
  uuidv7,
} from "@audit/core";
import type { Telemetry, ToolApprovalStatus } from "ai";
import { isApproved } from "./approval-outcome.js";
import { ToolCallDeniedError } from "./errors.js";

/** Options of {@link auditTelemetry} and {@link auditCall}. */
export interface AuditTelemetryOptions {
  /**
   * The agent's name in `run.start` and the events' `actor`.
   * @default the call's `telemetry.functionId`, else `"ai-sdk"`
   */
  agent?: string;
  /** The conversation or job the runs belong to. */
  sessionId?: string;
  /**
   * Decides about each tool call before it runs; its answer is recorded as `policy.decision`.
   * Without one, every tool call runs.
   */
  policy?: ToolPolicy;
  /**
   * The `policy` name recorded in `policy.decision`.
   * @default "tool-policy"
   */
  policyName?: string;
  /**
   * Stop rather than go on when the gate cannot let a call through safely: a denied call aborts
   * the whole run (through the signal of {@link auditCall}), a policy that throws counts as a deny,
   * and with `durability: "strict"` a tool whose `tool.start` is not durable does not run.
   * @default false — a denied call becomes a tool error the model sees, a failing policy allows
   */
  failClosed?: boolean;
  /**
   * How long a tool call sent to review waits for a human in the global (blocking) mode; then it
   * is denied.
   * @default 300_000
   */
  approvalTimeoutMs?: number;
}

interface ToolSpan {
  spanId: string;
  tool: string;
  startedAt: number;
  /** Resolves once `tool.start` is durable (strict durability), rejects if it cannot be. */
  committed: Promise<void> | undefined;
}

interface CallState {
  trail: RunTrail;
  operation: string;
  step: number;
  llm: { spanId: string; startedAt: number } | undefined;
  tools: Map<string, ToolSpan>;
  /** Tool calls the gate already ruled on (by `toolApproval`, or by a human before a resume). */
  decided: Set<string>;
  pendingApprovals: string[];
  /** The model's tool call ids seen in this run, to find the run from `toolApproval`. */
  toolCallIds: string[];
}

/** The tool span a tool's `execute` runs in, so a model call made inside it nests under it. */
const toolScope = new AsyncLocalStorage<{ runId: string; spanId: string }>();

/** A binding to one call, made by {@link auditCall}: its run id and its abort controller. */
export interface CallBinding {
  runId: string;
  controller: AbortController;
}

// Loose views of the SDK's events: only the fields read here, all optional, so that a payload of
// any tested `ai` 7 release satisfies them.
interface AnyEvent {
  readonly callId?: string;
  readonly [key: string]: unknown;
}
interface ToolCallView {
  readonly toolCallId: string;
  readonly toolName: string;
  readonly input?: unknown;
}
interface UsageView {
  readonly inputTokens?: number | undefined;
  readonly outputTokens?: number | undefined;
  readonly totalTokens?: number | undefined;
  readonly inputTokenDetails?: unknown;
  readonly outputTokenDetails?: unknown;
}

/**
 * A Vercel AI SDK telemetry integration that records the trail of `generateText`, `streamText`
 * and agents: `run.start`/`run.end` per call, `llm.start`/`llm.end` per model call (model,
 * provider, usage, finish reason), `tool.start`/`tool.end`/`tool.error` per tool execution,
 * approval requests, errors and aborts. Register it with `registerTelemetry(...)` or per call in
 * `telemetry.integrations`. Recording is a synchronous enqueue: it never slows the call down.
 */
export class AuditTelemetry implements Telemetry {
  readonly #audit: Auditor;
  readonly #options: AuditTelemetryOptions;
  readonly #binding: CallBinding | undefined;
  readonly #calls = new Map<string, CallState>();
  readonly #callIdOfToolCall = new Map<string, string>();
  #boundCallId: string | undefined;

  /** @param binding set by {@link auditCall}: the run id to use and the controller to abort. */
  constructor(audit: Auditor, options: AuditTelemetryOptions = {}, binding?: CallBinding) {
    this.#audit = audit;
    this.#options = options;
    this.#binding = binding;
  }

  /**
   * The SDK's `toolApproval` function (pass it per call, or to an agent's settings; {@link auditCall}
   * does it for you): runs the policy before the SDK executes the tool. Allow lets the call run, deny answers
   * `denied` (and aborts the run when `failClosed`), review answers `user-approval`, which ends the
   * call with an approval request that is recorded as `approval.request` for a human to resolve.
   */
  approveToolCall = async (options: {
    toolCall: { toolCallId: string; toolName: string; input?: unknown };
  }): Promise<ToolApprovalStatus> => {
    const { toolCallId, toolName, input } = options.toolCall;
    const state = this.#callOfToolCall(toolCallId);
    // No run to attribute the call to (the integration is not active for this call): the gate in
    // `executeTool` still applies if this integration sees the execution.
    if (!state) return "not-applicable";
    // A human already answered this call (the SDK asks again when the call is resumed).
    if (state.decided.has(toolCallId)) return "not-applicable";
    const verdict = await this.#decide(state, toolName, input, toolCallId);
    if (verdict?.decision === "deny")
      return { type: "denied", reason: verdict.reason ?? "denied by policy" };
    if (verdict?.decision === "review")
      return verdict.reason === undefined
        ? "user-approval"
        : { type: "user-approval", reason: verdict.reason };
    return "not-applicable";
  };

  /** Records `run.start` for a `generateText` / `streamText` call (other operations are ignored). */
  onStart = (input: object): void => {
    const event = input as AnyEvent;
    const operation = String(event.operationId ?? "");
    if (!event.callId || !/^ai\.(generateText|streamText)/.test(operation)) return;
    const functionId = typeof event.functionId === "string" ? event.functionId : undefined;
    const agent = this.#options.agent ?? functionId ?? "ai-sdk";
    const scope = toolScope.getStore();
    // A bound integration owns one run id; if the same call options are used again, that is a
    // new run.
    const bind = this.#binding && this.#boundCallId === undefined ? this.#binding : undefined;
    const trail = new RunTrail(this.#audit, {
      ...(bind && { runId: bind.runId }),
      ...(scope && { parentSpanId: scope.spanId }),
      ...(this.#options.sessionId !== undefined && { sessionId: this.#options.sessionId }),
      actor: agent,
    });
    const state: CallState = {
      trail,
      operation,
      step: 0,
      llm: undefined,
      tools: new Map(),
      decided: new Set(),
      pendingApprovals: [],
      toolCallIds: [],
    };
    const answered = answeredApprovals(event.messages);
    for (const a of answered) state.decided.add(a.toolCallId);
    this.#calls.set(event.callId, state);
    if (bind) this.#boundCallId = event.callId;
    const data: Record<string, unknown> = {
      agent,
      operation: operation.replace(/^ai\./, ""),
      callId: event.callId,
      model: event.modelId,
      provider: event.provider,
    };
    if (functionId !== undefined) data.functionId = functionId;
    if (event.recordInputs !== false && event.messages !== undefined) data.input = event.messages;
    if (answered.length > 0) data.approvals = answered;
    trail.start(data);
  };

  /** Notes the step number the next model and tool calls belong to. */
  onStepStart = (event: AnyEvent): void => {
    const state = this.#state(event);
    if (state && typeof event.stepNumber === "number") state.step = event.stepNumber;
  };

  /** Records `llm.start`. */
  onLanguageModelCallStart = (event: AnyEvent): void => {
    const state = this.#state(event);
    if (!state) return;
    const spanId = newSpanId();
    state.llm = { spanId, startedAt: performance.now() };
    const data: Record<string, unknown> = {
      model: String(event.modelId ?? "unknown"),
      provider: event.provider,
      step: state.step,
    };
    if (event.recordInputs !== false && event.messages !== undefined) data.input = event.messages;
    state.trail.record("llm.start", data, { spanId });
  };

  /** Records `llm.end` with usage and finish reason, and notes the tool calls the model asked for. */
  onLanguageModelCallEnd = (event: AnyEvent): void => {
    const state = this.#state(event);
    if (!state) return;
    const llm = state.llm ?? { spanId: newSpanId(), startedAt: performance.now() };
    state.llm = undefined;
    const usage = (event.usage ?? {}) as UsageView;
    const data: Record<string, unknown> = {
      model: String(event.modelId ?? "unknown"),
      provider: event.provider,
      step: state.step,
      finishReason: event.finishReason,
      durationMs: round(performance.now() - llm.startedAt),
    };
    Object.assign(data, usageFields(usage));
    if (event.responseId !== undefined) data.responseId = event.responseId;
    if (event.recordOutputs !== false && event.content !== undefined) data.output = event.content;
    state.trail.record("llm.end", data, { spanId: llm.spanId });
    if (Array.isArray(event.content) && event.callId !== undefined) {
      for (const part of event.content as { type?: string; toolCallId?: unknown }[]) {
        if (part?.type !== "tool-call" || typeof part.toolCallId !== "string") continue;
        this.#callIdOfToolCall.set(part.toolCallId, event.callId);
        state.toolCallIds.push(part.toolCallId);
      }
    }
  };

  /** Records `tool.start`; with strict durability, starts committing it before the tool runs. */
  onToolExecutionStart = async (event: AnyEvent): Promise<void> => {
    const state = this.#state(event);
    const call = event.toolCall as ToolCallView | undefined;
    if (!state || !call) return;
    const spanId = newSpanId();
    const start = state.trail.record(
      "tool.start",
      { tool: call.toolName, callId: call.toolCallId, args: call.input, step: state.step },
      { spanId },
    );
    const span: ToolSpan = {
      spanId,
      tool: call.toolName,
      startedAt: performance.now(),
      committed: undefined,
    };
    state.tools.set(call.toolCallId, span);
    if (this.#audit.durability === "strict") {
      span.committed = this.#audit.commit(start);
      // Observed here so the rejection is never unhandled; `executeTool` acts on it.
      span.committed.catch(() => undefined);
    }
  };

  /** Records `tool.end` or `tool.error`. */
  onToolExecutionEnd = (input: object): void => {
    const event = input as AnyEvent;
    const state = this.#state(event);
    const call = event.toolCall as ToolCallView | undefined;
    if (!state || !call) return;
    const span = state.tools.get(call.toolCallId);
    state.tools.delete(call.toolCallId);
    const spanId = span?.spanId ?? newSpanId();
    const durationMs =
      typeof event.toolExecutionMs === "number"
        ? round(event.toolExecutionMs)
        : round(performance.now() - (span?.startedAt ?? performance.now()));
    const output = (event.toolOutput ?? {}) as { type?: string; output?: unknown; error?: unknown };
    if (output.type === "tool-error") {
      state.trail.record(
        "tool.error",
        {
          tool: call.toolName,
          callId: call.toolCallId,
          error: output.error,
          errorType: errorType(output.error),
          durationMs,
        },
        { spanId, risk: "medium" },
      );
    } else {
      const data: Record<string, unknown> = { tool: call.toolName, callId: call.toolCallId };
      if (event.recordOutputs !== false) data.result = output.output;
      data.durationMs = durationMs;
      state.trail.record("tool.end", data, { spanId });
    }
  };

  /** Records an `approval.request` for each tool approval request the step ended with. */
  onStepEnd = (event: AnyEvent): void => {
    const state = this.#state(event);
    if (!state || !Array.isArray(event.content)) return;
    for (const part of event.content as Record<string, unknown>[]) {
      if (part.type !== "tool-approval-request" || part.isAutomatic === true) continue;
      const call = part.toolCall as ToolCallView | undefined;
      const approvalId = String(part.approvalId);
      const request: Record<string, unknown> = {
        approvalId,
        action: call?.toolName ?? "tool",
        options: { tool: call?.toolName, callId: call?.toolCallId, args: call?.input },
      };
      if (typeof part.reason === "string") request.reason = part.reason;
      state.trail.record("approval.request", request, { risk: "high" });
      state.pendingApprovals.push(approvalId);
    }
  };

  /** Closes the failed model call's span with `llm.end` (`finishReason: "error"`). */
  onStepError = (event: AnyEvent): void => {
    const state = this.#state(event);
    if (!state?.llm) return;
    // The model call failed: close its span so the trail shows where the run broke.
    const llm = state.llm;
    state.llm = undefined;
    state.trail.record(
      "llm.end",
      {
        model: String(event.modelId ?? "unknown"),
        provider: event.provider,
        step: state.step,
        finishReason: "error",
        error: event.error,
        durationMs: round(performance.now() - llm.startedAt),
      },
      { spanId: llm.spanId, risk: "medium" },
    );
  };

  /** Records `run.end` (status ok). */
  onEnd = (input: object): void => {
    const event = input as AnyEvent;
    const state = this.#state(event);
    if (!state || !event.callId) return;
    this.#forget(event.callId, state);
    const data: Record<string, unknown> = {
      status: "ok",
      finishReason: event.finishReason,
      steps: Array.isArray(event.steps) ? event.steps.length : undefined,
      usage: usageFields((event.usage ?? {}) as UsageView),
    };
    if (event.recordOutputs !== false && typeof event.text === "string") data.output = event.text;
    if (state.pendingApprovals.length > 0) data.pendingApprovals = state.pendingApprovals;
    state.trail.end(data as Record<string, unknown> & { status: "ok" });
  };

  /** Records `run.end` (status error, aborted) for an aborted stream. */
  onAbort = (event: AnyEvent): void => {
    this.#fail(event.callId, { name: "AbortError", message: reasonText(event.reason) }, true);
  };

  /** Records `run.end` (status error) for a call that failed or was aborted. */
  onError = (event: unknown): void => {
    const e = (event ?? {}) as { callId?: string; error?: unknown };
    const error = e.error ?? event;
    this.#fail(e.callId, error, isAbort(error));
  };

  /** Runs a tool through the gate: the policy (unless already decided), then the tool in its span. */
  executeTool = async <T>(options: {
    callId: string;
    toolCallId: string;
    toolCall?: unknown;
    execute: () => PromiseLike<T>;
  }): Promise<T> => {
    const state = this.#calls.get(options.callId);
    if (!state) return options.execute();
    const span = state.tools.get(options.toolCallId);
    const call = options.toolCall as ToolCallView | undefined;
    const tool = call?.toolName ?? span?.tool ?? "tool";
    if (span?.committed) {
      try {
        await span.committed;
      } catch (err) {
        // The start of this call is not durable: with fail-closed, the side effect must not happen.
        if (this.#options.failClosed) {
          this.#binding?.controller.abort(err);
          throw err;
        }
      }
    }
    // When the policy already ran in `toolApproval`, or a human answered before a resume, the call
    // is decided.
    if (!state.decided.has(options.toolCallId)) {
      const verdict = await this.#decide(state, tool, call?.input, options.toolCallId);
      if (verdict?.decision === "review") {
        const approved = await this.#reviewAndWait(
          state,
          tool,
          call?.input,
          options.toolCallId,
          verdict,
        );
        if (!approved.ok) throw new ToolCallDeniedError(tool, options.toolCallId, approved.reason);
      } else if (verdict?.decision === "deny") {
        throw new ToolCallDeniedError(tool, options.toolCallId, verdict.reason);
      }
    }
    const scope = { runId: state.trail.runId, spanId: span?.spanId ?? state.trail.spanId };
    return toolScope.run(scope, () => options.execute());
  };

  // A policy that throws is recorded as an `error` and counts as allow, or as deny when
  // `failClosed`.
  async #decide(
    state: CallState,
    tool: string,
    args: unknown,
    toolCallId: string,
  ): Promise<NormalizedVerdict | undefined> {
    const policy = this.#options.policy;
    state.decided.add(toolCallId);
    if (!policy) return undefined;
    let verdict: NormalizedVerdict | undefined;
    try {
      const answer = await policy({ tool, args, toolCallId, runId: state.trail.runId });
      if (answer === undefined) return undefined;
      verdict = normalizeVerdict(answer);
    } catch (err) {
      state.trail.record(
        "error",
        {
          message: `tool policy failed: ${(err as Error)?.message ?? String(err)}`,
          errorType: errorType(err),
        },
        { risk: "high" },
      );
      if (!this.#options.failClosed) return undefined;
      verdict = { decision: "deny", reason: "the tool policy failed" };
    }
    const data: Record<string, unknown> = {
      policy: this.#options.policyName ?? "tool-policy",
      decision: verdict.decision,
      tool,
      callId: toolCallId,
    };
    if (verdict.rule !== undefined) data.rule = verdict.rule;
    if (verdict.reason !== undefined) data.reason = verdict.reason;
    const risk =
      verdict.decision === "deny" ? "high" : verdict.decision === "review" ? "medium" : "low";
    state.trail.record("policy.decision", data, { risk });
    if (verdict.decision === "deny" && this.#options.failClosed) {
      this.#binding?.controller.abort(new ToolCallDeniedError(tool, toolCallId, verdict.reason));
    }
    return verdict;
  }

  async #reviewAndWait(
    state: CallState,
    tool: string,
    args: unknown,
    toolCallId: string,
    verdict: NormalizedVerdict,
  ): Promise<{ ok: boolean; reason?: string }> {
    const approvalId = uuidv7();
    const request: Record<string, unknown> = {
      approvalId,
      action: tool,
      options: { tool, callId: toolCallId, args },
    };
    if (verdict.reason !== undefined) request.reason = verdict.reason;
    state.trail.record("approval.request", request, { risk: "high" });
    try {
      const resolution = await this.#audit.approvals.wait(approvalId, {
        timeoutMs: this.#options.approvalTimeoutMs ?? 300_000,
        ...(this.#binding && { signal: this.#binding.controller.signal }),
      });
      if (isApproved(resolution.data.outcome)) return { ok: true };
      return {
        ok: false,
        reason:
          resolution.data.comment ?? `${resolution.data.outcome} by ${resolution.data.resolvedBy}`,
      };
    } catch (err) {
      state.trail.record(
        "error",
        {
          message: `approval ${approvalId} not answered: ${(err as Error)?.message ?? String(err)}`,
          errorType: errorType(err),
        },
        { risk: "high" },
      );
      return { ok: false, reason: "no answer from a reviewer" };
    }
  }

  #callOfToolCall(toolCallId: string): CallState | undefined {
    const callId = this.#callIdOfToolCall.get(toolCallId);
    if (callId !== undefined) return this.#calls.get(callId);
    // Ids a provider did not make unique: the only active call is the one asking.
    return this.#calls.size === 1 ? [...this.#calls.values()][0] : undefined;
  }

  #forget(callId: string, state: CallState): void {
    this.#calls.delete(callId);
    for (const id of state.toolCallIds)
      if (this.#callIdOfToolCall.get(id) === callId) this.#callIdOfToolCall.delete(id);
  }

  #state(event: AnyEvent): CallState | undefined {
    return event.callId === undefined ? undefined : this.#calls.get(event.callId);
  }

  #fail(callId: string | undefined, error: unknown, aborted: boolean): void {
    if (callId === undefined) return;
    const state = this.#calls.get(callId);
    if (!state) return;
    this.#forget(callId, state);
    // Operations cut short by the failure get an end of their own, so no span is left open.
    for (const [toolCallId, span] of state.tools) {
      state.trail.record(
        "tool.error",
        {
          tool: span.tool,
          callId: toolCallId,
          error,
          errorType: errorType(error),
          durationMs: round(performance.now() - span.startedAt),
        },
        { spanId: span.spanId, risk: "medium" },
      );
    }
    state.tools.clear();
    if (state.llm) {
      state.trail.record(
        "llm.end",
        {
          model: "unknown",
          step: state.step,
          finishReason: aborted ? "abort" : "error",
          durationMs: round(performance.now() - state.llm.startedAt),
        },
        { spanId: state.llm.spanId, risk: "medium" },
      );
      state.llm = undefined;
    }
    const data: Record<string, unknown> = { status: "error", error };
    if (aborted) data.aborted = true;
    state.trail.end(data as Record<string, unknown> & { status: "error" });
  }
}

/**
 * Creates the telemetry integration. Register it globally with `registerTelemetry(auditTelemetry(audit))`,
 * or per call with `telemetry: { integrations: [auditTelemetry(audit)] }`. For tool approvals and a
 * fail-closed policy, use {@link auditCall} per call instead.
 */
export function auditTelemetry(
  audit: Auditor,
  options: AuditTelemetryOptions = {},
): AuditTelemetry {
  return new AuditTelemetry(audit, options);
}

function usageFields(usage: UsageView): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof usage.inputTokens === "number") out.inputTokens = usage.inputTokens;
  if (typeof usage.outputTokens === "number") out.outputTokens = usage.outputTokens;
  if (typeof usage.totalTokens === "number") out.totalTokens = usage.totalTokens;
  const cached = (usage.inputTokenDetails as { cacheReadTokens?: unknown } | undefined)
    ?.cacheReadTokens;
  if (typeof cached === "number" && cached > 0) out.cachedInputTokens = cached;
  const reasoning = (usage.outputTokenDetails as { reasoningTokens?: unknown } | undefined)
    ?.reasoningTokens;
  if (typeof reasoning === "number" && reasoning > 0) out.reasoningTokens = reasoning;
  return out;
}

function isAbort(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  return name === "AbortError" || name === "TimeoutError" || error instanceof ToolCallDeniedError;
}

function reasonText(reason: unknown): string {
  if (reason === undefined) return "aborted";
  if (reason instanceof Error) return reason.message;
  return typeof reason === "string" ? reason : JSON.stringify(reason);
}

/** The approvals a human answered before this call: read from the call's tool messages. */
function answeredApprovals(
  messages: unknown,
): { approvalId: string; toolCallId: string; approved: boolean }[] {
  if (!Array.isArray(messages)) return [];
  const toolCallOf = new Map<string, string>();
  const out: { approvalId: string; toolCallId: string; approved: boolean }[] = [];
  for (const message of messages as { role?: string; content?: unknown }[]) {
    if (!Array.isArray(message?.content)) continue;
    for (const part of message.content as Record<string, unknown>[]) {
      if (part?.type === "tool-approval-request" && typeof part.approvalId === "string") {
        toolCallOf.set(part.approvalId, String(part.toolCallId));
      } else if (part?.type === "tool-approval-response" && typeof part.approvalId === "string") {
        const toolCallId = toolCallOf.get(part.approvalId);
        if (toolCallId !== undefined)
          out.push({ approvalId: part.approvalId, toolCallId, approved: part.approved === true });
      }
    }
  }
  return out;
}
