export type { ApprovalView, ResolutionInput } from "./approvals.js";
export { SECURITY_HEADERS, SESSION_COOKIE } from "./auth.js";
export { escapeHtml } from "./html.js";
export { LiveFeed, type LiveFeedOptions } from "./live-feed.js";
export type { AuditServerOptions, McpHandler } from "./options.js";
export { listRuns, type RunListQuery, type RunSummary, summarizeRun } from "./run-summary.js";
export { buildRunTree, flattenTree, type SpanKind, type SpanNode } from "./run-tree.js";
export { AuditServer, createAuditServer } from "./server.js";
export type { NamedProblem, VerifyResult } from "./verify-stream.js";
export {
  WebhookNotifier,
  type WebhookOptions,
  type WebhookPayload,
  webhookSignature,
} from "./webhook.js";
