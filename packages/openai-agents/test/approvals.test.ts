import { type AuditEvent, type Auditor, AuditTimeoutError } from "@audit/core";
import { Agent, Runner, setTracingDisabled, tool } from "@openai/agents-core";
import { assistantMessage, functionCall, ScriptedModel } from "@openai/agents-core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AuditTracingProcessor,
  auditPolicyGuardrail,
  type PendingToolApproval,
  registerAuditTracing,
  runWithApprovals,
} from "../src/index.js";
import { supportDesk } from "./agents.js";
import { resolveFromAnotherProcess, sqliteAuditor, trail } from "./helpers.js";

// vitest sets NODE_ENV=test, under which the SDK turns tracing off.
setTracingDisabled(false);

let audit: Auditor;
let storeUrl: string;
let processor: AuditTracingProcessor;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ audit, storeUrl, cleanup } = await sqliteAuditor());
  processor = registerAuditTracing(audit);
});

afterEach(async () => {
  await processor.shutdown();
  await cleanup();
});

const types = (events: AuditEvent[]) => events.map((e) => e.type);

/** Every text the model was sent in its last call, to see what it learnt about a tool call. */
function lastPrompt(model: ScriptedModel): string {
  return JSON.stringify(model.lastCall?.request.input);
}

describe("runWithApprovals", () => {
  it("waits for a decision made in another process, then runs the approved tool in the same run", async () => {
    const desk = supportDesk({ refundNeedsApproval: true });
    const requested: PendingToolApproval[] = [];
    const human = resolveFromAnotherProcess(storeUrl, "approve", "alice", "loyal customer");
    const result = await runWithApprovals(desk.triage, "refund A-1", {
      processor,
      runner: new Runner({ workflowName: "support", groupId: "conv-2" }),
      onApprovalRequested: (r) => requested.push(r),
    });
    const answer = await human;
    expect(answer.pid).not.toBe(process.pid);
    expect(result.finalOutput).toBe("refund done");
    expect(desk.calls.refund).toBe(1);

    const events = await trail(audit);
    expect(types(events)).toEqual([
      "run.start",
      "agent.start",
      "tool.start",
      "tool.end",
      "llm.end",
      "agent.handoff",
      "agent.start",
      "llm.end",
      "agent.end",
      "llm.end", // the specialist asks for the refund
      "agent.end", // the SDK pauses the run
      "approval.request",
      "approval.resolve",
      "agent.start", // the resume
      "tool.start",
      "tool.end",
      "llm.end",
      "agent.end",
      "run.end",
    ]);
    const runId = events[0]!.runId!;
    expect(events.every((e) => e.runId === runId && e.sessionId === "conv-2")).toBe(true);
    expect(events[0]!.data).toMatchObject({ agent: "support", input: "refund A-1" });

    const request = events[11]!;
    expect(request.data).toEqual({
      approvalId: answer.approvalId,
      action: "refund",
      reason: "the tool refund needs a human's approval before it runs",
      options: { tool: "refund", callId: "call-3", args: { order: "A-1" } },
    });
    expect(request.parentSpanId).toBe(runId);
    expect(requested).toEqual([
      {
        approvalId: answer.approvalId,
        runId,
        tool: "refund",
        callId: "call-3",
        args: { order: "A-1" },
      },
    ]);
    const resolution = events[12]!;
    expect(resolution.data).toEqual({
      approvalId: answer.approvalId,
      outcome: "approve",
      resolvedBy: "alice",
      comment: "loyal customer",
    });
    expect(resolution.chain?.id).not.toBe(request.chain?.id); // written by the other process

    const refundEnd = events[15]!;
    expect(refundEnd.data).toMatchObject({ tool: "refund", result: "refunded A-1" });
    expect(refundEnd.parentSpanId).toBe(events[13]!.spanId);
    expect(events[13]!.parentSpanId).toBe(runId);

    const runEnd = events.at(-1)!;
    expect(runEnd.data).toMatchObject({
      status: "ok",
      output: "refund done",
      usage: { inputTokens: 42, outputTokens: 11, requests: 4 },
    });
    expect(types(events).filter((t) => t === "run.start")).toHaveLength(1);
  });

  it("rejects the tool call when the human denies it, and the model is told why", async () => {
    const desk = supportDesk({ refundNeedsApproval: true });
    const human = resolveFromAnotherProcess(storeUrl, "deny", "bob", "over the limit");
    const result = await runWithApprovals(desk.triage, "refund A-1", {
      processor,
      runner: new Runner({ workflowName: "support" }),
    });
    await human;
    expect(desk.calls.refund).toBe(0);
    expect(result.finalOutput).toBe("refund done");
    expect(lastPrompt(desk.specialistModel)).toContain(
      "Denied by bob: over the limit. Do not retry this call.",
    );

    const events = await trail(audit);
    expect(types(events).slice(11)).toEqual([
      "approval.request",
      "approval.resolve",
      "agent.start",
      "tool.start",
      "tool.error",
      "llm.end",
      "agent.end",
      "run.end",
    ]);
    const toolError = events[15]!;
    expect(toolError.data).toMatchObject({
      tool: "refund",
      errorType: "ToolCallRejected",
      error: "Denied by bob: over the limit. Do not retry this call.",
    });
    expect(events.filter((e) => e.type === "tool.end").map((e) => e.data.tool)).toEqual([
      "lookup_order",
    ]);
    expect(events.at(-1)!.data).toMatchObject({ status: "ok" });
  });

  it("fails the run when no decision comes in time, leaving the request pending", async () => {
    const desk = supportDesk({ refundNeedsApproval: true });
    await expect(
      runWithApprovals(desk.triage, "refund A-1", { processor, timeoutMs: 200 }),
    ).rejects.toBeInstanceOf(AuditTimeoutError);
    expect(desk.calls.refund).toBe(0);
    const events = await trail(audit);
    expect(types(events).slice(-2)).toEqual(["approval.request", "run.end"]);
    expect(events.at(-1)!.data).toMatchObject({ status: "error" });
    expect(await audit.approvals.pending()).toHaveLength(1);
  });
});

