export type {
  PolicyDecision,
  PolicyVerdict,
  ToolCallRequest,
  ToolPolicy,
} from "@audit/core";
export { RunTrail } from "@audit/core";
export { APPROVING_OUTCOMES, isApproved } from "./approval-outcome.js";
export {
  AuditCallbackHandler,
  type AuditCallbackHandlerOptions,
} from "./audit-callback-handler.js";
export { ToolCallDeniedError } from "./errors.js";
export {
  type HitlDecision,
  type HitlDecisionsOptions,
  hitlApprovalId,
  hitlDecisions,
  type InterruptLike,
} from "./hitl-approvals.js";
