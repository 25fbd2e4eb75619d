import { AuditError } from "@audit/core";

/**
 * A tool call the policy or a human refused, thrown by the tool gate when it is fail-closed: the
 * agent's `invoke` rejects with it instead of handing the model a refusal.
 */
export class ToolCallDeniedError extends AuditError {
  /** The tool that was refused. */
  readonly tool: string;
  /** The model's id of the refused call. */
  readonly toolCallId: string;

  constructor(tool: string, toolCallId: string, reason: string | undefined) {
    super(`[audit] tool call ${tool} (${toolCallId}) was denied${reason ? `: ${reason}` : ""}`, {
      code: "AUDIT_TOOL_DENIED",
    });
    this.tool = tool;
    this.toolCallId = toolCallId;
  }
}
