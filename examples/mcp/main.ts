// An agent calling a shop's MCP tools, recorded by @audit/mcp, offline: the shop is a real MCP
// server in this process, linked by the SDK's in-memory transport. Refunds go to a human first; a
// supervisor answers from an MCP client of the audit MCP server, served over Streamable HTTP on
// 127.0.0.1. The trail goes to AUDIT_STORE, or sqlite:./audit.db, and the run is printed at the
// end with the `audit` command.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { main as audit } from "@audit/cli";
import { createAuditor } from "@audit/core";
import { auditTransport, createAuditMcpHttpHandler } from "@audit/mcp";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

const storeUrl = process.env.AUDIT_STORE || "sqlite:./audit.db";
const auditor = await createAuditor({ store: storeUrl, spool: false }).catch((err: Error) => {
  console.error(err.message);
  process.exit(2);
});

// The shop's MCP server: an ordinary server, nothing audit-specific in it.
const shop = new McpServer({ name: "shop", version: "1.4.0" });
shop.registerTool(
  "lookup_order",
  { description: "Looks an order up.", inputSchema: { order: z.string(), apiKey: z.string() } },
  async ({ order }) => ({ content: [{ type: "text", text: `${order}: 420 EUR, delivered` }] }),
);
shop.registerTool(
  "refund",
  { description: "Refunds an order.", inputSchema: { order: z.string(), amount: z.number() } },
  async ({ order, amount }) => ({
    content: [{ type: "text", text: `refunded ${amount} on ${order}` }],
  }),
);
shop.registerTool(
  "close_account",
  { description: "Closes the account.", inputSchema: {} },
  async () => {
    throw new Error("accounts can only be closed by the customer");
  },
);

// The agent's side: its run, and its MCP client on an audited transport.
const run = auditor.startRun({
  agent: "support-agent",
  sessionId: "conversation-7",
  input: "Refund order A-1002",
});
const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
await shop.connect(serverSide);
const agent = new Client({ name: "support-agent", version: "1.0.0" });
await agent.connect(
  auditTransport(clientSide, auditor, {
    side: "client",
    run,
    policy: {
      name: "refunds",
      decide: ({ tool }) =>
        tool === "refund" ? { decision: "review", reason: "refunds need a supervisor" } : "allow",
    },
  }),
);

// The supervisor's side: the audit MCP server over Streamable HTTP, resolving as "supervisor".
const operatorEndpoint = createAuditMcpHttpHandler(auditor, {
  allowResolve: true,
  resolvedBy: "supervisor",
});
const http = createServer((req, res) => void operatorEndpoint(req, res));
await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
const supervisor = new Client({ name: "supervisor-console", version: "1.0.0" });
await supervisor.connect(new StreamableHTTPClientTransport(url));

const text = (result: Awaited<ReturnType<Client["callTool"]>>) =>
  (result.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join(" ");

console.log(
  "agent:",
  text(
    await agent.callTool({
      name: "lookup_order",
      arguments: { order: "A-1002", apiKey: "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e" },
    }),
  ),
);
const refund = agent.callTool({ name: "refund", arguments: { order: "A-1002", amount: 420 } });

// The supervisor looks at what waits, and approves it.
let pending: { approvalId: string; action: string; reason?: string }[] = [];
while (pending.length === 0) {
  const answer = await supervisor.callTool({ name: "approvals_pending", arguments: {} });
  pending = (answer.structuredContent as { approvals: typeof pending }).approvals;
  if (pending.length === 0) await new Promise((r) => setTimeout(r, 50));
}
const request = pending.find((p) => p.action === "refund") ?? pending[0]!;
console.log(
  `supervisor: ${request.action} is waiting (${request.reason}); approving ${request.approvalId}`,
);
await supervisor.callTool({
  name: "approval_resolve",
  arguments: { approvalId: request.approvalId, outcome: "approve", comment: "loyal customer" },
});
console.log("agent:", text(await refund));
console.log("agent:", text(await agent.callTool({ name: "close_account", arguments: {} })));
await run.end({ output: "refunded A-1002" });

await supervisor.close();
await agent.close();
await new Promise<void>((resolve) => http.close(() => resolve()));
await auditor.close();

const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
console.log(`\n$ audit run ${run.runId} --store ${storeUrl}\n`);
process.exitCode = await audit(["run", run.runId, "--store", storeUrl], io);
