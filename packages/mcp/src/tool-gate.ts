/** A `tools/call` as a policy sees it. */
export interface McpToolCall {
  /** The tool's name. */
  tool: string;
  /** The call's arguments. */
  args: unknown;
  /** The JSON-RPC request id, as text. */
  callId: string;
  /** The MCP server's name and version, when the initialize exchange was seen. */
  server?: { name: string; version: string };
  /** The MCP client's name and version, when the initialize exchange was seen. */
  client?: { name: string; version: string };
}

/** What a policy decided about one tool call. */
export interface McpPolicyVerdict {
  decision: "allow" | "deny" | "review";
  /** The rule that decided. */
  rule?: string;
  /** Why; given back to the caller as the tool's error text on a refusal. */
  reason?: string;
}

/** A policy for tool calls: `review` sends the call to a human through `audit.approvals`. */
export interface McpToolPolicy {
  /** The policy's name, recorded in `policy.decision`. */
  name: string;
  /** Decides about a call. A throw counts as `deny` (fail closed). */
  decide: (
    call: McpToolCall,
  ) =>
    | McpPolicyVerdict
    | McpPolicyVerdict["decision"]
    | Promise<McpPolicyVerdict | McpPolicyVerdict["decision"]>;
  /** Wait for a human at most this long, then refuse the call. @default no limit */
  approvalTimeoutMs?: number;
  /** Which outcomes of a review approve the call. @default approve, approved, allow, yes */
  isApproved?: (outcome: string) => boolean;
}

const APPROVING = new Set(["approve", "approved", "allow", "yes"]);

/** The default reading of an approval outcome. */
export function defaultIsApproved(outcome: string): boolean {
  return APPROVING.has(outcome.toLowerCase());
}

/** The verdict of a policy, never throwing. */
export async function decide(policy: McpToolPolicy, call: McpToolCall): Promise<McpPolicyVerdict> {
  try {
    const answer = await policy.decide(call);
    return typeof answer === "string" ? { decision: answer } : answer;
  } catch (err) {
    return {
      decision: "deny",
      rule: "policy-error",
      reason: `the policy failed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
