import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEvent, type Auditor, createAuditor, verifyChain } from "@audit/core";
import { SqliteStore } from "@audit/sqlite";
import { generateText, type ModelMessage, registerTelemetry, stepCountIs, tool } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { auditCall, auditTelemetry, type ToolPolicy, toolApprovalResponses } from "../src/index.js";
import { answers, callsTool, resolveFromAnotherProcess, runTrail } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "audit-ai-sdk-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let storeUrl: string;
let audit: Auditor;
let n = 0;
beforeEach(async () => {
  storeUrl = `sqlite:${join(dir, `trail-${++n}.db`)}`;
  audit = await createAuditor({ store: storeUrl, spool: false, actor: "refund-bot" });
});
afterEach(async () => {
  await audit.close();
  (globalThis as { AI_SDK_TELEMETRY_INTEGRATIONS?: unknown[] }).AI_SDK_TELEMETRY_INTEGRATIONS = [];
});

/** A refund tool that remembers every refund it actually issued. */
function refundTool() {
  const issued: unknown[] = [];
  const refund = tool({
    description: "Refunds an order",
    inputSchema: z.object({ orderId: z.string(), amount: z.number() }),
    execute: async (input) => {
      issued.push(input);
      return { refunded: input.amount };
    },
  });
  return { refund, issued };
}

const reviewLargeRefunds: ToolPolicy = ({ tool, args }) => {
  if (tool !== "refund") return undefined;
  const amount = (args as { amount: number }).amount;
  if (amount > 100)
    return { decision: "review", rule: "refund-over-100", reason: `refund of ${amount}` };
  return { decision: "allow", rule: "refund-up-to-100" };
};

function types(events: AuditEvent[]): string[] {
  return events.map((e) => e.type);
}

/** The text of the tool results the model was given in its last call. */
function toolOutputsSeen(model: MockLanguageModelV4): unknown[] {
  const prompt = model.doGenerateCalls.at(-1)?.prompt ?? [];
  return prompt
    .filter((m) => m.role === "tool")
    .flatMap((m) => m.content as { type: string; output?: unknown }[])
    .filter((p) => p.type === "tool-result")
    .map((p) => p.output);
}

