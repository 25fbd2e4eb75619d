import type { Auditor } from "@audit/core";
import { errorType, RunTrail, roundDuration as round } from "@audit/core";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { hitlActionRequests, hitlApprovalId } from "./hitl-approvals.js";

/** Options of {@link AuditCallbackHandler}. */
export interface AuditCallbackHandlerOptions {
  /**
   * The agent's name in `run.start` and the events' `actor`.
   * @default the root run's name (`config.runName`, e.g. `"LangGraph"`)
   */
  agent?: string;
  /**
   * The conversation or job the runs belong to.
   * @default the LangGraph `thread_id`, when there is one
   */
  sessionId?: string;
  /**
   * Record every nested chain (graph nodes, routing lambdas) as `chain.start`/`chain.end`. Without
   * it only the root chain is recorded, as the run, and model, tool and retriever spans hang under
   * the nearest recorded ancestor.
   * @default false
   */
  chains?: boolean;
  /**
   * Have LangChain await this handler's callbacks, so the trail is complete when `invoke` returns.
   * LangChain runs callbacks in the background by default: the call returns first, and
   * `awaitAllCallbacks()` (from `@langchain/core/callbacks/promises`) waits for the rest. Recording
   * is a synchronous enqueue, so awaiting costs next to nothing.
   * @default false (LangChain's default; `LANGCHAIN_CALLBACKS_BACKGROUND=false` also awaits)
   */
  awaitHandlers?: boolean;
}

type Kind = "chain" | "llm" | "tool" | "retriever";

interface OpenRun {
  kind: Kind;
  /** The LangChain id of the root run this one belongs to. */
  rootId: string;
  /** The span this run's children go under: its own if it is recorded, else its parent's. */
  spanId: string;
  /** The span this run's own events go under. */
  parentSpan: string;
  recorded: boolean;
  name: string;
  startedAt: number;
  model?: string;
  provider?: string;
}

interface Shared {
  audit: Auditor;
  options: AuditCallbackHandlerOptions;
  runs: Map<string, OpenRun>;
  trails: Map<string, RunTrail>;
  /** The model's tool call id → the LangChain root run that produced it. */
  rootOfToolCall: Map<string, string>;
  /** A tool's LangChain run id → the model's tool call id. */
  toolCallIdOf: Map<string, string>;
  /** Interrupts raised inside a root run, reported when it ends. */
  interrupts: Map<string, unknown[]>;
}

/**
 * A LangChain.js callback handler that records the trail: the root run as `run.start`/`run.end`
 * (the LangChain root run id is the audit run id), chat-model and LLM calls as
 * `llm.start`/`llm.end` with model, provider, usage and finish reason, tools as
 * `tool.start`/`tool.end`/`tool.error`, retrievers as `retriever.*`, legacy agent actions as
 * `agent.action`/`agent.finish`. LangChain's run ids become span ids and its parent run ids parent
 * span ids. Pass it in `callbacks` of any `invoke`, or in a runnable's `withConfig`.
 */
export class AuditCallbackHandler extends BaseCallbackHandler {
  /** The handler's name, as LangChain lists it. */
  name = "audit";
  readonly #shared: Shared;

  constructor(audit: Auditor | AuditCallbackHandler, options: AuditCallbackHandlerOptions = {}) {
    const shared: Shared =
      audit instanceof AuditCallbackHandler
        ? audit.#shared
        : {
            audit,
            options,
            runs: new Map(),
            trails: new Map(),
            rootOfToolCall: new Map(),
            toolCallIdOf: new Map(),
            interrupts: new Map(),
          };
    super({ _awaitHandler: shared.options.awaitHandlers ?? false });
    this.#shared = shared;
  }

  /** The auditor this handler records into. */
  get audit(): Auditor {
    return this.#shared.audit;
  }

  /**
   * The open run in which the model asked for this tool call, if this handler saw it; the tool gate
   * records its decisions there.
   */
  runOfToolCall(toolCallId: string): RunTrail | undefined {
    const rootId = this.#shared.rootOfToolCall.get(toolCallId);
    return rootId === undefined ? undefined : this.#shared.trails.get(rootId);
  }

