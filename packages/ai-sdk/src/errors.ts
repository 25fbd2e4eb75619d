import { AuditError } from "@audit/core";

/**
 * A tool call the policy or a human refused. Thrown from the tool's execution, so the model sees
 * it as the tool's error; the run itself stops only through its abort signal (see `auditCall`).
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
