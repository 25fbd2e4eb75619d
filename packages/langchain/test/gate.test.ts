import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Auditor, createAuditor, uuidv7, verifyChain } from "@audit/core";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import type { ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { Command, MemorySaver } from "@langchain/langgraph";
import { createAgent } from "langchain";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuditCallbackHandler, ToolCallDeniedError, type ToolPolicy } from "../src/index.js";
import { type AuditApprovalInterrupt, auditToolGate } from "../src/middleware.js";
import {
  answers,
  callsTool,
  refundTool,
  resolveFromAnotherProcess,
  runStarts,
  runTrail,
  types,
} from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "audit-langchain-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let storeUrl: string;
let audit: Auditor;
let n = 0;
beforeEach(async () => {
  storeUrl = `sqlite:${join(dir, `trail-${++n}.db`)}`;
  audit = await createAuditor({ store: storeUrl, spool: false });
});
afterEach(async () => {
  await awaitAllCallbacks();
  await audit.close();
});

const reviewLargeRefunds: ToolPolicy = ({ tool, args }) => {
  if (tool !== "refund") return undefined;
  const amount = (args as { amount: number }).amount;
  if (amount > 100)
    return { decision: "review", rule: "refund-over-100", reason: `refund of ${amount}` };
  return { decision: "allow", rule: "refund-up-to-100" };
};

/** What the model was told about tool calls in its last request. */
function toolMessagesSeen(
  model: ReturnType<typeof fakeModel>,
): { content: unknown; status: unknown }[] {
  const last = model.calls.at(-1)?.messages ?? [];
  return (last as ToolMessage[])
    .filter((m) => m.getType() === "tool")
    .map((m) => ({ content: m.content, status: m.status }));
}