  // LangChain calls this as (chain, inputs, runId, parentRunId, tags, metadata, runType, runName),
  // BaseTracer's order, although its type declares (…, runId, runType, tags, metadata, runName,
  // parentRunId); the arguments are read in the order it actually uses.
  override handleChainStart(
    chain: unknown,
    inputs: unknown,
    runId: string,
    parentRunId?: unknown,
    _tags?: unknown,
    metadata?: Record<string, unknown>,
    _runType?: unknown,
    runName?: unknown,
  ): void {
    this.#guard(() => {
      const parent = typeof parentRunId === "string" ? parentRunId : undefined;
      const name = typeof runName === "string" ? runName : serializedName(chain);
      // A chain whose parent this handler never saw (it was attached further down) is a root too.
      if (parent === undefined || !this.#shared.runs.has(parent)) {
        const trail = this.#startRun(runId, name, metadata, inputs, parent);
        this.#shared.runs.set(runId, {
          kind: "chain",
          rootId: runId,
          spanId: trail.spanId,
          parentSpan: trail.spanId,
          recorded: true,
          name,
          startedAt: performance.now(),
        });
        return;
      }
      const open = this.#open(runId, parent, "chain", name, this.#shared.options.chains === true);
      if (open?.recorded) this.#record(open, "chain.start", { chain: name, input: inputs }, runId);
    });
  }

  override handleChainEnd(outputs: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#close(runId);
      if (!open) return;
      if (open.rootId === runId) {
        const data: Record<string, unknown> = { status: "ok", output: finalOutput(outputs) };
        const interrupts = this.#shared.interrupts.get(runId);
        if (interrupts) {
          data.interrupted = true;
          data.interrupts = interrupts;
        }
        this.#endRun(runId, data);
      } else if (open.recorded) {
        this.#record(
          open,
          "chain.end",
          { chain: open.name, output: outputs, durationMs: ms(open) },
          runId,
        );
      }
    });
  }

  override handleChainError(err: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#close(runId);
      if (!open) return;
      if (open.rootId === runId) {
        const data: Record<string, unknown> = { status: "error", error: err };
        if (isAbort(err)) data.aborted = true;
        this.#endRun(runId, data);
        return;
      }
      // A graph interrupt is a pause, not a failure (LangGraph signals it by throwing): the run
      // ends paused, with what it waits for.
      const interrupted = errorType(err) === "GraphInterrupt";
      if (interrupted) {
        const list = this.#shared.interrupts.get(open.rootId) ?? [];
        const raised = (err as { interrupts?: { id?: unknown; value?: unknown }[] }).interrupts;
        // The same interrupt passes through every enclosing chain: keep it once.
        for (const i of Array.isArray(raised) ? raised : []) {
          if (list.some((seen) => (seen as { id?: unknown }).id === i?.id)) continue;
          list.push({ id: i?.id, value: i?.value });
          this.#recordHitlRequests(open.rootId, i);
        }
        this.#shared.interrupts.set(open.rootId, list);
      }
      if (open.recorded) {
        const type = interrupted ? "chain.end" : "chain.error";
        const data: Record<string, unknown> = { chain: open.name, durationMs: ms(open) };
        if (type === "chain.error") Object.assign(data, { error: err, errorType: errorType(err) });
        else data.interrupted = true;
        this.#record(open, type, data, runId);
      }
    });
  }

  override handleChatModelStart(
    llm: unknown,
    messages: unknown,
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): void {
    this.#modelStart(llm, messages, runId, parentRunId, extraParams, metadata, runName);
  }

  override handleLLMStart(
    llm: unknown,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): void {
    this.#modelStart(llm, prompts, runId, parentRunId, extraParams, metadata, runName);
  }

  override handleLLMEnd(output: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#close(runId);
      if (!open) return;
      const result = (output ?? {}) as {
        generations?: {
          message?: Record<string, unknown>;
          text?: string;
          generationInfo?: Record<string, unknown>;
        }[][];
        llmOutput?: Record<string, unknown>;
      };
      const generation = result.generations?.[0]?.[0];
      const message = generation?.message as
        | {
            content?: unknown;
            tool_calls?: { id?: string; name?: string; args?: unknown }[];
            usage_metadata?: {
              input_tokens?: number;
              output_tokens?: number;
              total_tokens?: number;
            };
            response_metadata?: Record<string, unknown>;
          }
        | undefined;
      const meta = message?.response_metadata ?? {};
      const data: Record<string, unknown> = {
        model: stringOr(meta.model_name, stringOr(meta.model, open.model ?? open.name)),
        provider: open.provider,
      };
      const usage = message?.usage_metadata;
      const tokenUsage = result.llmOutput?.tokenUsage as
        | { promptTokens?: number; completionTokens?: number; totalTokens?: number }
        | undefined;
      const input = usage?.input_tokens ?? tokenUsage?.promptTokens;
      const outputTokens = usage?.output_tokens ?? tokenUsage?.completionTokens;
      const total = usage?.total_tokens ?? tokenUsage?.totalTokens;
      if (typeof input === "number") data.inputTokens = input;
      if (typeof outputTokens === "number") data.outputTokens = outputTokens;
      if (typeof total === "number") data.totalTokens = total;
      const finish =
        meta.finish_reason ?? meta.stop_reason ?? generation?.generationInfo?.finish_reason;
      if (typeof finish === "string") data.finishReason = finish;
      const toolCalls = message?.tool_calls ?? [];
      data.output = message
        ? { content: message.content, ...(toolCalls.length > 0 && { toolCalls }) }
        : generation?.text;
      data.durationMs = ms(open);
      this.#record(open, "llm.end", data, runId);
      for (const call of toolCalls)
        if (typeof call.id === "string") this.#shared.rootOfToolCall.set(call.id, open.rootId);
      this.#endIfRoot(open, runId, { status: "ok" });
    });
  }

  override handleLLMError(err: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#close(runId);
      if (!open) return;
      this.#record(
        open,
        "llm.end",
        {
          model: open.model ?? open.name,
          provider: open.provider,
          finishReason: "error",
          error: err,
          durationMs: ms(open),
        },
        runId,
        "medium",
      );
      this.#endIfRoot(open, runId, { status: "error", error: err });
    });
  }

  override handleToolStart(
    tool: unknown,
    input: string,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    _metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): void {
    this.#guard(() => {
      const name = runName ?? serializedName(tool);
      const open = this.#open(runId, parentRunId, "tool", name, true, { input });
      if (!open) return;
      this.#shared.toolCallIdOf.set(runId, toolCallId ?? runId);
      this.#record(
        open,
        "tool.start",
        { tool: name, callId: toolCallId ?? runId, args: parseArgs(input) },
        runId,
      );
    });
  }

  override handleToolEnd(output: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#close(runId);
      if (!open) return;
      const callId = this.#takeCallId(runId);
      const message = output as
        | { content?: unknown; status?: unknown; lc_direct_tool_output?: unknown }
        | undefined;
      const isMessage = message !== null && typeof message === "object" && "content" in message;
      if (isMessage && message.status === "error") {
        this.#record(
          open,
          "tool.error",
          {
            tool: open.name,
            callId,
            error: message.content,
            errorType: "ToolError",
            durationMs: ms(open),
          },
          runId,
          "medium",
        );
        this.#endIfRoot(open, runId, { status: "error", error: message.content });
        return;
      }
      const result = isMessage ? message.content : output;
      this.#record(
        open,
        "tool.end",
        { tool: open.name, callId, result, durationMs: ms(open) },
        runId,
      );
      this.#endIfRoot(open, runId, { status: "ok", output: result });
    });
  }

  override handleToolError(err: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#close(runId);
      if (!open) return;
      const callId = this.#takeCallId(runId);
      this.#record(
        open,
        "tool.error",
        { tool: open.name, callId, error: err, errorType: errorType(err), durationMs: ms(open) },
        runId,
        "medium",
      );
      this.#endIfRoot(open, runId, {
        status: "error",
        error: err,
        ...(isAbort(err) && { aborted: true }),
      });
    });
  }

  override handleRetrieverStart(
    retriever: unknown,
    query: string,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    _metadata?: Record<string, unknown>,
    name?: string,
  ): void {
    this.#guard(() => {
      const retrieverName = name ?? serializedName(retriever);
      const open = this.#open(runId, parentRunId, "retriever", retrieverName, true, {
        input: query,
      });
      if (open)
        this.#record(open, "retriever.start", { retriever: retrieverName, input: query }, runId);
    });
  }

  override handleRetrieverEnd(documents: unknown[], runId: string): void {
    this.#guard(() => {
      const open = this.#close(runId);
      if (!open) return;
      const docs = (documents ?? []).map((d) => {
        const doc = d as { pageContent?: unknown; metadata?: unknown; id?: unknown };
        return {
          pageContent: doc.pageContent,
          metadata: doc.metadata,
          ...(doc.id !== undefined && { id: doc.id }),
        };
      });
      this.#record(
        open,
        "retriever.end",
        { retriever: open.name, documents: docs.length, result: docs, durationMs: ms(open) },
        runId,
      );
      this.#endIfRoot(open, runId, { status: "ok" });
    });
  }

  override handleRetrieverError(err: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#close(runId);
      if (!open) return;
      this.#record(
        open,
        "retriever.error",
        { retriever: open.name, error: err, errorType: errorType(err), durationMs: ms(open) },
        runId,
        "medium",
      );
      this.#endIfRoot(open, runId, { status: "error", error: err });
    });
  }

  override handleAgentAction(action: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#shared.runs.get(runId);
      const trail = open && this.#shared.trails.get(open.rootId);
      if (!open || !trail) return;
      const a = action as { tool?: string; toolInput?: unknown; log?: string };
      trail.record(
        "agent.action",
        { tool: a.tool, args: a.toolInput, ...(a.log !== undefined && { log: a.log }) },
        { parentSpanId: open.spanId },
      );
    });
  }

  override handleAgentEnd(finish: unknown, runId: string): void {
    this.#guard(() => {
      const open = this.#shared.runs.get(runId);
      const trail = open && this.#shared.trails.get(open.rootId);
      if (!open || !trail) return;
      const f = finish as { returnValues?: unknown; log?: string };
      trail.record(
        "agent.finish",
        { output: f.returnValues, ...(f.log !== undefined && { log: f.log }) },
        { parentSpanId: open.spanId },
      );
    });
  }

  // `humanInTheLoopMiddleware` pauses with one interrupt listing the tool calls to review: each
  // becomes an approval request a human can answer from the trail (see `hitlDecisions`).
  #recordHitlRequests(rootId: string, interrupt: { id?: unknown; value?: unknown }): void {
    const requests = hitlActionRequests(interrupt?.value);
    const trail = this.#shared.trails.get(rootId);
    if (!requests || !trail || typeof interrupt.id !== "string") return;
    const configs = (
      interrupt.value as { reviewConfigs?: { actionName?: string; allowedDecisions?: unknown }[] }
    ).reviewConfigs;
    requests.forEach((request, index) => {
      const allowed = configs?.find((c) => c?.actionName === request.name)?.allowedDecisions;
      const data: Record<string, unknown> = {
        approvalId: hitlApprovalId(interrupt.id as string, index),
        action: request.name,
        options: {
          tool: request.name,
          args: request.args,
          ...(allowed !== undefined && { allowedDecisions: allowed }),
        },
      };
      if (typeof request.description === "string") data.reason = request.description;
      trail.record("approval.request", data, { risk: "high" });
    });
  }

  #modelStart(
    llm: unknown,
    input: unknown,
    runId: string,
    parentRunId: string | undefined,
    extraParams: Record<string, unknown> | undefined,
    metadata: Record<string, unknown> | undefined,
    runName: string | undefined,
  ): void {
    this.#guard(() => {
      const name = runName ?? serializedName(llm);
      const params = (extraParams?.invocation_params ?? {}) as Record<string, unknown>;
      const model = stringOr(
        metadata?.ls_model_name,
        stringOr(params.model, stringOr(params.model_name, name)),
      );
      const provider = typeof metadata?.ls_provider === "string" ? metadata.ls_provider : undefined;
      const open = this.#open(runId, parentRunId, "llm", name, true, { input, metadata });
      if (!open) return;
      open.model = model;
      if (provider !== undefined) open.provider = provider;
      this.#record(open, "llm.start", { model, provider, input }, runId);
    });
  }

  /** Registers a run below its parent; a run without a parent (a bare model or tool call) is a run of its own. */
  #open(
    runId: string,
    parentRunId: string | undefined,
    kind: Kind,
    name: string,
    recorded: boolean,
    root: { input?: unknown; metadata?: Record<string, unknown> | undefined } = {},
  ): OpenRun | undefined {
    const parent = parentRunId === undefined ? undefined : this.#shared.runs.get(parentRunId);
    let rootId: string;
    let parentSpan: string;
    if (parent) {
      rootId = parent.rootId;
      parentSpan = parent.spanId;
    } else {
      // No parent, or one this handler never saw (it was attached to this runnable only): this
      // run is a root of its own, hung under the unseen parent's span.
      const trail = this.#startRun(runId, name, root.metadata, root.input, parentRunId);
      rootId = runId;
      parentSpan = trail.spanId;
    }
    const open: OpenRun = {
      kind,
      rootId,
      spanId: recorded ? runId : parentSpan,
      parentSpan,
      recorded,
      name,
      startedAt: performance.now(),
    };
    this.#shared.runs.set(runId, open);
    return open;
  }

  #close(runId: string): OpenRun | undefined {
    const open = this.#shared.runs.get(runId);
    if (open) this.#shared.runs.delete(runId);
    return open;
  }

  #takeCallId(runId: string): string {
    const id = this.#shared.toolCallIdOf.get(runId) ?? runId;
    this.#shared.toolCallIdOf.delete(runId);
    return id;
  }

  #record(
    open: OpenRun,
    type: string,
    data: Record<string, unknown>,
    runId: string,
    risk?: "medium",
  ): void {
    const trail = this.#shared.trails.get(open.rootId);
    if (!trail) return;
    trail.record(type, data, {
      ...(open.recorded && { spanId: runId }),
      parentSpanId: open.parentSpan,
      ...(risk && { risk }),
    });
  }

  #startRun(
    rootId: string,
    name: string,
    metadata: Record<string, unknown> | undefined,
    input: unknown,
    parentSpanId: string | undefined,
  ): RunTrail {
    const { audit, options } = this.#shared;
    const threadId = typeof metadata?.thread_id === "string" ? metadata.thread_id : undefined;
    const sessionId = options.sessionId ?? threadId;
    const agent = options.agent ?? name;
    const trail = new RunTrail(audit, {
      runId: rootId,
      actor: agent,
      ...(parentSpanId !== undefined && { parentSpanId }),
      ...(sessionId !== undefined && { sessionId }),
    });
    this.#shared.trails.set(rootId, trail);
    const data: Record<string, unknown> = { agent, runName: name };
    if (threadId !== undefined) data.threadId = threadId;
    data.input = input;
    trail.start(data);
    return trail;
  }

  #endIfRoot(
    open: OpenRun,
    runId: string,
    data: Record<string, unknown> & { status: "ok" | "error" },
  ): void {
    if (open.rootId === runId) this.#endRun(runId, data);
  }

  #endRun(rootId: string, data: Record<string, unknown>): void {
    const trail = this.#shared.trails.get(rootId);
    if (!trail) return;
    this.#shared.trails.delete(rootId);
    this.#shared.interrupts.delete(rootId);
    for (const [toolCallId, root] of this.#shared.rootOfToolCall)
      if (root === rootId) this.#shared.rootOfToolCall.delete(toolCallId);
    trail.end(data as Record<string, unknown> & { status: "ok" | "error" });
  }

  // A callback must never disturb the agent: LangChain would log it, or with raiseError rethrow it.
  #guard(fn: () => void): void {
    try {
      fn();
    } catch {
      // The auditor reports its own failures through its onError; nothing more to do here.
    }
  }
}

function ms(open: OpenRun): number {
  return round(performance.now() - open.startedAt);
}

function serializedName(serialized: unknown): string {
  const s = serialized as { name?: unknown; id?: unknown } | undefined;
  if (typeof s?.name === "string") return s.name;
  if (Array.isArray(s?.id) && s.id.length > 0) return String(s.id[s.id.length - 1]);
  return "unknown";
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" && value.length > 0 ? value : fallback;
}

function parseArgs(input: string): unknown {
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

/** An agent's state is `{ messages }`: the run's output is the last message's content. */
function finalOutput(outputs: unknown): unknown {
  const messages = (outputs as { messages?: unknown } | undefined)?.messages;
  if (Array.isArray(messages) && messages.length > 0) {
    const last = messages[messages.length - 1] as { content?: unknown } | undefined;
    return last?.content;
  }
  return outputs;
}

function isAbort(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | undefined;
  return e?.name === "AbortError" || e?.message === "Abort" || e?.message === "user cancelled";
}
