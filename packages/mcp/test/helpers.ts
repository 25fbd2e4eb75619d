import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditEvent, type Auditor, createAuditor } from "@audit/core";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

/** A fresh SQLite trail in a temporary directory. */
export async function sqliteAuditor(): Promise<{
  audit: Auditor;
  storeUrl: string;
  cleanup: () => Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), "audit-mcp-"));
  const storeUrl = `sqlite:${join(dir, "audit.db")}`;
  const audit = await createAuditor({ store: storeUrl, spool: false });
  return {
    audit,
    storeUrl,
    cleanup: async () => {
      await audit.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every stored event, oldest first, after flushing what is still queued. */
export async function trail(
  audit: Auditor,
  filter: { runId?: string } = {},
): Promise<AuditEvent[]> {
  await audit.flush();
  // Checkpoints belong to the chains (a resolver in another process closes its own chain with
  // one), not to the run's story.
  const events = await audit.store.query({ ...filter, order: "asc", limit: 10_000 });
  return events.filter((e) => e.type !== "audit.checkpoint");
}

/** A secret that must never reach the trail. */
export const SECRET = "sk-live-abcdef0123456789abcdef";

/** A real MCP server with a few tools; `calls` counts what the handlers really ran. */
export function shopServer() {
  const calls = { lookup: 0, refund: 0 };
  const server = new McpServer({ name: "shop", version: "1.2.3" });
  server.registerTool(
    "lookup_order",
    {
      description: "Looks an order up.",
      inputSchema: { order: z.string(), apiKey: z.string() },
      outputSchema: { order: z.string(), total: z.number() },
    },
    async ({ order }) => {
      calls.lookup++;
      const structuredContent = { order, total: 420 };
      return {
        content: [{ type: "text", text: JSON.stringify(structuredContent) }],
        structuredContent,
      };
    },
  );
  server.registerTool(
    "refund",
    { description: "Refunds an order.", inputSchema: { order: z.string() } },
    async ({ order }) => {
      calls.refund++;
      return { content: [{ type: "text", text: `refunded ${order}` }] };
    },
  );
  server.registerTool("fail", { description: "Always fails.", inputSchema: {} }, async () => {
    throw new Error("warehouse offline");
  });
  server.registerTool(
    "slow",
    { description: "Answers when cancelled.", inputSchema: {} },
    async (_args, extra) => {
      await new Promise<void>((resolve) => extra.signal.addEventListener("abort", () => resolve()));
      return { content: [{ type: "text", text: "late" }] };
    },
  );
  return { server, calls };
}

const resolver = fileURLToPath(new URL("./fixtures/resolve-approval.mjs", import.meta.url));

/** Another process that opens the same store and resolves the pending approval. */
export function resolveFromAnotherProcess(
  storeUrl: string,
  outcome: string,
  resolvedBy: string,
  comment?: string,
): Promise<{ approvalId: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const args = [resolver, storeUrl, outcome, resolvedBy, ...(comment ? [comment] : [])];
    execFile(process.execPath, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`resolver failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

/** Just the types, in order. */
export const types = (events: AuditEvent[]) => events.map((e) => e.type);
