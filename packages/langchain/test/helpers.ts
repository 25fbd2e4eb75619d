import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditEvent, Auditor } from "@audit/core";
import { AIMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { z } from "zod";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A model answer that calls one tool, with the usage and finish reason a provider reports. */
export function callsTool(
  id: string,
  name: string,
  args: Record<string, unknown>,
  tokens = [10, 4],
) {
  return new AIMessage({
    content: "",
    tool_calls: [{ id, name, args, type: "tool_call" }],
    usage_metadata: {
      input_tokens: tokens[0]!,
      output_tokens: tokens[1]!,
      total_tokens: tokens[0]! + tokens[1]!,
    },
    response_metadata: { finish_reason: "tool_calls", model_name: "fake-large" },
  });
}

/** A final model answer. */
export function answers(text: string, tokens = [20, 6]) {
  return new AIMessage({
    content: text,
    usage_metadata: {
      input_tokens: tokens[0]!,
      output_tokens: tokens[1]!,
      total_tokens: tokens[0]! + tokens[1]!,
    },
    response_metadata: { finish_reason: "stop", model_name: "fake-large" },
  });
}

/** A refund tool that remembers every refund it actually issued. */
export function refundTool() {
  const issued: unknown[] = [];
  const refund = tool(
    async (input: { orderId: string; amount: number }) => {
      issued.push(input);
      return `refunded ${input.amount} on ${input.orderId}`;
    },
    {
      name: "refund",
      description: "Refunds an order",
      schema: z.object({ orderId: z.string(), amount: z.number() }),
    },
  );
  return { refund, issued };
}

/** Every event of one run, in the order recorded. */
export async function runTrail(audit: Auditor, runId: string): Promise<AuditEvent[]> {
  await audit.flush();
  return audit.store.query({ runId, order: "asc" });
}

/** The runs in the store, oldest first, as their run.start events. */
export async function runStarts(audit: Auditor): Promise<AuditEvent[]> {
  await audit.flush();
  return audit.store.query({ type: "run.start", order: "asc" });
}

export function types(events: AuditEvent[]): string[] {
  return events.map((e) => e.type);
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
