import type { Auditor } from "@audit/core";
import { uuidv7 } from "@audit/core";
import type { Telemetry } from "ai";
import { AuditTelemetry, type AuditTelemetryOptions } from "./audit-telemetry.js";

/** Options of {@link auditCall}. */
export interface AuditCallOptions extends AuditTelemetryOptions {
  /** Your own abort signal; the call's signal aborts when either it or the gate aborts. */
  abortSignal?: AbortSignal;
  /** Use this run id instead of a new UUIDv7 (e.g. to find the run afterwards). */
  runId?: string;
}

/** Options to spread into one `generateText`, `streamText` or agent call. */
export interface AuditedCall {
  /** The id of the run this call is recorded as. */
  readonly runId: string;
  /** The per-call telemetry: this call's integration (it replaces the global ones for the call). */
  readonly telemetry: { integrations: Telemetry[] };
  /** The policy gate, as the SDK's per-call tool approval. */
  readonly toolApproval: AuditTelemetry["approveToolCall"];
  /** Aborted by the gate when a fail-closed policy denies a call. */
  readonly abortSignal: AbortSignal;
}

/**
 * Audits one call, with the policy gate and tool approvals:
 * `generateText({ model, tools, prompt, ...auditCall(audit, { policy }) })`.
 * The policy runs as the SDK's `toolApproval`: allow runs the tool, deny refuses it (the model sees
 * the refusal; with `failClosed` the run is aborted), review ends the call with an approval request
 * recorded in the trail. Answer it with `audit approvals resolve`, then resume with
 * {@link toolApprovalResponses}.
 */
export function auditCall(audit: Auditor, options: AuditCallOptions = {}): AuditedCall {
  const controller = new AbortController();
  const runId = options.runId ?? uuidv7();
  const integration = new AuditTelemetry(audit, options, { runId, controller });
  const abortSignal = options.abortSignal
    ? AbortSignal.any([options.abortSignal, controller.signal])
    : controller.signal;
  return {
    runId,
    telemetry: { integrations: [integration] },
    toolApproval: integration.approveToolCall,
    abortSignal,
  };
}