describe("tool approvals through the SDK's toolApproval, answered from another process", () => {
  async function firstCall(amount: number) {
    const model = new MockLanguageModelV4({
      doGenerate: [callsTool("tc-r", "refund", { orderId: "A-7", amount })],
    });
    const { refund, issued } = refundTool();
    const messages: ModelMessage[] = [{ role: "user", content: "Refund order A-7" }];
    const call = auditCall(audit, { agent: "refund-bot", policy: reviewLargeRefunds });
    const result = await generateText({ model, tools: { refund }, messages, ...call });
    return { result, refund, issued, messages, call };
  }

  it("records the request, waits for the human, and runs the tool once approved", async () => {
    const { result, refund, issued, messages, call } = await firstCall(250);
    expect(result.finishReason).toBe("tool-calls");
    expect(issued).toEqual([]);
    const sdkRequest = result.content.find((p) => p.type === "tool-approval-request");
    expect(sdkRequest).toBeDefined();
    const sdkApprovalId = (sdkRequest as { approvalId: string }).approvalId;

    // The human, in another process, sees the request in the store and approves it.
    const human = resolveFromAnotherProcess(storeUrl, "approve", "alice", "customer is known");
    const answer = await toolApprovalResponses(audit, result.response.messages, {
      timeoutMs: 20_000,
    });
    const resolved = await human;
    expect(resolved.pid).not.toBe(process.pid);
    expect(resolved).toMatchObject({ approvalId: sdkApprovalId, action: "refund" });
    expect(answer).toEqual({
      role: "tool",
      content: [
        {
          type: "tool-approval-response",
          approvalId: sdkApprovalId,
          approved: true,
          reason: "customer is known",
        },
      ],
    });

    // The application resumes; the SDK runs the approved tool before asking the model again.
    const model2 = new MockLanguageModelV4({ doGenerate: [answers("Refunded 250.")] });
    const resume = auditCall(audit, { agent: "refund-bot", policy: reviewLargeRefunds });
    const final = await generateText({
      model: model2,
      tools: { refund },
      messages: [...messages, ...result.response.messages, answer!],
      ...resume,
    });
    expect(final.text).toBe("Refunded 250.");
    expect(issued).toEqual([{ orderId: "A-7", amount: 250 }]);
    expect(toolOutputsSeen(model2)).toEqual([{ type: "json", value: { refunded: 250 } }]);

    const first = await runTrail(audit, call.runId);
    expect(types(first)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "policy.decision",
      "approval.request",
      "run.end",
      "approval.resolve",
    ]);
    expect(first[3]?.data).toEqual({
      policy: "tool-policy",
      decision: "review",
      rule: "refund-over-100",
      reason: "refund of 250",
      tool: "refund",
      callId: "tc-r",
    });
    expect(first[4]?.data).toEqual({
      approvalId: sdkApprovalId,
      action: "refund",
      reason: "refund of 250",
      options: { tool: "refund", callId: "tc-r", args: { orderId: "A-7", amount: 250 } },
    });
    expect(first[5]?.data).toMatchObject({
      status: "ok",
      finishReason: "tool-calls",
      pendingApprovals: [sdkApprovalId],
    });
    expect(first[6]).toMatchObject({
      id: resolved.resolutionId,
      actor: "alice",
      parentSpanId: first[4]?.parentSpanId,
      data: { approvalId: sdkApprovalId, outcome: "approve", resolvedBy: "alice" },
    });

    const second = await runTrail(audit, resume.runId);
    expect(types(second)).toEqual([
      "run.start",
      "tool.start",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(second[0]?.data.approvals).toEqual([
      { approvalId: sdkApprovalId, toolCallId: "tc-r", approved: true },
    ]);
    expect(second[1]?.data).toMatchObject({
      tool: "refund",
      callId: "tc-r",
      args: { amount: 250 },
    });
    expect(second[2]?.data).toMatchObject({ result: { refunded: 250 } });
    // The policy is not asked again about a call a human already decided.
    expect(second.some((e) => e.type === "policy.decision")).toBe(false);

    // The two writers' chains (this process and the human's) both verify.
    expect((await verifyChain(audit.store)).problems).toEqual([]);
  }, 60_000);

  it("stops the tool when the human denies it; the model is told why", async () => {
    const { result, refund, issued, messages, call } = await firstCall(900);
    const human = resolveFromAnotherProcess(storeUrl, "deny", "bob", "too large");
    const answer = await toolApprovalResponses(audit, result.response.messages, {
      timeoutMs: 20_000,
    });
    await human;
    expect(answer?.content[0]).toMatchObject({ approved: false, reason: "too large" });

    const model2 = new MockLanguageModelV4({ doGenerate: [answers("I cannot refund that.")] });
    const resume = auditCall(audit, { policy: reviewLargeRefunds });
    await generateText({
      model: model2,
      tools: { refund },
      messages: [...messages, ...result.response.messages, answer!],
      ...resume,
    });
    expect(issued).toEqual([]);
    expect(toolOutputsSeen(model2)).toEqual([{ type: "execution-denied", reason: "too large" }]);
    const second = await runTrail(audit, resume.runId);
    expect(types(second)).toEqual(["run.start", "llm.start", "llm.end", "run.end"]);
    expect(second[0]?.data.approvals).toEqual([
      expect.objectContaining({ toolCallId: "tc-r", approved: false }),
    ]);
    const first = await runTrail(audit, call.runId);
    expect(first.at(-1)?.data).toMatchObject({ outcome: "deny", resolvedBy: "bob" });
  }, 60_000);

  it("returns undefined without waiting while a request is still open", async () => {
    const { result } = await firstCall(300);
    expect(
      await toolApprovalResponses(audit, result.response.messages, { wait: false }),
    ).toBeUndefined();
    expect(await toolApprovalResponses(audit, [])).toBeUndefined();
  });

  it("lets an allowed call run without asking anyone", async () => {
    const model = new MockLanguageModelV4({
      doGenerate: [callsTool("tc-s", "refund", { orderId: "A-8", amount: 20 }), answers("Done.")],
    });
    const { refund, issued } = refundTool();
    const call = auditCall(audit, { policy: reviewLargeRefunds });
    await generateText({
      model,
      tools: { refund },
      prompt: "refund A-8",
      stopWhen: stepCountIs(3),
      ...call,
    });
    expect(issued).toEqual([{ orderId: "A-8", amount: 20 }]);
    const events = await runTrail(audit, call.runId);
    expect(types(events)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "policy.decision",
      "tool.start",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(events[3]?.data).toMatchObject({ decision: "allow", rule: "refund-up-to-100" });
    expect(events[3]?.risk).toBe("low");
  });
});

describe("a policy that denies", () => {
  const denyRefunds: ToolPolicy = ({ tool }) =>
    tool === "refund"
      ? { decision: "deny", rule: "no-refunds", reason: "refunds are disabled" }
      : undefined;

  it("refuses the call and lets the model go on (fail-open run)", async () => {
    const model = new MockLanguageModelV4({
      doGenerate: [callsTool("tc-d", "refund", { orderId: "A-1", amount: 5 }), answers("Cannot.")],
    });
    const { refund, issued } = refundTool();
    const call = auditCall(audit, { policy: denyRefunds });
    const result = await generateText({
      model,
      tools: { refund },
      prompt: "refund",
      stopWhen: stepCountIs(3),
      ...call,
    });
    expect(result.text).toBe("Cannot.");
    expect(issued).toEqual([]);
    expect(toolOutputsSeen(model)).toEqual([
      { type: "execution-denied", reason: "refunds are disabled" },
    ]);
    const events = await runTrail(audit, call.runId);
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

  it("stops the whole run when fail-closed", async () => {
    const model = new MockLanguageModelV4({
      doGenerate: [callsTool("tc-d", "refund", { orderId: "A-1", amount: 5 }), answers("never")],
    });
    const { refund, issued } = refundTool();
    const call = auditCall(audit, { policy: denyRefunds, failClosed: true });
    await expect(
      generateText({
        model,
        tools: { refund },
        prompt: "refund",
        stopWhen: stepCountIs(3),
        ...call,
      }),
    ).rejects.toThrow(/denied/);
    expect(issued).toEqual([]);
    expect(model.doGenerateCalls).toHaveLength(1);
    const events = await runTrail(audit, call.runId);
    expect(types(events)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "policy.decision",
      "run.end",
    ]);
    expect(events.at(-1)?.data).toMatchObject({
      status: "error",
      aborted: true,
      error: { name: "ToolCallDeniedError", code: "AUDIT_TOOL_DENIED" },
    });
  });

  it("treats a throwing policy as a deny only when fail-closed", async () => {
    const broken: ToolPolicy = () => {
      throw new Error("rules file missing");
    };
    for (const failClosed of [false, true]) {
      const model = new MockLanguageModelV4({
        doGenerate: [callsTool("tc-b", "refund", { orderId: "A-1", amount: 5 }), answers("ok")],
      });
      const { refund, issued } = refundTool();
      const call = auditCall(audit, { policy: broken, failClosed });
      const run = generateText({
        model,
        tools: { refund },
        prompt: "refund",
        stopWhen: stepCountIs(3),
        ...call,
      });
      if (failClosed) await expect(run).rejects.toThrow();
      else await run;
      expect(issued).toHaveLength(failClosed ? 0 : 1);
      const events = await runTrail(audit, call.runId);
      const error = events.find((e) => e.type === "error");
      expect(error?.data.message).toBe("tool policy failed: rules file missing");
      const decision = events.find((e) => e.type === "policy.decision");
      if (failClosed)
        expect(decision?.data).toMatchObject({
          decision: "deny",
          reason: "the tool policy failed",
        });
      else expect(decision).toBeUndefined();
    }
  });
});

describe("the global integration's blocking gate (no toolApproval)", () => {
  it("holds the tool until a human in another process approves it", async () => {
    registerTelemetry(auditTelemetry(audit, { agent: "refund-bot", policy: reviewLargeRefunds }));
    const model = new MockLanguageModelV4({
      doGenerate: [
        callsTool("tc-g", "refund", { orderId: "A-3", amount: 400 }),
        answers("Refunded."),
      ],
    });
    const { refund, issued } = refundTool();
    const human = resolveFromAnotherProcess(storeUrl, "approve", "carol");
    await generateText({
      model,
      tools: { refund },
      prompt: "refund A-3",
      stopWhen: stepCountIs(3),
    });
    const resolved = await human;
    expect(issued).toEqual([{ orderId: "A-3", amount: 400 }]);

    const [start] = await audit.store.query({ type: "run.start" });
    const events = await runTrail(audit, start!.runId!);
    const resolution = events.find((e) => e.type === "approval.resolve");
    expect(resolution).toMatchObject({
      id: resolved.resolutionId,
      data: { outcome: "approve", resolvedBy: "carol" },
    });
    expect(types(events.filter((e) => e !== resolution))).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "policy.decision",
      "approval.request",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    const request = events.find((e) => e.type === "approval.request");
    expect(request?.data.approvalId).toBe(resolved.approvalId);
    const toolEnd = events.find((e) => e.type === "tool.end");
    expect(resolution!.time <= toolEnd!.time).toBe(true);
  }, 60_000);

  it("turns a human's denial into a tool error the model sees", async () => {
    registerTelemetry(auditTelemetry(audit, { policy: reviewLargeRefunds }));
    const model = new MockLanguageModelV4({
      doGenerate: [
        callsTool("tc-g", "refund", { orderId: "A-3", amount: 400 }),
        answers("Denied."),
      ],
    });
    const { refund, issued } = refundTool();
    const human = resolveFromAnotherProcess(storeUrl, "deny", "carol", "not this one");
    await generateText({
      model,
      tools: { refund },
      prompt: "refund A-3",
      stopWhen: stepCountIs(3),
    });
    await human;
    expect(issued).toEqual([]);
    const [start] = await audit.store.query({ type: "run.start" });
    const events = await runTrail(audit, start!.runId!);
    const error = events.find((e) => e.type === "tool.error");
    expect(error?.data).toMatchObject({
      tool: "refund",
      errorType: "ToolCallDeniedError",
      error: { message: expect.stringContaining("not this one") },
    });
    expect(toolOutputsSeen(model)).toEqual([
      {
        type: "error-text",
        value: expect.stringMatching(/ToolCallDeniedError: .*was denied: not this one$/),
      },
    ]);
    expect(events.at(-1)?.data.status).toBe("ok");
  }, 60_000);
});

describe("strict durability", () => {
  async function refundWithStoreDown(failClosed: boolean) {
    // A real SQLite store, closed under the auditor: every append now fails.
    const store = new SqliteStore({ filename: join(dir, `down-${failClosed}.db`) });
    const errors: unknown[] = [];
    const strict = await createAuditor({
      store,
      spool: false,
      durability: "strict",
      retry: { attempts: 1 },
      onError: (err) => errors.push(err),
    });
    await store.close();
    const model = new MockLanguageModelV4({
      doGenerate: [callsTool("tc-x", "refund", { orderId: "A-5", amount: 10 }), answers("Done.")],
    });
    const { refund, issued } = refundTool();
    const call = auditCall(strict, { failClosed });
    const outcome = await generateText({
      model,
      tools: { refund },
      prompt: "refund A-5",
      stopWhen: stepCountIs(3),
      ...call,
    }).then(
      () => "completed",
      (err: unknown) => err,
    );
    await strict.close().catch(() => undefined);
    return { outcome, issued, errors };
  }

  it("keeps a tool from running when its tool.start cannot be made durable, if fail-closed", async () => {
    const { outcome, issued, errors } = await refundWithStoreDown(true);
    expect(issued).toEqual([]);
    expect(outcome).toMatchObject({ name: "StoreError" });
    expect(errors.length).toBeGreaterThan(0);
  });

  it("lets the agent go on (fail-open) when not fail-closed", async () => {
    const { outcome, issued } = await refundWithStoreDown(false);
    expect(outcome).toBe("completed");
    expect(issued).toEqual([{ orderId: "A-5", amount: 10 }]);
  });
});
