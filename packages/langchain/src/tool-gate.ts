import type { Auditor, Risk } from "@audit/core";
import {
  ApprovalNotFoundError,
  errorType,
  type NormalizedVerdict,
  normalizeVerdict,
  type ToolPolicy,
  uuidFromName,
  uuidv7,
} from "@audit/core";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { ToolMessage } from "@langchain/core/messages";
import { createMiddleware } from "langchain";
import { isApproved } from "./approval-outcome.js";
import type { AuditCallbackHandler } from "./audit-callback-handler.js";
import { ToolCallDeniedError } from "./errors.js";

/** Options of {@link auditToolGate}. */
export interface AuditToolGateOptions {
  /** Decides about each tool call before it runs; recorded as `policy.decision`. */
  policy: ToolPolicy;
  /**
   * The `policy` name recorded in `policy.decision`.
   * @default "tool-policy"
   */
  policyName?: string;
  /**
   * How a call sent to review waits for its human: `"interrupt"` pauses the agent with a LangGraph
   * interrupt (the agent needs a checkpointer and a `thread_id`; resume it with
   * `new Command({ resume: true })` once the approval is resolved); `"wait"` holds the tool call
   * open until the approval is resolved or `approvalTimeoutMs` passes.
   * @default "interrupt" when the run has a `thread_id`, else `"wait"`
   */
  approvals?: "interrupt" | "wait";
  /**
   * How long `"wait"` waits for a human before it denies the call.
   * @default 300_000
   */
  approvalTimeoutMs?: number;
  /**
   * A denied call rejects the agent's `invoke` with {@link ToolCallDeniedError} instead of handing
   * the model a refusal, and a policy that throws counts as a deny.
   * @default false
   */
  failClosed?: boolean;
}

/** What the gate puts in a LangGraph interrupt, so the application knows what it waits for. */
export interface AuditApprovalInterrupt {
  /** The id to resolve: `audit approvals resolve <approvalId> --outcome approve --by <name>`. */
  approvalId: string;
  tool: string;
  toolCallId: string;
  args: unknown;
  reason?: string;
}

interface Recorder {
  runId: string | undefined;
  record(type: string, data: Record<string, unknown>, risk: Risk): void;
}

/**
 * A `createAgent` middleware that asks the policy about every tool call before it runs and records
 * the answer as `policy.decision`: allow runs the tool; deny hands the model a refusal (a
 * `ToolMessage` with status `error`) or, fail-closed, rejects the run; review records
 * `approval.request` and lets a human decide through `audit.approvals` (the CLI, or anything
 * calling `approvals.resolve`), by a LangGraph interrupt or by waiting. The events land in the run
 * the `handler` records.
 */
export function auditToolGate(handler: AuditCallbackHandler, options: AuditToolGateOptions) {
  const audit = handler.audit;
  return createMiddleware({
    name: "AuditToolGate",
    wrapToolCall: async (request, next) => {
      const call = request.toolCall;
      const toolCallId = call.id ?? uuidv7();
      const tool = call.name;
      const args = call.args;
      const runtime = request.runtime as {
        configurable?: Record<string, unknown>;
        interrupt?: (value: unknown) => unknown;
        signal?: AbortSignal;
      };
      const threadId =
        typeof runtime.configurable?.thread_id === "string"
          ? runtime.configurable.thread_id
          : undefined;
      const mode =
        options.approvals ?? (threadId !== undefined && runtime.interrupt ? "interrupt" : "wait");
      const act = (resolution: { outcome: string; resolvedBy: string; comment?: string }) =>
        isApproved(resolution.outcome)
          ? next(request)
          : refuse(resolution.comment ?? `${resolution.outcome} by ${resolution.resolvedBy}`);
      const waitAndAct = async () => {
        try {
          const resolution = await audit.approvals.wait(approvalId, {
            timeoutMs: options.approvalTimeoutMs ?? 300_000,
            ...(runtime.signal && { signal: runtime.signal }),
          });
          return await act(resolution.data);
        } catch (err) {
          if (err instanceof ToolCallDeniedError) throw err;
          recorderFor(handler, audit, toolCallId, threadId).record(
            "error",
            {
              message: `approval ${approvalId} not answered: ${(err as Error)?.message ?? String(err)}`,
              errorType: errorType(err),
            },
            "high",
          );
          return refuse("no answer from a reviewer");
        }
      };
      const refuse = (reason: string) => {
        if (options.failClosed) throw new ToolCallDeniedError(tool, toolCallId, reason);
        return new ToolMessage({
          content: `Tool call denied: ${reason}`,
          tool_call_id: toolCallId,
          name: tool,
          status: "error",
        });
      };

      // In interrupt mode the node runs again on resume: the approval id is derived from the
      // thread and the call, so the second pass finds the decision instead of asking again.
      const approvalId =
        mode === "interrupt" ? uuidFromName(`audit:langchain:${threadId}:${toolCallId}`) : uuidv7();
      if (mode === "interrupt") {
        const existing = await lookup(audit, approvalId);
        if (existing?.status === "resolved") return act(existing.resolution);
        if (existing) {
          // Resumed before anyone answered: `interrupt` hands back the resume value instead of
          // pausing, and the human's decision is still what counts, so wait for it.
          runtime.interrupt?.(interruptValue(approvalId, tool, toolCallId, args, existing.reason));
          return waitAndAct();
        }
      }

      // The handler learns the call's run from the model's answer; in LangChain's default
      // background mode that callback may still be queued, so drain the queue only then.
      if (!handler.runOfToolCall(toolCallId)) await awaitAllCallbacks();
      const recorder = recorderFor(handler, audit, toolCallId, threadId);
      const verdict = await decide(options, recorder, tool, args, toolCallId);
      if (!verdict || verdict.decision === "allow") return next(request);
      if (verdict.decision === "deny") return refuse(verdict.reason ?? "denied by policy");

      const approval: Record<string, unknown> = {
        approvalId,
        action: tool,
        options: { tool, callId: toolCallId, args },
      };
      if (verdict.reason !== undefined) approval.reason = verdict.reason;
      recorder.record("approval.request", approval, "high");
      // Pauses the agent (LangGraph's interrupt throws) until it is resumed; the decision is then
      // read from the trail on the node's second pass.
      if (mode === "interrupt")
        runtime.interrupt?.(interruptValue(approvalId, tool, toolCallId, args, verdict.reason));
      return waitAndAct();
    },
  });
}

