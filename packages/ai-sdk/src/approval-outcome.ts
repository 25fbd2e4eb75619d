/** Outcomes of `approvals.resolve` that let the action go ahead; any other outcome refuses it. */
export const APPROVING_OUTCOMES: readonly string[] = ["approve", "approved", "allow", "yes"];

/** True when a resolution's outcome approves the action (case-insensitive). */
export function isApproved(outcome: unknown): boolean {
  return typeof outcome === "string" && APPROVING_OUTCOMES.includes(outcome.toLowerCase());
}
