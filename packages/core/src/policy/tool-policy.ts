// The contract of a tool policy, shared by the framework integrations (a gate before a tool runs).

/** What a tool policy decided about one tool call. */
export type PolicyDecision = "allow" | "deny" | "review";

/** A policy's answer: a bare decision, or one with the rule that matched and why. */
export type PolicyVerdict =
  | PolicyDecision
  | {
      decision: PolicyDecision;
      /** The rule that matched, e.g. `"refund-over-100"`. */
      rule?: string;
      /** Why, in words a reviewer reads. */
      reason?: string;
    };

/** The tool call a policy is asked about. */
export interface ToolCallRequest {
  /** The tool's name. */
  tool: string;
  /** The parsed arguments the model gave. */
  args: unknown;
  /** The model's id for this call. */
  toolCallId: string;
  /** The audit run the call belongs to, when the integration knows it. */
  runId: string | undefined;
}

/**
 * Decides whether a tool call may run before it runs. Return `undefined` for "no opinion": the call
 * runs and no `policy.decision` is recorded.
 */
export type ToolPolicy = (
  call: ToolCallRequest,
) => PolicyVerdict | undefined | Promise<PolicyVerdict | undefined>;

/** A verdict in one shape. */
export interface NormalizedVerdict {
  decision: PolicyDecision;
  rule?: string;
  reason?: string;
}

/** Turns a policy's answer into one shape; anything unexpected is a programming error. */
export function normalizeVerdict(verdict: PolicyVerdict): NormalizedVerdict {
  const v = typeof verdict === "string" ? { decision: verdict } : verdict;
  if (v.decision !== "allow" && v.decision !== "deny" && v.decision !== "review") {
    throw new TypeError(
      `a tool policy must answer "allow", "deny" or "review", not ${String(v.decision)}`,
    );
  }
  const out: NormalizedVerdict = { decision: v.decision };
  if (v.rule !== undefined) out.rule = v.rule;
  if (v.reason !== undefined) out.reason = v.reason;
  return out;
}
