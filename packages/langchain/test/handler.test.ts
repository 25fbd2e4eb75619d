import { type Auditor, createAuditor, MemoryStore, uuidv7 } from "@audit/core";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { CallbackManager } from "@langchain/core/callbacks/manager";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { Document } from "@langchain/core/documents";
import { BaseRetriever } from "@langchain/core/retrievers";
import { RunnableLambda } from "@langchain/core/runnables";
import { fakeModel } from "@langchain/core/testing";
import { tool } from "@langchain/core/tools";
import { createAgent } from "langchain";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { AuditCallbackHandler } from "../src/index.js";
import { answers, callsTool, refundTool, runStarts, runTrail, types } from "./helpers.js";

// Mapping only: the memory store. The approval tests use a real SQLite file shared with another
// process.
let audit: Auditor;
beforeEach(async () => {
  audit = await createAuditor({ store: new MemoryStore(), spool: false });
});
afterEach(async () => {
  await awaitAllCallbacks();
  await audit.close();
});

const lookup = tool(
  async ({ orderId }: { orderId: string; password: string }) =>
    JSON.stringify({ orderId, status: "shipped" }),
  {
    name: "lookup_order",
    description: "Looks an order up",
    schema: z.object({ orderId: z.string(), password: z.string() }),
  },
);

function twoStepAgent() {
  const model = fakeModel()
    .respond(callsTool("tc-1", "lookup_order", { orderId: "A-1", password: "hunter2-secret" }))
    .respond(answers("A-1 has shipped."));
  return createAgent({ model, tools: [lookup] });
}