describe("auditPolicyGuardrail", () => {
  function payAgent(decide: Parameters<typeof auditPolicyGuardrail>[0]["decide"], onDeny?: "stop") {
    const calls = { pay: 0 };
    const pay = tool({
      name: "pay",
      description: "Pays an amount.",
      parameters: z.object({ amount: z.number() }),
      inputGuardrails: [
        auditPolicyGuardrail({ processor, policy: "payments", decide, ...(onDeny && { onDeny }) }),
      ],
      execute: async ({ amount }) => {
        calls.pay++;
        return `paid ${amount}`;
      },
    });
    const model = new ScriptedModel([
      [functionCall("pay", { amount: 900 }, { callId: "p1" })],
      [assistantMessage("finished")],
    ]);
    return { agent: new Agent({ name: "payer", model, tools: [pay] }), model, calls };
  }

  it("records an allow under the tool call and lets the tool run", async () => {
    const { agent, calls } = payAgent(() => "allow");
    await new Runner().run(agent, "pay");
    expect(calls.pay).toBe(1);
    const events = await trail(audit);
    expect(types(events)).toEqual([
      "run.start",
      "agent.start",
      "tool.start",
      "policy.decision",
      "tool.end",
      "llm.end",
      "llm.end",
      "agent.end",
      "run.end",
    ]);
    expect(events[3]!.parentSpanId).toBe(events[2]!.spanId);
    expect(events[3]!.runId).toBe(events[0]!.runId);
    expect(events[3]!.data).toEqual({ policy: "payments", decision: "allow", tool: "pay" });
    expect(events[3]!.risk).toBe("low");
  });

  it("refuses a denied call: the tool does not run and the model gets the reason", async () => {
    const { agent, model, calls } = payAgent(({ args }) => ({
      decision: (args as { amount: number }).amount > 500 ? "deny" : "allow",
      rule: "max-500",
      reason: "amount over 500",
    }));
    const result = await new Runner().run(agent, "pay");
    expect(result.finalOutput).toBe("finished");
    expect(calls.pay).toBe(0);
    expect(lastPrompt(model)).toContain("Refused by policy payments: amount over 500");
    const events = await trail(audit);
    const decision = events.find((e) => e.type === "policy.decision")!;
    expect(decision.data).toEqual({
      policy: "payments",
      decision: "deny",
      rule: "max-500",
      reason: "amount over 500",
      tool: "pay",
    });
    expect(decision.risk).toBe("high");
    expect(types(events)).not.toContain("approval.request");
    expect(types(events).slice(2, 5)).toEqual(["tool.start", "policy.decision", "tool.error"]);
    expect(events[4]!.data).toMatchObject({
      tool: "pay",
      errorType: "ToolCallRefused",
      error: "Refused by policy payments: amount over 500",
    });
    expect(events[4]!.spanId).toBe(events[2]!.spanId);
  });

  it("stops the run on a deny when asked to", async () => {
    const { agent, calls } = payAgent(() => "deny", "stop");
    await expect(new Runner().run(agent, "pay")).rejects.toThrow(/guardrail/i);
    expect(calls.pay).toBe(0);
    const events = await trail(audit);
    expect(events.at(-1)!.type).toBe("run.end");
    expect(events.at(-1)!.data.status).toBe("error");
  });

  it("treats a policy that throws as a deny", async () => {
    const { agent, calls } = payAgent(() => {
      throw new Error("policy service down");
    });
    await new Runner().run(agent, "pay");
    expect(calls.pay).toBe(0);
    const decision = (await trail(audit)).find((e) => e.type === "policy.decision")!;
    expect(decision.data).toMatchObject({ decision: "deny", rule: "policy-error" });
  });

  it("sends a call to review and follows the human's decision from another process", async () => {
    const { agent, calls } = payAgent(() => ({ decision: "review", reason: "large payment" }));
    const human = resolveFromAnotherProcess(storeUrl, "approve", "carol");
    await new Runner().run(agent, "pay");
    await human;
    expect(calls.pay).toBe(1);
    const events = await trail(audit);
    expect(types(events).slice(2, 6)).toEqual([
      "tool.start",
      "policy.decision",
      "approval.request",
      "approval.resolve",
    ]);
    expect(events[4]!.data).toMatchObject({ action: "pay", reason: "large payment" });
    expect(events[5]!.data).toMatchObject({ outcome: "approve", resolvedBy: "carol" });
    expect(events[6]!.type).toBe("tool.end");
  });
});
