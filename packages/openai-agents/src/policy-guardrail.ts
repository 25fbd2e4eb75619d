import { uuidv7 } from "@audit/core";
import {
  defineToolInputGuardrail,
  getCurrentSpan,
  ToolGuardrailFunctionOutputFactory,
  type ToolInputGuardrailDefinition,
} from "@openai/agents-core";
import { runEnvelope } from "./run-scope.js";
import { parseJsonText } from "./span-values.js";
import type { AuditTracingProcessor } from "./tracing-processor.js";

/** What a policy decided about one tool call. */
export interface PolicyVerdict {
  decision: "allow" | "deny" | "review";
  /** The rule that decided, recorded with the decision. */
  rule?: string;
  /** Why; shown to the model when the call is refused. */
  reason?: string;
}

/** The tool call a policy is asked about. */
export interface PolicyToolCall {
  tool: string;
  callId: string;
  /** The parsed arguments. */
  args: unknown;
  /** The agent that made the call. */
  agent: string;
}

/** Options of {@link auditPolicyGuardrail}. */
export interface AuditPolicyGuardrailOptions {
  /** The registered processor; decisions land in the run of the tool call. */
  processor: AuditTracingProcessor;
  /** The policy's name, recorded as `policy` (and used as the guardrail's name). */
  policy: string;
  /** Decides about a tool call. A throw counts as `deny` when `failClosed`, else as `allow`. */
  decide: (
    call: PolicyToolCall,
  ) =>
    | PolicyVerdict
    | PolicyVerdict["decision"]
    | Promise<PolicyVerdict | PolicyVerdict["decision"]>;
  /**
   * What a deny does: `"reject"` skips the tool and gives the model the reason (the run goes on);
   * `"stop"` ends the run with the SDK's `ToolInputGuardrailTripwireTriggered`.
   * @default "reject"
   */
  onDeny?: "reject" | "stop";
  /** Wait for a human on `review` (through `audit.approvals`) at most this long, then deny. @default no limit */
  reviewTimeoutMs?: number;
  /** Treat a policy that throws as a deny. @default true */
  failClosed?: boolean;
  /** Which outcomes of a review approve the call. @default approve, approved, allow, yes */
  isApproved?: (outcome: string) => boolean;
}

const APPROVING = new Set(["approve", "approved", "allow", "yes"]);

/**
 * A tool input guardrail that asks a policy about each call before the tool runs and records the
 * answer as `policy.decision` in the call's run. `deny` refuses the call; `review` records an
 * `approval.request` and waits for a human's decision through `audit.approvals`. Attach it with
 * `tool({ ..., inputGuardrails: [guardrail] })`.
 */
export function auditPolicyGuardrail(
  options: AuditPolicyGuardrailOptions,
): ToolInputGuardrailDefinition {
  const { processor, policy } = options;
  const failClosed = options.failClosed ?? true;
  const isApproved = options.isApproved ?? ((o: string) => APPROVING.has(o.toLowerCase()));
  return defineToolInputGuardrail({
    name: policy,
    run: async ({ agent, toolCall }) => {
      const call: PolicyToolCall = {
        tool: toolCall.name,
        callId: toolCall.callId,
        args: parseJsonText(toolCall.arguments),
        agent: agent.name,
      };
      let verdict: PolicyVerdict;
      try {
        const answer = await options.decide(call);
        verdict = typeof answer === "string" ? { decision: answer } : answer;
      } catch (err) {
        verdict = {
          decision: failClosed ? "deny" : "allow",
          rule: "policy-error",
          reason: `the policy failed: ${err instanceof Error ? err.message : String(err)}`,
        };
      }
      // The guardrail runs inside the tool's function span: the decision hangs under that call.
      const span = getCurrentSpan();
      const run = span ? processor.locate(span) : undefined;
      const where =
        run && span
          ? { ...runEnvelope(run), parentSpanId: span.spanId, actor: agent.name }
          : { actor: agent.name };
      const audit = processor.auditor;
      audit.record({
        type: "policy.decision",
        ...where,
        risk:
          verdict.decision === "deny" ? "high" : verdict.decision === "review" ? "medium" : "low",
        data: {
          policy,
          decision: verdict.decision,
          ...(verdict.rule !== undefined && { rule: verdict.rule }),
          ...(verdict.reason !== undefined && { reason: verdict.reason }),
          tool: call.tool,
        } as Record<string, unknown> as { policy: string; decision: "allow" },
      });
      if (verdict.decision === "allow") return ToolGuardrailFunctionOutputFactory.allow({ policy });
      if (verdict.decision === "review") {
        const approvalId = uuidv7();
        audit.record({
          type: "approval.request",
          ...where,
          risk: "high",
          data: {
            approvalId,
            action: call.tool,
            ...(verdict.reason !== undefined && { reason: verdict.reason }),
            options: { tool: call.tool, callId: call.callId, args: call.args, policy },
          },
        });
        let approved = false;
        let why = "no decision in time";
        try {
          const resolution = await audit.approvals.wait(approvalId, {
            ...(options.reviewTimeoutMs !== undefined && { timeoutMs: options.reviewTimeoutMs }),
          });
          approved = isApproved(resolution.data.outcome);
          why = `${resolution.data.outcome} by ${resolution.data.resolvedBy}${resolution.data.comment ? `: ${resolution.data.comment}` : ""}`;
        } catch {
          approved = false;
        }
        if (approved) return ToolGuardrailFunctionOutputFactory.allow({ policy, approvalId });
        verdict = { decision: "deny", reason: `review denied (${why})` };
      }
      const message = `Refused by policy ${policy}${verdict.reason ? `: ${verdict.reason}` : ""}`;
      if (span) processor.noteRefusal(span.spanId, message);
      return options.onDeny === "stop"
        ? ToolGuardrailFunctionOutputFactory.throwException({ policy, reason: verdict.reason })
        : ToolGuardrailFunctionOutputFactory.rejectContent(message, { policy });
    },
  });
}