function interruptValue(
  approvalId: string,
  tool: string,
  toolCallId: string,
  args: unknown,
  reason: string | undefined,
): AuditApprovalInterrupt {
  return { approvalId, tool, toolCallId, args, ...(reason !== undefined && { reason }) };
}

async function lookup(
  audit: Auditor,
  approvalId: string,
): Promise<
  | { status: "pending"; reason: string | undefined }
  | { status: "resolved"; resolution: { outcome: string; resolvedBy: string; comment?: string } }
  | undefined
> {
  try {
    const approval = await audit.approvals.get(approvalId);
    if (approval.status === "resolved" && approval.resolution)
      return { status: "resolved", resolution: approval.resolution.data };
    return { status: "pending", reason: approval.request.data.reason };
  } catch (err) {
    if (err instanceof ApprovalNotFoundError) return undefined;
    throw err;
  }
}

/** Records into the handler's run for this call, or, without one, into the thread as a session. */
function recorderFor(
  handler: AuditCallbackHandler,
  audit: Auditor,
  toolCallId: string,
  threadId: string | undefined,
): Recorder {
  const trail = handler.runOfToolCall(toolCallId);
  if (trail)
    return { runId: trail.runId, record: (type, data, risk) => trail.record(type, data, { risk }) };
  return {
    runId: undefined,
    record: (type, data, risk) =>
      audit.record({ type, data, risk, ...(threadId !== undefined && { sessionId: threadId }) }),
  };
}

async function decide(
  options: AuditToolGateOptions,
  recorder: Recorder,
  tool: string,
  args: unknown,
  toolCallId: string,
): Promise<NormalizedVerdict | undefined> {
  let verdict: NormalizedVerdict;
  try {
    const answer = await options.policy({ tool, args, toolCallId, runId: recorder.runId });
    if (answer === undefined) return undefined;
    verdict = normalizeVerdict(answer);
  } catch (err) {
    recorder.record(
      "error",
      {
        message: `tool policy failed: ${(err as Error)?.message ?? String(err)}`,
        errorType: errorType(err),
      },
      "high",
    );
    if (!options.failClosed) return undefined;
    verdict = { decision: "deny", reason: "the tool policy failed" };
  }
  const data: Record<string, unknown> = {
    policy: options.policyName ?? "tool-policy",
    decision: verdict.decision,
    tool,
    callId: toolCallId,
  };
  if (verdict.rule !== undefined) data.rule = verdict.rule;
  if (verdict.reason !== undefined) data.reason = verdict.reason;
  recorder.record(
    "policy.decision",
    data,
    verdict.decision === "deny" ? "high" : verdict.decision === "review" ? "medium" : "low",
  );
  return verdict;
}
