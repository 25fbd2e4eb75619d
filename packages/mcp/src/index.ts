export { type AuditMcpServerOptions, createAuditMcpServer } from "./audit-mcp-server.js";
export {
  AuditedTransport,
  type AuditTransportOptions,
  auditTransport,
} from "./audited-transport.js";
export {
  type AuditMcpHttpHandler,
  type AuditMcpHttpOptions,
  createAuditMcpHttpHandler,
} from "./http-handler.js";
export type { Implementation } from "./json-rpc.js";
export type { McpPolicyVerdict, McpToolCall, McpToolPolicy } from "./tool-gate.js";