describe("AuditCallbackHandler on a createAgent run (awaited mode)", () => {
  it("records the run, model calls with usage and the tool call, with LangChain's ids", async () => {
    const handler = new AuditCallbackHandler(audit, { agent: "support-bot", awaitHandlers: true });
    const runId = uuidv7();
    const result = await twoStepAgent().invoke(
      { messages: [{ role: "user", content: "Where is A-1?" }] },
      { callbacks: [handler], runId, configurable: { thread_id: "conv-7" } },
    );
    expect(result.messages.at(-1)?.content).toBe("A-1 has shipped.");

    // Awaited mode: the trail is complete when invoke returns, without awaitAllCallbacks.
    const events = await runTrail(audit, runId);
    expect(types(events)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "tool.end",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    const [start, llm1, llm1End, toolStart, toolEnd, , llm2End, end] = events;
    expect(start?.data).toMatchObject({
      agent: "support-bot",
      runName: "LangGraph",
      threadId: "conv-7",
    });
    expect(start?.sessionId).toBe("conv-7");
    expect(start?.actor).toBe("support-bot");
    const runSpan = start?.spanId;
    expect(end?.spanId).toBe(runSpan);
    for (const e of events.slice(1, -1)) expect(e.parentSpanId).toBe(runSpan);
    // LangChain's run ids are the span ids: start and end share theirs.
    expect(llm1?.spanId).toMatch(/^[0-9a-f-]{36}$/);
    expect(llm1End?.spanId).toBe(llm1?.spanId);
    expect(toolEnd?.spanId).toBe(toolStart?.spanId);

    expect(llm1End?.data).toMatchObject({
      model: "fake-large",
      inputTokens: 10,
      outputTokens: 4,
      totalTokens: 14,
      finishReason: "tool_calls",
    });
    expect(llm2End?.data).toMatchObject({ inputTokens: 20, outputTokens: 6, finishReason: "stop" });
    expect(llm1End?.data.output).toBeUndefined(); // model content is off by default
    expect(toolStart?.data).toEqual({
      tool: "lookup_order",
      callId: "tc-1",
      args: { orderId: "A-1", password: expect.stringMatching(/REDACTED/) },
    });
    expect(JSON.stringify(events)).not.toContain("hunter2-secret");
    expect(toolEnd?.data).toMatchObject({
      tool: "lookup_order",
      callId: "tc-1",
      result: JSON.stringify({ orderId: "A-1", status: "shipped" }),
    });
    expect(end?.data).toMatchObject({ status: "ok", output: "A-1 has shipped." });
  });

  it("records nested chains as spans when asked, the tool under the tools node", async () => {
    const handler = new AuditCallbackHandler(audit, { chains: true, awaitHandlers: true });
    const runId = uuidv7();
    await twoStepAgent().invoke(
      { messages: [{ role: "user", content: "A-1?" }] },
      { callbacks: [handler], runId },
    );
    const events = await runTrail(audit, runId);
    const toolStart = events.find((e) => e.type === "tool.start");
    const toolsNode = events.find((e) => e.type === "chain.start" && e.data.chain === "tools");
    expect(toolsNode).toBeDefined();
    expect(toolStart?.parentSpanId).toBe(toolsNode?.spanId);
    const modelNode = events.find(
      (e) => e.type === "chain.start" && e.data.chain === "model_request",
    );
    expect(events.find((e) => e.type === "llm.start")?.parentSpanId).toBe(modelNode?.spanId);
    expect(modelNode?.parentSpanId).toBe(events[0]?.spanId);
    // Every chain that starts also ends.
    const started = events.filter((e) => e.type === "chain.start").map((e) => e.spanId);
    const ended = events.filter((e) => e.type === "chain.end").map((e) => e.spanId);
    expect(new Set(ended)).toEqual(new Set(started));
  });
});

describe("background mode (LangChain's default)", () => {
  it("completes the trail once awaitAllCallbacks has drained LangChain's queue", async () => {
    const handler = new AuditCallbackHandler(audit);
    expect(handler.awaitHandlers).toBe(false);
    const runId = uuidv7();
    await twoStepAgent().invoke(
      { messages: [{ role: "user", content: "A-1?" }] },
      { callbacks: [handler], runId },
    );
    await awaitAllCallbacks();
    const events = await runTrail(audit, runId);
    expect(types(events)).toEqual([
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
});

describe("failures", () => {
  it("records a tool that throws as tool.error and the run going on", async () => {
    const broken = tool(
      async (): Promise<string> => {
        throw new RangeError("order service timed out");
      },
      { name: "broken", description: "fails", schema: z.object({ orderId: z.string() }) },
    );
    const model = fakeModel()
      .respond(callsTool("tc-b", "broken", { orderId: "A-9" }))
      .respond(answers("Sorry."));
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    const runId = uuidv7();
    await createAgent({ model, tools: [broken] }).invoke(
      { messages: [{ role: "user", content: "A-9?" }] },
      { callbacks: [handler], runId },
    );
    const events = await runTrail(audit, runId);
    expect(types(events)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "tool.error",
      "llm.start",
      "llm.end",
      "run.end",
    ]);
    expect(events[4]).toMatchObject({
      risk: "medium",
      data: {
        tool: "broken",
        callId: "tc-b",
        errorType: "RangeError",
        error: { message: "order service timed out" },
      },
    });
    expect(events.at(-1)?.data.status).toBe("ok");
  });

  it("records a model that throws: its span closes with the error and the run fails", async () => {
    const model = fakeModel().alwaysThrow(new Error("provider overloaded"));
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    const runId = uuidv7();
    await expect(
      createAgent({ model, tools: [lookup] }).invoke(
        { messages: [{ role: "user", content: "hi" }] },
        { callbacks: [handler], runId },
      ),
    ).rejects.toThrow("provider overloaded");
    const events = await runTrail(audit, runId);
    expect(types(events)).toEqual(["run.start", "llm.start", "llm.end", "run.end"]);
    expect(events[2]?.data).toMatchObject({
      finishReason: "error",
      error: { message: "provider overloaded" },
    });
    expect(events[3]).toMatchObject({
      risk: "high",
      data: { status: "error", error: { message: "provider overloaded" } },
    });
  });

  it("records an aborted run", async () => {
    const controller = new AbortController();
    const slow = tool(
      async () => {
        controller.abort();
        await new Promise((r) => setTimeout(r, 200));
        return "late";
      },
      { name: "slow", description: "slow", schema: z.object({}) },
    );
    const model = fakeModel()
      .respond(callsTool("tc-s", "slow", {}))
      .respond(answers("never"));
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    const runId = uuidv7();
    await expect(
      createAgent({ model, tools: [slow] }).invoke(
        { messages: [{ role: "user", content: "go" }] },
        { callbacks: [handler], runId, signal: controller.signal },
      ),
    ).rejects.toThrow();
    const events = await runTrail(audit, runId);
    expect(types(events)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "tool.start",
      "tool.error",
      "run.end",
    ]);
    expect(events.at(-1)?.data).toMatchObject({ status: "error", aborted: true });
  });
});

describe("runs without a chain around them", () => {
  it("records a bare chat-model call as a run of its own", async () => {
    const handler = new AuditCallbackHandler(audit, { agent: "summarizer", awaitHandlers: true });
    const model = fakeModel().respond(answers("short", [7, 2]));
    await model.invoke("Summarize this", { callbacks: [handler] });
    const [start] = await runStarts(audit);
    const events = await runTrail(audit, start!.runId!);
    expect(types(events)).toEqual(["run.start", "llm.start", "llm.end", "run.end"]);
    expect(events[2]?.data).toMatchObject({
      inputTokens: 7,
      outputTokens: 2,
      finishReason: "stop",
    });
    expect(events[1]?.parentSpanId).toBe(start?.spanId);
  });

  it("records a model the handler was attached to inside a chain it never saw", async () => {
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    const model = fakeModel()
      .respond(answers("inner", [3, 1]))
      .withConfig({ callbacks: [handler] });
    const outerRunId = uuidv7();
    const outer = RunnableLambda.from(async (text: string, config) => model.invoke(text, config));
    // Another handler on the outer chain, so LangChain tracks it as the model's parent.
    const other = BaseCallbackHandler.fromMethods({ handleChainStart() {} });
    await outer.invoke("hello", { runId: outerRunId, callbacks: [other] });
    const [start] = await runStarts(audit);
    expect(start?.parentSpanId).toBe(outerRunId);
    const events = await runTrail(audit, start!.runId!);
    expect(types(events)).toEqual(["run.start", "llm.start", "llm.end", "run.end"]);
    expect(events[2]?.data).toMatchObject({ inputTokens: 3, outputTokens: 1 });
  });

  it("records a bare tool call, its arguments and result", async () => {
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    const { refund, issued } = refundTool();
    await refund.invoke({ orderId: "A-2", amount: 12 }, { callbacks: [handler] });
    expect(issued).toHaveLength(1);
    const [start] = await runStarts(audit);
    const events = await runTrail(audit, start!.runId!);
    expect(types(events)).toEqual(["run.start", "tool.start", "tool.end", "run.end"]);
    expect(events[1]?.data).toMatchObject({ tool: "refund", args: { orderId: "A-2", amount: 12 } });
    expect(events[2]?.data).toMatchObject({ result: "refunded 12 on A-2" });
    expect(events[3]?.data).toMatchObject({ status: "ok", output: "refunded 12 on A-2" });
  });

  it("records a retriever", async () => {
    class OrderDocs extends BaseRetriever {
      override lc_namespace = ["test", "retrievers"];
      override async _getRelevantDocuments(query: string) {
        return [new Document({ pageContent: `policy for ${query}`, metadata: { source: "kb/1" } })];
      }
    }
    const handler = new AuditCallbackHandler(audit, { awaitHandlers: true });
    await new OrderDocs().invoke("refunds", { callbacks: [handler] });
    const [start] = await runStarts(audit);
    const events = await runTrail(audit, start!.runId!);
    expect(types(events)).toEqual(["run.start", "retriever.start", "retriever.end", "run.end"]);
    expect(events[1]?.data).toMatchObject({ retriever: "OrderDocs", input: "refunds" });
    expect(events[2]?.data).toMatchObject({
      documents: 1,
      result: [{ pageContent: "policy for refunds", metadata: { source: "kb/1" } }],
    });
  });

  it("records agent actions and finishes reported through LangChain's callback manager", async () => {
    const handler = new AuditCallbackHandler(audit, { agent: "legacy", awaitHandlers: true });
    const manager = CallbackManager.configure([handler]);
    const runManager = await manager!.handleChainStart(
      { lc: 1, type: "not_implemented", id: ["AgentExecutor"] },
      { input: "A-1?" },
    );
    await runManager.handleAgentAction({
      tool: "lookup_order",
      toolInput: { orderId: "A-1" },
      log: "looking up",
    });
    await runManager.handleAgentEnd({ returnValues: { output: "shipped" }, log: "done" });
    await runManager.handleChainEnd({ output: "shipped" });
    const [start] = await runStarts(audit);
    const events = await runTrail(audit, start!.runId!);
    expect(types(events)).toEqual(["run.start", "agent.action", "agent.finish", "run.end"]);
    expect(events[1]?.data).toEqual({
      tool: "lookup_order",
      args: { orderId: "A-1" },
      log: "looking up",
    });
    expect(events[2]?.data).toMatchObject({ output: { output: "shipped" } });
    expect(events[1]?.parentSpanId).toBe(start?.spanId);
  });
});
