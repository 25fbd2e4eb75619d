import type { Auditor } from "@audit/core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditTransport, type McpToolPolicy } from "../src/index.js";
import { resolveFromAnotherProcess, shopServer, sqliteAuditor, trail, types } from "./helpers.js";

let audit: Auditor;
let storeUrl: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ audit, storeUrl, cleanup } = await sqliteAuditor());
});
afterEach(async () => {
  await cleanup();
});

/** Refunds go to a human; everything else is allowed. */
const refundsNeedReview: McpToolPolicy = {
  name: "refunds",
  decide: ({ tool }) =>
    tool === "refund"
      ? { decision: "review", rule: "human-in-the-loop", reason: "refunds need a human" }
      : "allow",
};

async function connect(side: "client" | "server", policy: McpToolPolicy) {
  const shop = shopServer();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const wrap = (t: InMemoryTransport) => auditTransport(t, audit, { side, policy });
  await shop.server.connect(side === "server" ? wrap(serverSide) : serverSide);
  const client = new Client({ name: "support-agent", version: "2.0.0" });
  await client.connect(side === "client" ? wrap(clientSide) : clientSide);
  return { client, shop };
}

describe.each(["server", "client"] as const)("a tool policy on the %s side", (side) => {
  it("holds a call for review until a human in another process approves it, then runs the tool", async () => {
    const { client, shop } = await connect(side, refundsNeedReview);
    const human = resolveFromAnotherProcess(storeUrl, "approve", "alice", "checked");
    const result = await client.callTool({ name: "refund", arguments: { order: "A-1" } });
    const answer = await human;
    expect(answer.pid).not.toBe(process.pid);
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: "text", text: "refunded A-1" }]);
    expect(shop.calls.refund).toBe(1);
    await client.close();

    const events = await trail(audit);
    expect(types(events)).toEqual([
      "run.start",
      "tool.start",
      "policy.decision",
      "approval.request",
      "approval.resolve",
      "tool.end",
      "run.end",
    ]);
    const [, start, decision, request, resolution, end] = events;
    expect(decision!.parentSpanId).toBe(start!.spanId);
    expect(decision!.data).toEqual({
      policy: "refunds",
      decision: "review",
      rule: "human-in-the-loop",
      reason: "refunds need a human",
      tool: "refund",
    });
    expect(request!.parentSpanId).toBe(start!.spanId);
    expect(request!.data).toEqual({
      approvalId: answer.approvalId,
      action: "refund",
      reason: "refunds need a human",
      options: {
        tool: "refund",
        callId: start!.data.callId,
        args: { order: "A-1" },
        server: { name: "shop", version: "1.2.3" },
      },
    });
    expect(resolution!.data).toEqual({
      approvalId: answer.approvalId,
      outcome: "approve",
      resolvedBy: "alice",
      comment: "checked",
    });
    expect(end!.spanId).toBe(start!.spanId);
  });

  it("refuses a call a human denies: the tool never runs and the caller gets the reason", async () => {
    const { client, shop } = await connect(side, refundsNeedReview);
    const human = resolveFromAnotherProcess(storeUrl, "deny", "bob", "over the limit");
    const result = await client.callTool({ name: "refund", arguments: { order: "A-1" } });
    await human;
    expect(shop.calls.refund).toBe(0);
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([
      { type: "text", text: "Refused by policy refunds: denied by bob: over the limit" },
    ]);
    // The connection goes on after a refusal.
    const next = await client.callTool({
      name: "lookup_order",
      arguments: { order: "A-2", apiKey: "x" },
    });
    expect(next.isError).toBeFalsy();
    await client.close();

    const events = await trail(audit);
    expect(types(events)).toEqual([
      "run.start",
      "tool.start",
      "policy.decision",
      "approval.request",
      "approval.resolve",
      "tool.error",
      "tool.start",
      "policy.decision",
      "tool.end",
      "run.end",
    ]);
    expect(events[5]!.data).toMatchObject({
      tool: "refund",
      errorType: "ToolCallRefused",
      error: "Refused by policy refunds: denied by bob: over the limit",
    });
    expect(events[7]!.data).toMatchObject({ decision: "allow", tool: "lookup_order" });
  });
});

describe("a tool policy", () => {
  it("refuses at once on deny, and fails closed when the policy throws", async () => {
    let calls = 0;
    const { client, shop } = await connect("server", {
      name: "guard",
      decide: () => {
        calls++;
        if (calls === 1)
          return { decision: "deny", rule: "no-refunds", reason: "refunds are frozen" };
        throw new Error("policy service down");
      },
    });
    const first = await client.callTool({ name: "refund", arguments: { order: "A-1" } });
    const second = await client.callTool({ name: "refund", arguments: { order: "A-1" } });
    expect(shop.calls.refund).toBe(0);
    expect(first.content).toEqual([
      { type: "text", text: "Refused by policy guard: refunds are frozen" },
    ]);
    expect(second.isError).toBe(true);
    await client.close();
    const decisions = (await trail(audit)).filter((e) => e.type === "policy.decision");
    expect(decisions.map((e) => [e.data.decision, e.data.rule, e.risk])).toEqual([
      ["deny", "no-refunds", "high"],
      ["deny", "policy-error", "high"],
    ]);
  });

  it("refuses a call whose review times out and leaves the request pending", async () => {
    const { client, shop } = await connect("server", {
      ...refundsNeedReview,
      approvalTimeoutMs: 150,
    });
    const result = await client.callTool({ name: "refund", arguments: { order: "A-1" } });
    expect(shop.calls.refund).toBe(0);
    expect(result.isError).toBe(true);
    expect(String((result.content as { text: string }[])[0]!.text)).toMatch(/no decision/);
    await client.close();
    expect(await audit.approvals.pending()).toHaveLength(1);
  });
});
