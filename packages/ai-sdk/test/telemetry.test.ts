import { type Auditor, createAuditor, MemoryStore } from "@audit/core";
import { generateText, registerTelemetry, stepCountIs, streamText, ToolLoopAgent, tool } from "ai";
import { convertArrayToReadableStream, MockLanguageModelV4 } from "ai/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { auditCall, auditTelemetry } from "../src/index.js";
import { answers, callsTool, runStarts, runTrail, usage } from "./helpers.js";

// The trail's shape (mapping only) is checked against the memory store; the approval tests use a
// real SQLite file shared with another process.
let audit: Auditor;
beforeEach(async () => {
  audit = await createAuditor({ store: new MemoryStore(), spool: false });
});
afterEach(async () => {
  await audit.close();
  (globalThis as { AI_SDK_TELEMETRY_INTEGRATIONS?: unknown[] }).AI_SDK_TELEMETRY_INTEGRATIONS = [];
});

const lookupOrder = tool({
  description: "Looks an order up",
  inputSchema: z.object({ orderId: z.string(), apiKey: z.string() }),
  execute: async ({ orderId }) => ({ orderId, total: 49, status: "shipped" }),
});

function twoStepModel() {
  return new MockLanguageModelV4({
    provider: "acme",
    modelId: "acme-large",
    doGenerate: [
      callsTool("tc-1", "lookupOrder", { orderId: "A-1", apiKey: "sk-live-1234567890abcdefghij" }),
      answers("Order A-1 has shipped."),
    ],
  });
}

