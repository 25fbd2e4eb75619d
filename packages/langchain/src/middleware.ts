export {
  type AuditApprovalInterrupt,
  type AuditToolGateOptions,
  auditToolGate,
} from "./tool-gate.js";
