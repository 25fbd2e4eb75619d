import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { AuditConfigError, type Auditor } from "@audit/core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type AuditMcpServerOptions,
  auditTransport,
  createAuditMcpHttpHandler,
  createAuditMcpServer,
} from "../src/index.js";
import { shopServer, sqliteAuditor, trail } from "./helpers.js";

let audit: Auditor;
let storeUrl: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ audit, storeUrl, cleanup } = await sqliteAuditor());
});
afterEach(async () => {
  await cleanup();
});

async function operator(options: AuditMcpServerOptions = {}) {
  const server = createAuditMcpServer(audit, options);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "operator", version: "1.0.0" });
  await client.connect(clientSide);
  return client;
}

/** A run waiting for a human, as an agent leaves it. */
async function pendingRefund(): Promise<{ runId: string; approvalId: string }> {
  const run = audit.startRun({ agent: "support-bot", sessionId: "conv-1" });
  await run.tool("lookup_order", { order: "A-1" }, () => ({ total: 420 }));
  const approvalId = run.requestApproval({ action: "refund", reason: "over the limit" });
  return { runId: run.runId, approvalId };
}

function structured(result: Awaited<ReturnType<Client["callTool"]>>): Record<string, unknown> {
  return result.structuredContent as Record<string, unknown>;
}

describe("createAuditMcpServer", () => {
  it("offers no way to resolve unless allowed, and refuses allowResolve without resolvedBy", async () => {
    const client = await operator();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "approvals_pending",
      "audit_query",
      "audit_run",
    ]);
    const call = await client.callTool({
      name: "approval_resolve",
      arguments: { approvalId: "x", outcome: "approve" },
    });
    expect(call.isError).toBe(true);
    await client.close();
    expect(() => createAuditMcpServer(audit, { allowResolve: true })).toThrow(AuditConfigError);
    expect(() => createAuditMcpHttpHandler(audit, { allowResolve: true, resolvedBy: "" })).toThrow(
      AuditConfigError,
    );
  });

  it("queries the trail and one run, and lists what waits for a human", async () => {
    const { runId, approvalId } = await pendingRefund();
    await audit.flush();
    const client = await operator();

    const query = structured(
      await client.callTool({ name: "audit_query", arguments: { type: "tool.*", order: "asc" } }),
    );
    expect(query.count).toBe(2);
    expect((query.events as { type: string }[]).map((e) => e.type)).toEqual([
      "tool.start",
      "tool.end",
    ]);

    const run = structured(await client.callTool({ name: "audit_run", arguments: { runId } }));
    expect((run.events as { type: string }[]).map((e) => e.type)).toEqual([
      "run.start",
      "tool.start",
      "tool.end",
      "approval.request",
    ]);
    const missing = await client.callTool({ name: "audit_run", arguments: { runId: "nope" } });
    expect(missing.isError).toBe(true);

    const pending = structured(await client.callTool({ name: "approvals_pending", arguments: {} }));
    expect(pending).toMatchObject({
      count: 1,
      approvals: [
        { approvalId, runId, action: "refund", reason: "over the limit", actor: "support-bot" },
      ],
    });
    const bad = await client.callTool({ name: "audit_query", arguments: { limit: -1 } });
    expect(bad.isError).toBe(true);
    await client.close();
  });

  it("resolves in the configured name, whatever the call says, and the first answer wins", async () => {
    const { approvalId } = await pendingRefund();
    const waiting = audit.approvals.wait(approvalId, { timeoutMs: 10_000 });
    const client = await operator({ allowResolve: true, resolvedBy: "alice" });
    const answer = await client.callTool({
      name: "approval_resolve",
      arguments: { approvalId, outcome: "approve", comment: "fine", resolvedBy: "mallory" },
    });
    expect(answer.isError).toBeFalsy();
    const decision = await waiting;
    expect(decision.data).toEqual({
      approvalId,
      outcome: "approve",
      resolvedBy: "alice",
      comment: "fine",
    });

    const again = await client.callTool({
      name: "approval_resolve",
      arguments: { approvalId, outcome: "deny" },
    });
    expect(again.isError).toBe(true);
    expect(JSON.stringify(again.content)).toContain("already resolved");
    const unknown = await client.callTool({
      name: "approval_resolve",
      arguments: { approvalId: "01890000-0000-7000-8000-000000000000", outcome: "deny" },
    });
    expect(unknown.isError).toBe(true);
    expect((await trail(audit)).filter((e) => e.type === "approval.resolve")).toHaveLength(1);
    await client.close();
  });
});

