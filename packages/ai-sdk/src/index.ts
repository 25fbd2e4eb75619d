export type {
  PolicyDecision,
  PolicyVerdict,
  ToolCallRequest,
  ToolPolicy,
} from "@audit/core";
export { APPROVING_OUTCOMES, isApproved } from "./approval-outcome.js";
export {
  type ToolApprovalResponsePart,
  type ToolApprovalResponsesOptions,
  toolApprovalResponses,
} from "./approval-responses.js";
export { type AuditCallOptions, type AuditedCall, auditCall } from "./audit-call.js";
export {
  AuditTelemetry,
  type AuditTelemetryOptions,
  auditTelemetry,
  type CallBinding,
} from "./audit-telemetry.js";
export { ToolCallDeniedError } from "./errors.js";