describe("generateText", () => {
  it("records run, model calls with usage and the tool call, nested and scrubbed", async () => {
    const call = auditCall(audit, { agent: "support-bot", sessionId: "conv-1" });
    const result = await generateText({
      model: twoStepModel(),
      tools: { lookupOrder },
      prompt: "Where is order A-1?",
      stopWhen: stepCountIs(3),
      ...call,
    });
    expect(result.text).toBe("Order A-1 has shipped.");

    const events = await runTrail(audit, call.runId);
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    const [start, llm1, llm1End, toolStart, toolEnd, llm2, llm2End, end] = events as [
      (typeof events)[number],
      ...typeof events,
    ];
    expect(start.data).toMatchObject({
      agent: "support-bot",
      operation: "generateText",
      model: "acme-large",
      provider: "acme",
    });
    expect(start.data.callId).toMatch(/^call-/);
    expect(start.sessionId).toBe("conv-1");
    expect(start.actor).toBe("support-bot");
    // Every operation hangs under the run span; start and end share their span.
    const runSpan = start.spanId;
    expect(end?.spanId).toBe(runSpan);
    for (const e of [llm1, llm1End, toolStart, toolEnd, llm2, llm2End])
      expect(e?.parentSpanId).toBe(runSpan);
    expect(llm1End?.spanId).toBe(llm1?.spanId);
    expect(toolEnd?.spanId).toBe(toolStart?.spanId);
    expect(llm2?.spanId).not.toBe(llm1?.spanId);
    expect(new Set(events.map((e) => e.runId))).toEqual(new Set([call.runId]));

    expect(llm1End?.data).toMatchObject({
      model: "acme-large",
      provider: "acme",
      step: 0,
      finishReason: "tool-calls",
      inputTokens: 10,
      outputTokens: 5,
      totalTokens: 15,
    });
    expect(llm2End?.data).toMatchObject({ step: 1, finishReason: "stop", inputTokens: 20 });
    // Model content is not kept unless the auditor's privacy settings capture it.
    expect(llm1?.data.input).toBeUndefined();
    expect(llm1End?.data.output).toBeUndefined();

    // The secret the model put in the arguments never reaches the store.
    expect(toolStart?.data).toEqual({
      tool: "lookupOrder",
      callId: "tc-1",
      step: 0,
      args: { orderId: "A-1", apiKey: expect.stringMatching(/REDACTED/) },
    });
    expect(JSON.stringify(events)).not.toContain("sk-live-1234567890abcdefghij");
    expect(toolEnd?.data).toMatchObject({
      tool: "lookupOrder",
      callId: "tc-1",
      result: { orderId: "A-1", total: 49, status: "shipped" },
    });
    expect(end?.data).toMatchObject({
      status: "ok",
      output: "Order A-1 has shipped.",
      finishReason: "stop",
      steps: 2,
      usage: { inputTokens: 30, outputTokens: 12, totalTokens: 42 },
    });
  });

  it("keeps model content when the auditor captures it", async () => {
    await audit.close();
    audit = await createAuditor({
      store: new MemoryStore(),
      spool: false,
      privacy: { captureContent: true },
    });
    const call = auditCall(audit);
    await generateText({
      model: twoStepModel(),
      tools: { lookupOrder },
      prompt: "Where is A-1?",
      ...call,
    });
    const events = await runTrail(audit, call.runId);
    const llmEnd = events.find((e) => e.type === "llm.end");
    expect(llmEnd?.data.output).toEqual([
      expect.objectContaining({ type: "tool-call", toolName: "lookupOrder", toolCallId: "tc-1" }),
    ]);
    const llmStart = events.find((e) => e.type === "llm.start");
    expect(JSON.stringify(llmStart?.data.input)).toContain("Where is A-1?");
  });

  it("records a failing tool as tool.error and the run going on", async () => {
    const failing = tool({
      inputSchema: z.object({ orderId: z.string() }),
      execute: async (): Promise<string> => {
        throw new RangeError("order service timed out");
      },
    });
    const model = new MockLanguageModelV4({
      doGenerate: [callsTool("tc-9", "failing", { orderId: "A-9" }), answers("Sorry.")],
    });
    const call = auditCall(audit);
    await generateText({
      model,
      tools: { failing },
      prompt: "A-9?",
      stopWhen: stepCountIs(3),
      ...call,
    });
    const events = await runTrail(audit, call.runId);
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "tool.error",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    const error = events[4]!;
    expect(error.data).toMatchObject({
      tool: "failing",
      callId: "tc-9",
      errorType: "RangeError",
      error: { name: "RangeError", message: "order service timed out" },
    });
    expect(error.risk).toBe("medium");
    expect(events.at(-1)?.data.status).toBe("ok");
  });

  it("records a model that throws: the model span closes with an error and the run fails", async () => {
    const model = new MockLanguageModelV4({
      doGenerate: () => {
        throw new Error("provider overloaded");
      },
    });
    const call = auditCall(audit);
    await expect(generateText({ model, prompt: "hi", maxRetries: 0, ...call })).rejects.toThrow(
      "provider overloaded",
    );
    const events = await runTrail(audit, call.runId);
    expect(events.map((e) => e.type)).toEqual(["run.start", "llm.start", "llm.end", "run.end"]);
    expect(events[2]?.data).toMatchObject({ finishReason: "error" });
    expect(events[3]?.data).toMatchObject({
      status: "error",
      error: { message: "provider overloaded" },
    });
    expect(events[3]?.data.aborted).toBeUndefined();
    expect(events[3]?.risk).toBe("high");
  });

  it("nests a model call made inside a tool under that tool's span", async () => {
    const inner = new MockLanguageModelV4({
      modelId: "inner-model",
      doGenerate: [answers("summary")],
    });
    const summarize = tool({
      inputSchema: z.object({ text: z.string() }),
      execute: async ({ text }) => {
        const r = await generateText({ model: inner, prompt: `Summarize: ${text}` });
        return r.text;
      },
    });
    registerTelemetry(auditTelemetry(audit, { agent: "writer" }));
    const outer = new MockLanguageModelV4({
      modelId: "outer-model",
      doGenerate: [callsTool("tc-s", "summarize", { text: "long text" }), answers("done")],
    });
    await generateText({
      model: outer,
      tools: { summarize },
      prompt: "go",
      stopWhen: stepCountIs(3),
    });
    const [outerStart, innerStart] = await runStarts(audit);
    expect(outerStart?.data.model).toBe("outer-model");
    expect(innerStart?.data.model).toBe("inner-model");
    const outerEvents = await runTrail(audit, outerStart!.runId!);
    const toolSpan = outerEvents.find((e) => e.type === "tool.start")?.spanId;
    expect(innerStart?.parentSpanId).toBe(toolSpan);
    expect(innerStart?.runId).not.toBe(outerStart?.runId);
    const innerEvents = await runTrail(audit, innerStart!.runId!);
    expect(innerEvents.map((e) => e.type)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(outerEvents.at(-1)?.data.status).toBe("ok");
  });
});

function streamingModel(parts: unknown[]) {
  return new MockLanguageModelV4({
    modelId: "stream-model",
    doStream: async () => ({ stream: convertArrayToReadableStream(parts as never[]) }),
  });
}

describe("streamText", () => {
  it("records a completed stream like a generateText call", async () => {
    const model = new MockLanguageModelV4({
      modelId: "stream-model",
      doStream: [
        {
          stream: convertArrayToReadableStream([
            { type: "stream-start", warnings: [] },
            {
              type: "tool-call",
              toolCallId: "tc-s1",
              toolName: "lookupOrder",
              input: JSON.stringify({ orderId: "A-2", apiKey: "k" }),
            },
            {
              type: "finish",
              finishReason: { unified: "tool-calls", raw: "tool_calls" },
              usage: usage(11, 3),
            },
          ]),
        },
        {
          stream: convertArrayToReadableStream([
            { type: "stream-start", warnings: [] },
            { type: "text-start", id: "t1" },
            { type: "text-delta", id: "t1", delta: "Shipped" },
            { type: "text-delta", id: "t1", delta: " today." },
            { type: "text-end", id: "t1" },
            { type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: usage(13, 4) },
          ]),
        },
      ] as never,
    });
    const call = auditCall(audit, { agent: "streamer" });
    const result = streamText({
      model,
      tools: { lookupOrder },
      prompt: "A-2?",
      stopWhen: stepCountIs(3),
      ...call,
    });
    expect(await result.text).toBe("Shipped today.");
    const events = await runTrail(audit, call.runId);
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(events[0]?.data.operation).toBe("streamText");
    expect(events[2]?.data).toMatchObject({
      inputTokens: 11,
      outputTokens: 3,
      finishReason: "tool-calls",
    });
    expect(events[4]?.data.result).toEqual({ orderId: "A-2", total: 49, status: "shipped" });
    expect(events[7]?.data).toMatchObject({
      status: "ok",
      output: "Shipped today.",
      usage: { inputTokens: 24, outputTokens: 7 },
    });
  });

  it("records an aborted stream: open spans closed, run ended as aborted", async () => {
    const controller = new AbortController();
    let release: () => void = () => {};
    const hang = new Promise<void>((r) => {
      release = r;
    });
    const slowTool = tool({
      inputSchema: z.object({}),
      execute: async () => {
        controller.abort(new Error("user pressed stop"));
        await hang;
        return "late";
      },
    });
    const model = streamingModel([
      { type: "stream-start", warnings: [] },
      { type: "tool-call", toolCallId: "tc-slow", toolName: "slowTool", input: "{}" },
      {
        type: "finish",
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage: usage(5, 1),
      },
    ]);
    const call = auditCall(audit, { abortSignal: controller.signal });
    const result = streamText({ model, tools: { slowTool }, prompt: "go", ...call });
    for await (const _ of result.fullStream) {
      // drain until the SDK ends the stream on abort
    }
    release();
    const events = await runTrail(audit, call.runId);
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "tool.error",
      "run.end",
    ]);
    expect(events[4]?.data).toMatchObject({ tool: "slowTool", errorType: "AbortError" });
    expect(events[5]?.data).toMatchObject({
      status: "error",
      aborted: true,
      error: { name: "AbortError", message: "user pressed stop" },
    });
  });
});

