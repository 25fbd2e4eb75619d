import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Auditor } from "@audit/core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterEach, beforeEach, expect, it } from "vitest";
import { auditTransport } from "../src/index.js";
import { shopServer, sqliteAuditor, trail, types } from "./helpers.js";

let audit: Auditor;
let cleanup: () => Promise<void>;
let http: Server;

beforeEach(async () => {
  ({ audit, cleanup } = await sqliteAuditor());
});
afterEach(async () => {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await cleanup();
});

it("records calls to a Streamable HTTP server under the MCP session id the client holds", async () => {
  // One server transport for the one session this test opens (stateful mode).
  const shop = shopServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID });
  await shop.server.connect(auditTransport(transport, audit, { side: "server" }));
  http = createServer((req, res) => void transport.handleRequest(req, res));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);

  const clientTransport = new StreamableHTTPClientTransport(url);
  const client = new Client({ name: "support-agent", version: "2.0.0" });
  await client.connect(clientTransport);
  const result = await client.callTool({ name: "refund", arguments: { order: "A-5" } });
  expect(result.content).toEqual([{ type: "text", text: "refunded A-5" }]);
  const sessionId = clientTransport.sessionId;
  expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
  await client.close();
  await transport.close();

  const events = await trail(audit);
  expect(types(events)).toEqual(["run.start", "tool.start", "tool.end", "run.end"]);
  for (const e of events) expect(e.sessionId).toBe(sessionId);
  expect(events[1]!.data).toMatchObject({
    tool: "refund",
    args: { order: "A-5" },
    server: { name: "shop", version: "1.2.3" },
  });
});
