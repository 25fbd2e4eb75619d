import type { Auditor } from "@audit/core";
import { isApproved } from "./approval-outcome.js";

/** The SDK's answer to one approval request, as it goes back into the messages. */
export interface ToolApprovalResponsePart {
  type: "tool-approval-response";
  approvalId: string;
  approved: boolean;
  reason?: string;
}

/** Options of {@link toolApprovalResponses}. */
export interface ToolApprovalResponsesOptions {
  /**
   * Wait for a human to answer every open request; otherwise return `undefined` unless all are
   * answered already.
   * @default true
   */
  wait?: boolean;
  /** How long to wait for each answer. @default no limit */
  timeoutMs?: number;
  /** Stops waiting. */
  signal?: AbortSignal;
}

/**
 * Turns the decisions recorded in the trail into the tool message that resumes a call which ended
 * with approval requests: pass the call's `response.messages`, append what this returns, and call
 * again. Each approval id is the SDK's own, recorded as `approval.request` by the integration; a
 * human answers it with `audit approvals resolve <id> --outcome approve|deny --by <name>`.
 * @returns the `tool` message, or `undefined` when there is nothing to answer (or, with
 * `wait: false`, not everything is answered yet)
 */
export async function toolApprovalResponses(
  audit: Auditor,
  messages: readonly unknown[],
  options: ToolApprovalResponsesOptions = {},
): Promise<{ role: "tool"; content: ToolApprovalResponsePart[] } | undefined> {
  const open = openApprovalIds(messages);
  if (open.length === 0) return undefined;
  const content: ToolApprovalResponsePart[] = [];
  for (const approvalId of open) {
    let resolution: { data: { outcome: string; resolvedBy: string; comment?: string } } | undefined;
    if (options.wait === false) {
      resolution = (await audit.approvals.get(approvalId)).resolution;
      if (!resolution) return undefined;
    } else {
      resolution = await audit.approvals.wait(approvalId, {
        ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
        ...(options.signal && { signal: options.signal }),
      });
    }
    const { outcome, resolvedBy, comment } = resolution.data;
    content.push({
      type: "tool-approval-response",
      approvalId,
      approved: isApproved(outcome),
      reason: comment ?? `${outcome} by ${resolvedBy}`,
    });
  }
  return { role: "tool", content };
}

/** Approval requests in the messages that no later message answers. */
function openApprovalIds(messages: readonly unknown[]): string[] {
  const open: string[] = [];
  const answered = new Set<string>();
  for (const message of messages as { content?: unknown }[]) {
    if (!Array.isArray(message?.content)) continue;
    for (const part of message.content as { type?: string; approvalId?: unknown }[]) {
      if (typeof part?.approvalId !== "string") continue;
      if (part.type === "tool-approval-request") open.push(part.approvalId);
      else if (part.type === "tool-approval-response") answered.add(part.approvalId);
    }
  }
  return open.filter((id) => !answered.has(id));
}
