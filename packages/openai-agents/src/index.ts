export {
  type AuditPolicyGuardrailOptions,
  auditPolicyGuardrail,
  type PolicyToolCall,
  type PolicyVerdict,
} from "./policy-guardrail.js";
export { registerAuditTracing } from "./register.js";
export type { RunUsage, TracedRun } from "./run-scope.js";
export {
  type PendingToolApproval,
  type RunWithApprovalsOptions,
  runWithApprovals,
} from "./run-with-approvals.js";
export { AuditTracingProcessor, type AuditTracingProcessorOptions } from "./tracing-processor.js";