describe("review by LangGraph interrupt, answered from another process", () => {
  async function pausedRefund(amount: number) {
    const model = fakeModel()
      .respond(callsTool("tc-r", "refund", { orderId: "A-7", amount }))
      .respond(answers("Refund handled."));
    const { refund, issued } = refundTool();
    const handler = new AuditCallbackHandler(audit, { agent: "refund-bot", awaitHandlers: true });
    const agent = createAgent({
      model,
      tools: [refund],
      middleware: [auditToolGate(handler, { policy: reviewLargeRefunds })],
      checkpointer: new MemorySaver(),
    });
    const config = { callbacks: [handler], configurable: { thread_id: `thread-${n}` } };
    const firstRunId = uuidv7();
    const paused = await agent.invoke(
      { messages: [{ role: "user", content: "Refund order A-7" }] },
      { ...config, runId: firstRunId },
    );
    return { model, agent, config, paused, issued, firstRunId };
  }

  it("pauses, records the request, and runs the tool once the human approves", async () => {
    const { model, agent, config, paused, issued, firstRunId } = await pausedRefund(250);
    expect(issued).toEqual([]);
    const interrupt = paused.__interrupt__?.[0]?.value as AuditApprovalInterrupt;
    expect(interrupt).toMatchObject({
      tool: "refund",
      toolCallId: "tc-r",
      reason: "refund of 250",
    });

    const human = await resolveFromAnotherProcess(storeUrl, "approve", "alice", "known customer");
    expect(human.pid).not.toBe(process.pid);
    expect(human).toMatchObject({ approvalId: interrupt.approvalId, action: "refund" });

    const resumeRunId = uuidv7();
    const final = await agent.invoke(new Command({ resume: true }), {
      ...config,
      runId: resumeRunId,
    });
    expect(final.messages.at(-1)?.content).toBe("Refund handled.");
    expect(issued).toEqual([{ orderId: "A-7", amount: 250 }]);
    expect(toolMessagesSeen(model)).toEqual([
      { content: "refunded 250 on A-7", status: "success" },
    ]);

    const first = await runTrail(audit, firstRunId);
    expect(types(first)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "policy.decision",
      "approval.request",
      "run.end",
      "approval.resolve",
    ]);
    expect(first[3]).toMatchObject({
      risk: "medium",
      data: {
        policy: "tool-policy",
        decision: "review",
        rule: "refund-over-100",
        tool: "refund",
        callId: "tc-r",
      },
    });
    expect(first[4]?.data).toEqual({
      approvalId: interrupt.approvalId,
      action: "refund",
      reason: "refund of 250",
      options: { tool: "refund", callId: "tc-r", args: { orderId: "A-7", amount: 250 } },
    });
    expect(first[5]?.data).toMatchObject({
      status: "ok",
      interrupted: true,
      interrupts: [{ value: { approvalId: interrupt.approvalId } }],
    });
    expect(first[6]).toMatchObject({
      id: human.resolutionId,
      actor: "alice",
      data: { outcome: "approve", resolvedBy: "alice", comment: "known customer" },
    });

    const second = await runTrail(audit, resumeRunId);
    expect(types(second)).toEqual([
      "run.start",
      "tool.start",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(second[0]?.sessionId).toBe(first[0]?.sessionId);
    expect(second[1]?.data).toMatchObject({
      tool: "refund",
      callId: "tc-r",
      args: { amount: 250 },
    });
    expect(second[2]?.data).toMatchObject({ result: "refunded 250 on A-7" });
    expect((await verifyChain(audit.store)).problems).toEqual([]);
  }, 60_000);

  it("skips the tool when the human denies it, and tells the model why", async () => {
    const { model, agent, config, paused, issued } = await pausedRefund(900);
    expect(paused.__interrupt__).toHaveLength(1);
    await resolveFromAnotherProcess(storeUrl, "deny", "bob", "too large for this customer");
    const final = await agent.invoke(new Command({ resume: true }), config);
    expect(final.messages.at(-1)?.content).toBe("Refund handled.");
    expect(issued).toEqual([]);
    expect(toolMessagesSeen(model)).toEqual([
      { content: "Tool call denied: too large for this customer", status: "error" },
    ]);
    const [, resumed] = await runStarts(audit);
    const events = await runTrail(audit, resumed!.runId!);
    expect(types(events)).toEqual(["run.start", "llm.start", "llm.end", "run.end"]);
  }, 60_000);
});

describe("review by waiting (no checkpointer)", () => {
  it("holds the tool until a human in another process approves it", async () => {
    const model = fakeModel()
      .respond(callsTool("tc-w", "refund", { orderId: "A-3", amount: 400 }))
      .respond(answers("Refunded."));
    const { refund, issued } = refundTool();
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    const agent = createAgent({
      model,
      tools: [refund],
      middleware: [
        auditToolGate(handler, { policy: reviewLargeRefunds, approvalTimeoutMs: 20_000 }),
      ],
    });
    const runId = uuidv7();
    const human = resolveFromAnotherProcess(storeUrl, "approve", "carol");
    await agent.invoke(
      { messages: [{ role: "user", content: "refund A-3" }] },
      { callbacks: [handler], runId },
    );
    const resolved = await human;
    expect(issued).toEqual([{ orderId: "A-3", amount: 400 }]);
    const events = await runTrail(audit, runId);
    const resolution = events.find((e) => e.type === "approval.resolve");
    expect(resolution).toMatchObject({
      id: resolved.resolutionId,
      data: { outcome: "approve", resolvedBy: "carol" },
    });
    expect(types(events.filter((e) => e !== resolution))).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "policy.decision",
      "approval.request",
      "tool.start",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(events.find((e) => e.type === "approval.request")?.data.approvalId).toBe(
      resolved.approvalId,
    );
    expect(resolution!.time <= events.find((e) => e.type === "tool.start")!.time).toBe(true);
  }, 60_000);
});

describe("a policy that denies", () => {
  const denyRefunds: ToolPolicy = ({ tool }) =>
    tool === "refund"
      ? { decision: "deny", rule: "no-refunds", reason: "refunds are disabled" }
      : "allow";

  it("hands the model a refusal and lets it go on", async () => {
    const model = fakeModel()
      .respond(callsTool("tc-d", "refund", { orderId: "A-1", amount: 5 }))
      .respond(answers("Cannot."));
    const { refund, issued } = refundTool();
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    const agent = createAgent({
      model,
      tools: [refund],
      middleware: [auditToolGate(handler, { policy: denyRefunds })],
    });
    const runId = uuidv7();
    await agent.invoke(
      { messages: [{ role: "user", content: "refund" }] },
      { callbacks: [handler], runId },
    );
    expect(issued).toEqual([]);
    expect(toolMessagesSeen(model)).toEqual([
      { content: "Tool call denied: refunds are disabled", status: "error" },
    ]);
    const events = await runTrail(audit, runId);
    expect(types(events)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "policy.decision",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(events[3]).toMatchObject({
      risk: "high",
      data: { decision: "deny", rule: "no-refunds" },
    });
  });

  it("rejects the whole run when fail-closed", async () => {
    const model = fakeModel()
      .respond(callsTool("tc-d", "refund", { orderId: "A-1", amount: 5 }))
      .respond(answers("never"));
    const { refund, issued } = refundTool();
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    const agent = createAgent({
      model,
      tools: [refund],
      middleware: [auditToolGate(handler, { policy: denyRefunds, failClosed: true })],
    });
    const runId = uuidv7();
    const run = agent.invoke(
      { messages: [{ role: "user", content: "refund" }] },
      { callbacks: [handler], runId },
    );
    // LangChain wraps a middleware's error in its MiddlewareError, keeping ours as the cause.
    const err = await run.catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "ToolCallDeniedError" });
    expect((err as Error).cause).toBeInstanceOf(ToolCallDeniedError);
    expect((err as Error).cause).toMatchObject({
      code: "AUDIT_TOOL_DENIED",
      tool: "refund",
      toolCallId: "tc-d",
    });
    expect(issued).toEqual([]);
    expect(model.callCount).toBe(1);
    const events = await runTrail(audit, runId);
    expect(types(events)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "policy.decision",
      "run.end",
    ]);
    expect(events.at(-1)?.data).toMatchObject({
      status: "error",
      error: { name: "ToolCallDeniedError" },
    });
  });

  it("treats a throwing policy as a deny only when fail-closed", async () => {
    const broken: ToolPolicy = () => {
      throw new Error("rules file missing");
    };
    for (const failClosed of [false, true]) {
      const model = fakeModel()
        .respond(callsTool(`tc-p${failClosed}`, "refund", { orderId: "A-1", amount: 5 }))
        .respond(answers("ok"));
      const { refund, issued } = refundTool();
      const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
      const agent = createAgent({
        model,
        tools: [refund],
        middleware: [auditToolGate(handler, { policy: broken, failClosed })],
      });
      const runId = uuidv7();
      const run = agent.invoke(
        { messages: [{ role: "user", content: "refund" }] },
        { callbacks: [handler], runId },
      );
      if (failClosed) await expect(run).rejects.toThrow(/denied/);
      else await run;
      expect(issued).toHaveLength(failClosed ? 0 : 1);
      const events = await runTrail(audit, runId);
      expect(events.find((e) => e.type === "error")?.data.message).toBe(
        "tool policy failed: rules file missing",
      );
      const decision = events.find((e) => e.type === "policy.decision");
      if (failClosed)
        expect(decision?.data).toMatchObject({
          decision: "deny",
          reason: "the tool policy failed",
        });
      else expect(decision).toBeUndefined();
    }
  });

  it("records into the thread when its handler is not attached to the run", async () => {
    const model = fakeModel()
      .respond(callsTool("tc-n", "refund", { orderId: "A-1", amount: 5 }))
      .respond(answers("ok"));
    const { refund, issued } = refundTool();
    const handler = new AuditCallbackHandler(audit);
    const agent = createAgent({
      model,
      tools: [refund],
      middleware: [auditToolGate(handler, { policy: denyRefunds })],
    });
    await agent.invoke(
      { messages: [{ role: "user", content: "refund" }] },
      { configurable: { thread_id: "loose-thread" } },
    );
    expect(issued).toEqual([]);
    await audit.flush();
    const [decision] = await audit.store.query({ type: "policy.decision" });
    expect(decision).toMatchObject({
      sessionId: "loose-thread",
      risk: "high",
      data: { decision: "deny", tool: "refund", callId: "tc-n" },
    });
    expect(decision?.runId).toBeUndefined();
  });

  it("finds the run in LangChain's background mode too", async () => {
    const model = fakeModel()
      .respond(callsTool("tc-bg", "refund", { orderId: "A-1", amount: 5 }))
      .respond(answers("ok"));
    const { refund } = refundTool();
    const handler = new AuditCallbackHandler(audit);
    const agent = createAgent({
      model,
      tools: [refund],
      middleware: [auditToolGate(handler, { policy: reviewLargeRefunds })],
    });
    const runId = uuidv7();
    await agent.invoke(
      { messages: [{ role: "user", content: "refund" }] },
      { callbacks: [handler], runId },
    );
    await awaitAllCallbacks();
    const events = await runTrail(audit, runId);
    expect(events.find((e) => e.type === "policy.decision")?.data).toMatchObject({
      decision: "allow",
      callId: "tc-bg",
    });
  });
});
