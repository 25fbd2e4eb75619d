import type { Auditor } from "@audit/core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditTransport } from "../src/index.js";
import { SECRET, shopServer, sqliteAuditor, trail, types } from "./helpers.js";

let audit: Auditor;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ audit, cleanup } = await sqliteAuditor());
});
afterEach(async () => {
  await cleanup();
});

async function connect(
  side: "client" | "server",
  extra: Parameters<typeof auditTransport>[2] | object = {},
) {
  const shop = shopServer();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const options = { side, ...extra };
  await shop.server.connect(
    side === "server" ? auditTransport(serverSide, audit, options) : serverSide,
  );
  const client = new Client({ name: "support-agent", version: "2.0.0" });
  await client.connect(side === "client" ? auditTransport(clientSide, audit, options) : clientSide);
  return { client, shop };
}

describe.each(["client", "server"] as const)("auditTransport on the %s side", (side) => {
  it("records every tools/call with its result or error, the server and the session", async () => {
    const { client, shop } = await connect(side);
    const found = await client.callTool({
      name: "lookup_order",
      arguments: { order: "A-1", apiKey: SECRET },
    });
    expect(found.structuredContent).toEqual({ order: "A-1", total: 420 });
    const failed = await client.callTool({ name: "fail", arguments: {} });
    expect(failed.isError).toBe(true);
    const unknown = await client.callTool({ name: "nope", arguments: {} });
    expect(unknown.isError).toBe(true);
    await client.close();
    expect(shop.calls.lookup).toBe(1);

    const events = await trail(audit);
    expect(types(events)).toEqual([
      "run.start",
      "tool.start",
      "tool.end",
      "tool.start",
      "tool.error",
      "tool.start",
      "tool.error",
      "run.end",
    ]);
    const [runStart] = events;
    const runId = runStart!.runId!;
    const sessionId = runStart!.sessionId!;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    for (const e of events) {
      expect(e.runId).toBe(runId);
      expect(e.sessionId).toBe(sessionId);
      expect(e.actor).toBe("support-agent");
    }
    expect(runStart!.data).toEqual({
      agent: side === "server" ? "shop" : "support-agent",
      input: {
        side,
        server: { name: "shop", version: "1.2.3" },
        client: { name: "support-agent", version: "2.0.0" },
      },
    });
    const [start1, end1, start2, error2, start3, error3] = events.slice(1);
    expect(start1!.parentSpanId).toBe(runStart!.spanId);
    expect(end1!.spanId).toBe(start1!.spanId);
    expect(start1!.data).toEqual({
      tool: "lookup_order",
      callId: start1!.data.callId,
      args: { order: "A-1", apiKey: "[REDACTED]" },
      server: { name: "shop", version: "1.2.3" },
    });
    expect(end1!.data).toMatchObject({
      tool: "lookup_order",
      result: { order: "A-1", total: 420 },
    });
    expect(error2!.spanId).toBe(start2!.spanId);
    expect(error2!.data).toMatchObject({
      tool: "fail",
      error: "warehouse offline",
      errorType: "McpToolError",
    });
    expect(error2!.risk).toBe("medium");
    expect(start3!.data.tool).toBe("nope");
    expect(error3!.data).toMatchObject({ errorType: "McpToolError" });
    expect(String(error3!.data.error)).toContain("Tool nope not found");
    expect(events.at(-1)!.data).toMatchObject({ status: "ok" });
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });

  it("records a call the client cancels", async () => {
    const { client } = await connect(side);
    const controller = new AbortController();
    const call = client.callTool({ name: "slow", arguments: {} }, undefined, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort("the user gave up"), 50);
    await expect(call).rejects.toThrow();
    await client.close();
    const events = await trail(audit);
    expect(types(events)).toEqual(["run.start", "tool.start", "tool.error", "run.end"]);
    expect(events[2]!.data).toMatchObject({
      tool: "slow",
      errorType: "McpCancelled",
      error: "the user gave up",
    });
  });
});

describe("auditTransport", () => {
  it("records a call still open when the connection closes", async () => {
    const { client } = await connect("client");
    const call = client.callTool({ name: "slow", arguments: {} });
    await new Promise((r) => setTimeout(r, 30));
    await client.close();
    await expect(call).rejects.toThrow();
    const events = await trail(audit);
    expect(types(events)).toEqual(["run.start", "tool.start", "tool.error", "run.end"]);
    expect(events[2]!.data).toMatchObject({ errorType: "McpConnectionClosed" });
  });

  it("puts the calls into the agent's own run when given one", async () => {
    const run = audit.startRun({ agent: "support-bot", sessionId: "conv-9" });
    const { client } = await connect("client", { run });
    await client.callTool({ name: "refund", arguments: { order: "A-2" } });
    await client.close();
    await run.end({ output: "done" });
    const events = await trail(audit);
    expect(types(events)).toEqual(["run.start", "tool.start", "tool.end", "run.end"]);
    for (const e of events) {
      expect(e.runId).toBe(run.runId);
      expect(e.sessionId).toBe("conv-9");
    }
    expect(events[1]!.parentSpanId).toBe(run.spanId);
    expect(events[1]!.actor).toBe("support-bot");
    expect(events[2]!.data).toMatchObject({ result: [{ type: "text", text: "refunded A-2" }] });
  });

  it("keeps the connection working when recording fails", async () => {
    const errors: unknown[] = [];
    const { client } = await connect("server", { onError: (e: unknown) => errors.push(e) });
    await audit.close();
    const result = await client.callTool({ name: "refund", arguments: { order: "A-3" } });
    expect(result.content).toEqual([{ type: "text", text: "refunded A-3" }]);
    expect(errors.length).toBeGreaterThan(0);
    await client.close();
  });
});
