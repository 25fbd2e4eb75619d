import type { Approval, AuditEvent, Auditor, AuditStore } from "@audit/core";
import { HttpError } from "./http.js";
import { type RunSummary, summarizeRun } from "./run-summary.js";

/** An approval with what a human needs to decide: the run it belongs to and what led up to it. */
export interface ApprovalView extends Approval {
  /** The run's summary, when the request belongs to a run. */
  run?: RunSummary;
  /** The last events of the run before the request, oldest first. */
  context?: AuditEvent[];
}

/** How many events before a request the inbox shows. */
const CONTEXT_EVENTS = 5;

async function withContext(store: AuditStore, a: Approval): Promise<ApprovalView> {
  const runId = a.request.runId;
  if (!runId) return a;
  const [run, before] = await Promise.all([
    summarizeRun(store, runId),
    // Keyset from the request itself: exactly the events before it, even within one millisecond.
    store.query({ runId, after: a.request.id, order: "desc", limit: CONTEXT_EVENTS }),
  ]);
  const view: ApprovalView = { ...a, context: before.reverse() };
  if (run) view.run = run;
  return view;
}

/** Open requests, oldest first, each with its run's context. */
export async function pendingApprovals(auditor: Auditor): Promise<ApprovalView[]> {
  const pending = await auditor.approvals.pending();
  const out: ApprovalView[] = [];
  for (const a of pending) out.push(await withContext(auditor.store, a));
  return out;
}

/** The newest resolutions, each with its request. */
export async function resolvedApprovals(store: AuditStore, limit: number): Promise<ApprovalView[]> {
  const resolutions = await store.query({ type: "approval.resolve", order: "desc", limit });
  const out: ApprovalView[] = [];
  for (const r of resolutions) {
    const approvalId = r.data.approvalId;
    if (typeof approvalId !== "string") continue;
    const [request] = await store.query({ type: "approval.request", approvalId, limit: 1 });
    if (!request) continue;
    out.push({
      approvalId,
      status: "resolved",
      request: request as Approval["request"],
      resolution: r as NonNullable<Approval["resolution"]>,
    });
  }
  return out;
}

const OUTCOME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** A resolution as a client may send it: never who resolved, which the server decides. */
export interface ResolutionInput {
  outcome: string;
  comment?: string;
}

/** Checks a resolution body (JSON or form); 400 with the reason otherwise. */
export function resolutionInput(body: Record<string, unknown>): ResolutionInput {
  for (const key of Object.keys(body)) {
    if (key === "resolvedBy")
      throw new HttpError(
        400,
        "resolvedBy is set by the server (--user or the trusted proxy header), not by the request",
      );
    if (key !== "outcome" && key !== "comment")
      throw new HttpError(400, `unknown field "${key}"; a resolution has outcome and comment`);
  }
  const { outcome, comment } = body;
  if (typeof outcome !== "string" || !OUTCOME.test(outcome))
    throw new HttpError(
      400,
      'outcome must be a word such as "approve" or "deny" (letters, digits, _ . -; at most 64)',
    );
  if (comment !== undefined && comment !== null && typeof comment !== "string")
    throw new HttpError(400, "comment must be a string");
  if (typeof comment === "string" && comment.length > 4000)
    throw new HttpError(400, "comment is longer than 4000 characters");
  return typeof comment === "string" && comment.trim() !== "" ? { outcome, comment } : { outcome };
}