describe("the audit MCP server over Streamable HTTP", () => {
  let http: Server;
  let url: URL;

  afterEach(async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  async function listen(handler: ReturnType<typeof createAuditMcpHttpHandler>) {
    http = createServer((req, res) => {
      if (new URL(req.url ?? "/", "http://127.0.0.1").pathname === "/mcp") {
        void handler(req, res);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
    url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
  }

  it("answers an approval that a tool call on a real MCP server is waiting for", async () => {
    await listen(
      createAuditMcpHttpHandler(audit, {
        allowResolve: true,
        resolvedBy: (req) => req.headers["x-user"] as string | undefined,
      }),
    );
    // The agent's side: a tool server whose refunds wait for a human.
    const shop = shopServer();
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await shop.server.connect(
      auditTransport(serverSide, audit, {
        side: "server",
        policy: { name: "refunds", decide: () => "review" },
      }),
    );
    const agent = new Client({ name: "support-agent", version: "2.0.0" });
    await agent.connect(clientSide);
    const refund = agent.callTool({ name: "refund", arguments: { order: "A-7" } });

    // The operator's side, over HTTP, authenticated by a header the host trusts.
    const operator = new Client({ name: "operator", version: "1.0.0" });
    await operator.connect(
      new StreamableHTTPClientTransport(url, { requestInit: { headers: { "x-user": "dana" } } }),
    );
    let pending: { approvalId: string; options: unknown }[] = [];
    for (let i = 0; i < 100 && pending.length === 0; i++) {
      const r = structured(await operator.callTool({ name: "approvals_pending", arguments: {} }));
      pending = r.approvals as typeof pending;
      if (pending.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(pending).toHaveLength(1);
    expect(pending[0]!.options).toMatchObject({ tool: "refund", args: { order: "A-7" } });
    const answer = await operator.callTool({
      name: "approval_resolve",
      arguments: { approvalId: pending[0]!.approvalId, outcome: "approve" },
    });
    expect(answer.isError).toBeFalsy();
    expect(await refund).toMatchObject({ content: [{ type: "text", text: "refunded A-7" }] });
    expect(shop.calls.refund).toBe(1);
    const resolution = (await trail(audit)).find((e) => e.type === "approval.resolve")!;
    expect(resolution.data).toMatchObject({ outcome: "approve", resolvedBy: "dana" });
    await operator.close();
    await agent.close();
  });

  it("gives a request without a user no resolve tool, and answers GET with 405", async () => {
    await listen(
      createAuditMcpHttpHandler(audit, {
        allowResolve: true,
        resolvedBy: (req) => req.headers["x-user"] as string | undefined,
      }),
    );
    const operator = new Client({ name: "operator", version: "1.0.0" });
    await operator.connect(new StreamableHTTPClientTransport(url));
    const { tools } = await operator.listTools();
    expect(tools.map((t) => t.name)).not.toContain("approval_resolve");
    await operator.close();
    const get = await fetch(url, { headers: { accept: "text/event-stream" } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });
});

describe("the audit MCP server over stdio", () => {
  it("runs as a child process an MCP client starts, resolving in its configured name", async () => {
    const { approvalId } = await pendingRefund();
    await audit.flush();
    const client = new Client({ name: "operator", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          fileURLToPath(new URL("./fixtures/stdio-server.mjs", import.meta.url)),
          storeUrl,
          "erin",
        ],
        stderr: "pipe",
        // The SDK passes only a few variables by default; the server needs the caller's (AUDIT_*,
        // NODE_OPTIONS) like any program an MCP client starts with its own environment.
        env: process.env as Record<string, string>,
      }),
    );
    const pending = structured(await client.callTool({ name: "approvals_pending", arguments: {} }));
    expect(pending.count).toBe(1);
    const answer = await client.callTool({
      name: "approval_resolve",
      arguments: { approvalId, outcome: "deny", comment: "not today" },
    });
    expect(answer.isError).toBeFalsy();
    await client.close();
    const decision = await audit.approvals.wait(approvalId, { timeoutMs: 5000 });
    expect(decision.data).toEqual({
      approvalId,
      outcome: "deny",
      resolvedBy: "erin",
      comment: "not today",
    });
  });
});
