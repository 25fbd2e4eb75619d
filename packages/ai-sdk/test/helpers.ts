import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditEvent, Auditor } from "@audit/core";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Token usage in the shape a V4 language model reports it. */
export function usage(input: number, output: number) {
  return {
    inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: output, text: output, reasoning: 0 },
  };
}

/** A model response that calls one tool. */
export function callsTool(toolCallId: string, toolName: string, args: unknown, tokens = [10, 5]) {
  return {
    content: [{ type: "tool-call" as const, toolCallId, toolName, input: JSON.stringify(args) }],
    finishReason: { unified: "tool-calls" as const, raw: "tool_calls" },
    usage: usage(tokens[0]!, tokens[1]!),
    warnings: [],
  };
}

/** A model response with a final text answer. */
export function answers(text: string, tokens = [20, 7]) {
  return {
    content: [{ type: "text" as const, text }],
    finishReason: { unified: "stop" as const, raw: "stop" },
    usage: usage(tokens[0]!, tokens[1]!),
    warnings: [],
  };
}

/** Every event of one run, in the order they were recorded. */
export async function runTrail(audit: Auditor, runId: string): Promise<AuditEvent[]> {
  await audit.flush();
  return audit.store.query({ runId, order: "asc" });
}

/** The runs in the store, oldest first, each as its run.start event. */
export async function runStarts(audit: Auditor): Promise<AuditEvent[]> {
  await audit.flush();
  return audit.store.query({ type: "run.start", order: "asc" });
}

/**
 * Starts another process that opens the same store, waits for the first open approval request and
 * resolves it. Resolves with what that process printed.
 */
export function resolveFromAnotherProcess(
  storeUrl: string,
  outcome: string,
  resolvedBy: string,
  comment?: string,
): Promise<{ approvalId: string; action: string; pid: number; resolutionId: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        join(packageDir, "test/fixtures/resolve-approval.mjs"),
        storeUrl,
        outcome,
        resolvedBy,
        ...(comment ? [comment] : []),
      ],
      { cwd: packageDir, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`resolver process failed: ${stderr || err.message}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}