describe("registration", () => {
  it("records calls through the global registration, without per-call options", async () => {
    registerTelemetry(auditTelemetry(audit, { agent: "global-bot" }));
    await generateText({
      model: twoStepModel(),
      tools: { lookupOrder },
      prompt: "A-1?",
      stopWhen: stepCountIs(3),
    });
    const [start] = await runStarts(audit);
    expect(start?.data.agent).toBe("global-bot");
    const events = await runTrail(audit, start!.runId!);
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
  });

  it("takes the agent name from the call's functionId", async () => {
    await generateText({
      model: twoStepModel(),
      tools: { lookupOrder },
      prompt: "A-1?",
      telemetry: { functionId: "order-desk", integrations: [auditTelemetry(audit)] },
    });
    const [start] = await runStarts(audit);
    expect(start?.data).toMatchObject({ agent: "order-desk", functionId: "order-desk" });
    expect(start?.actor).toBe("order-desk");
  });
});

describe("agents", () => {
  it("records each ToolLoopAgent call as a run, gated by the policy each time", async () => {
    const auditing = auditTelemetry(audit, {
      agent: "order-agent",
      policy: ({ args }) =>
        (args as { orderId: string }).orderId === "A-666"
          ? { decision: "deny", rule: "blocked-order" }
          : "allow",
    });
    const executed: string[] = [];
    const lookup = tool({
      inputSchema: z.object({ orderId: z.string() }),
      execute: async ({ orderId }) => {
        executed.push(orderId);
        return { orderId };
      },
    });
    const agent = new ToolLoopAgent({
      model: new MockLanguageModelV4({
        doGenerate: [
          callsTool("tc-a1", "lookup", { orderId: "A-1" }),
          answers("A-1 found"),
          callsTool("tc-a2", "lookup", { orderId: "A-666" }),
          answers("A-666 refused"),
        ],
      }),
      tools: { lookup },
      telemetry: { integrations: [auditing] },
      toolApproval: auditing.approveToolCall,
    });
    expect((await agent.generate({ prompt: "A-1?" })).text).toBe("A-1 found");
    expect((await agent.generate({ prompt: "A-666?" })).text).toBe("A-666 refused");
    expect(executed).toEqual(["A-1"]);
    const [first, second] = await runStarts(audit);
    expect(first?.data.agent).toBe("order-agent");
    expect(first?.runId).not.toBe(second?.runId);
    const t1 = await runTrail(audit, first!.runId!);
    expect(t1.map((e) => e.type)).toEqual([
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
    const t2 = await runTrail(audit, second!.runId!);
    expect(t2.map((e) => e.type)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "policy.decision",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(t2[3]?.data).toMatchObject({ decision: "deny", rule: "blocked-order", callId: "tc-a2" });
  });
});
