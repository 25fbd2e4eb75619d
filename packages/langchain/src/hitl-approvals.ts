import type { Auditor } from "@audit/core";
import { uuidFromName } from "@audit/core";
import { isApproved } from "./approval-outcome.js";

/** One tool call `humanInTheLoopMiddleware` asks about (LangChain's `ActionRequest`). */
interface ActionRequest {
  name: string;
  args?: unknown;
  description?: string;
}

/** An interrupt as `invoke` returns it in `__interrupt__`. */
export interface InterruptLike {
  id?: string;
  value?: unknown;
}

/** A decision `humanInTheLoopMiddleware` accepts on resume. */
export type HitlDecision = { type: "approve" } | { type: "reject"; message?: string };

/** Options of {@link hitlDecisions}. */
export interface HitlDecisionsOptions {
  /**
   * Wait for a human to answer every request; otherwise only requests already answered count, and
   * `undefined` is returned unless all are.
   * @default true
   */
  wait?: boolean;
  /** How long to wait for each answer. @default no limit */
  timeoutMs?: number;
  /** Stops waiting. */
  signal?: AbortSignal;
}

/**
 * The approval id of one action request of a `humanInTheLoopMiddleware` interrupt: derived from the
 * interrupt's id and the request's position, so the handler that records it and the application
 * that resumes agree on it without sharing state.
 */
export function hitlApprovalId(interruptId: string, index: number): string {
  return uuidFromName(`audit:langchain:hitl:${interruptId}:${index}`);
}

/** The action requests of a `humanInTheLoopMiddleware` interrupt, or `undefined` for any other. */
export function hitlActionRequests(value: unknown): ActionRequest[] | undefined {
  const requests = (value as { actionRequests?: unknown } | undefined)?.actionRequests;
  if (!Array.isArray(requests)) return undefined;
  return requests.filter(
    (r): r is ActionRequest => typeof (r as ActionRequest | undefined)?.name === "string",
  );
}

/**
 * Turns the decisions recorded in the trail into the resume value of `humanInTheLoopMiddleware`:
 * `agent.invoke(new Command({ resume: await hitlDecisions(audit, result.__interrupt__) }), config)`.
 * The requests were recorded as `approval.request` by {@link AuditCallbackHandler} when the agent
 * paused; a human answers them with `audit approvals resolve <id> --outcome approve|deny --by <name>`.
 * An approving outcome becomes `approve`, any other `reject` with the reviewer's comment.
 * @returns `{ decisions }` for one interrupt, `{ [interruptId]: { decisions } }` for several, or
 * `undefined` when there is nothing to decide (or, with `wait: false`, not everything is answered)
 */
export async function hitlDecisions(
  audit: Auditor,
  interrupts: readonly InterruptLike[] | undefined,
  options: HitlDecisionsOptions = {},
): Promise<
  { decisions: HitlDecision[] } | Record<string, { decisions: HitlDecision[] }> | undefined
> {
  const answered: [string, { decisions: HitlDecision[] }][] = [];
  for (const interrupt of interrupts ?? []) {
    const requests = hitlActionRequests(interrupt.value);
    if (!requests || typeof interrupt.id !== "string") continue;
    const decisions: HitlDecision[] = [];
    for (let i = 0; i < requests.length; i++) {
      const approvalId = hitlApprovalId(interrupt.id, i);
      let resolution:
        | { data: { outcome: string; resolvedBy: string; comment?: string } }
        | undefined;
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
      decisions.push(
        isApproved(outcome)
          ? { type: "approve" }
          : { type: "reject", message: comment ?? `${outcome} by ${resolvedBy}` },
      );
    }
    answered.push([interrupt.id, { decisions }]);
  }
  if (answered.length === 0) return undefined;
  if (answered.length === 1) return answered[0]![1];
  return Object.fromEntries(answered);
}
