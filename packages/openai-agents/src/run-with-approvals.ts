import { performance } from "node:perf_hooks";
import { AuditConfigError, uuidv7 } from "@audit/core";
import {
  type Agent,
  type AgentInputItem,
  type NonStreamRunOptions,
  Runner,
  type RunResult,
  RunState,
  type RunToolApprovalItem,
} from "@openai/agents-core";
import { newRunScope, runEnvelope, runScopes, type TracedRun } from "./run-scope.js";
import { parseJsonText } from "./span-values.js";
import type { AuditTracingProcessor } from "./tracing-processor.js";

/** A tool call waiting for a human, as `onApprovalRequested` sees it. */
export interface PendingToolApproval {
  /** The id to answer with `audit approvals resolve <id>` or `audit.approvals.resolve`. */
  approvalId: string;
  runId: string;
  tool: string;
  /** The model's call id. */
  callId: string;
  args: unknown;
}

/** Options of {@link runWithApprovals}. */
export interface RunWithApprovalsOptions<TContext = undefined> {
  /** The registered processor: it knows the audit run the SDK's spans belong to. */
  processor: AuditTracingProcessor;
  /** The runner to use (its workflowName, groupId and model provider apply). @default new Runner() */
  runner?: Runner;
  /** Passed to every `runner.run` call (context, maxTurns, signal…). @default {} */
  runOptions?: NonStreamRunOptions<TContext>;
  /** How long to wait for each decision; past it the run fails with `AuditTimeoutError`. @default no limit */
  timeoutMs?: number;
  /** Which outcomes approve the call; any other outcome rejects it. @default approve, approved, allow, yes */
  isApproved?: (outcome: string) => boolean;
  /** Told about each request as soon as it is recorded, e.g. to notify a human. @default none */
  onApprovalRequested?: (request: PendingToolApproval) => void;
  /** Aborts a wait for a decision. @default none */
  signal?: AbortSignal;
}

const APPROVING = new Set(["approve", "approved", "allow", "yes"]);

function modelsOf(root: unknown): Map<string, string> {
  const models = new Map<string, string>();
  const seen = new Set<unknown>();
  const visit = (agent: unknown): void => {
    if (!agent || typeof agent !== "object" || seen.has(agent)) return;
    seen.add(agent);
    const a = agent as { name?: unknown; model?: unknown; handoffs?: unknown[] };
    if (typeof a.name === "string" && typeof a.model === "string" && a.model !== "") {
      models.set(a.name, a.model);
    }
    for (const h of a.handoffs ?? []) {
      visit((h as { agent?: unknown }).agent ?? h);
    }
  };
  visit(root);
  return models;
}

function recordRequest(
  processor: AuditTracingProcessor,
  run: TracedRun,
  item: RunToolApprovalItem,
): PendingToolApproval {
  const raw = item.rawItem as { callId?: string; arguments?: string; name?: string };
  const tool = item.name ?? raw.name ?? "tool";
  const request: PendingToolApproval = {
    approvalId: uuidv7(),
    runId: run.runId,
    tool,
    callId: raw.callId ?? "",
    args: parseJsonText(raw.arguments),
  };
  processor.auditor.record({
    type: "approval.request",
    ...runEnvelope(run),
    parentSpanId: run.rootSpanId,
    risk: "high",
    data: {
      approvalId: request.approvalId,
      action: tool,
      reason: `the tool ${tool} needs a human's approval before it runs`,
      options: { tool, callId: request.callId, args: request.args },
    },
  });
  return request;
}

/**
 * Runs an agent and answers its tool approvals from the audit trail. Each interruption (a tool
 * declared with `needsApproval`) is recorded as `approval.request`; the call waits for
 * `audit.approvals` to hold a decision — made by `audit approvals resolve`, the web inbox, the MCP
 * approvals server or any process sharing the store — then approves or rejects the call in the
 * SDK's run state and resumes, until the run finishes. The whole loop is one audit run, ended with
 * the final output.
 * @throws {AuditConfigError} when tracing is disabled and a tool needs approval (the request could
 *   not be tied to a run); `AuditTimeoutError` past `timeoutMs`; whatever the run throws.
 */
// biome-ignore lint/suspicious/noExplicitAny: the SDK's own run() signature takes Agent<any, any>.
export async function runWithApprovals<TAgent extends Agent<any, any>, TContext = undefined>(
  agent: TAgent,
  input: string | AgentInputItem[] | RunState<TContext, TAgent>,
  options: RunWithApprovalsOptions<TContext>,
): Promise<RunResult<TContext, TAgent>> {
  const { processor } = options;
  const runner = options.runner ?? new Runner();
  const runOptions = options.runOptions ?? {};
  const isApproved = options.isApproved ?? ((o: string) => APPROVING.has(o.toLowerCase()));
  const audit = processor.auditor;
  const scope = newRunScope(input instanceof RunState ? undefined : input, modelsOf(agent));
  const startedAt = performance.now();
  const finish = (
    data: { status: "ok" | "error"; output?: unknown; error?: unknown },
    failed: boolean,
  ): void => {
    const run = scope.run;
    if (!run || run.ended) return;
    run.ended = true;
    audit.record({
      type: "run.end",
      ...runEnvelope(run),
      spanId: run.rootSpanId,
      ...(failed && { risk: "high" as const }),
      data: {
        ...data,
        ...(scope.usage.requests > 0 && { usage: scope.usage }),
        durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
      },
    });
  };
  return runScopes.run(scope, async () => {
    try {
      let result = (await runner.run(agent, input, runOptions)) as RunResult<TContext, TAgent>;
      while (result.interruptions.length > 0) {
        const run = scope.run;
        if (!run) {
          throw new AuditConfigError(
            "[audit] a tool needs approval but the run was not traced: register the AuditTracingProcessor with addTraceProcessor and keep tracing enabled (setTracingDisabled(false) under NODE_ENV=test)",
          );
        }
        const items = result.interruptions;
        const requests = items.map((item) => recordRequest(processor, run, item));
        for (const request of requests) options.onApprovalRequested?.(request);
        for (const [i, item] of items.entries()) {
          const request = requests[i]!;
          const resolution = await audit.approvals.wait(request.approvalId, {
            ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
            ...(options.signal !== undefined && { signal: options.signal }),
          });
          const { outcome, resolvedBy, comment } = resolution.data;
          if (isApproved(outcome)) {
            result.state.approve(item);
          } else {
            result.state.reject(item, {
              message: `Denied by ${resolvedBy}${comment ? `: ${comment}` : ""}. Do not retry this call.`,
            });
          }
        }
        result = (await runner.run(agent, result.state, runOptions)) as RunResult<TContext, TAgent>;
      }
      if (scope.rootError) {
        const error = scope.rootError as { message?: string; data?: { error?: unknown } };
        finish({ status: "error", error: error.data?.error ?? error.message }, true);
      } else {
        finish({ status: "ok", output: result.finalOutput }, false);
      }
      return result;
    } catch (err) {
      finish({ status: "error", error: err }, true);
      throw err;
    }
  });
}
