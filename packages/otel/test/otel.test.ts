import { type AuditEvent, Auditor, MemoryStore } from "@audit/core";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { OtelExporter, otelTraceContext } from "../src/index.js";

const memory = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
const tracer = provider.getTracer("test");
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
afterAll(async () => {
  await provider.shutdown();
  context.disable();
});
beforeEach(() => memory.reset());

const toMs = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: ReadableSpan[], name: string) => {
  const found = byName(spans, name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe("spans from an agent run", () => {
  it("maps a run with nested tool and model calls, a failed tool, a denied policy and an approval", async () => {
    const store = new MemoryStore();
    const exporter = new OtelExporter({ tracer });
    const audit = new Auditor({
      store,
      spool: false,
      exporters: [exporter],
      batch: { maxDelayMs: 1 },
    });
    const run = audit.startRun({
      agent: "support-bot",
      sessionId: "conv-7",
      input: "refund please",
    });
    await run.tool("search", { q: "refund policy" }, async () => {
      await new Promise((r) => setTimeout(r, 30));
      return ["doc"];
    });
    run.llm({
      model: "gpt-x",
      provider: "openai",
      inputTokens: 120,
      outputTokens: 30,
      durationMs: 25,
      finishReason: "stop",
    });
    await run
      .tool("refund", { amount: 900 }, () => Promise.reject(new RangeError("limit exceeded")))
      .catch(() => undefined);
    run.policy({ policy: "refunds", decision: "deny", rule: "over-500" });
    const approvalId = run.requestApproval({ action: "refund", reason: "over limit" });
    await run.end({ output: "escalated" });
    await audit.flush();
    await audit.close();
    const events = await store.query();
    const spans = memory.getFinishedSpans();

    const runSpan = one(spans, "invoke_agent support-bot");
    expect(runSpan.attributes).toMatchObject({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": "support-bot",
      "gen_ai.conversation.id": "conv-7",
      "audit.run.id": run.runId,
      "audit.event.id": run.startEvent.id,
    });
    expect(runSpan.attributes["audit.chain.id"]).toBe(run.startEvent.chain!.id);
    expect(runSpan.attributes["gen_ai.input.messages"]).toBeUndefined();
    expect(runSpan.status.code).toBe(SpanStatusCode.OK);
    const start = events.find((e) => e.type === "run.start")!;
    const end = events.find((e) => e.type === "run.end")!;
    expect(toMs(runSpan.startTime)).toBe(Date.parse(start.time));
    expect(toMs(runSpan.endTime)).toBe(Date.parse(end.time));

    const search = one(spans, "execute_tool search");
    expect(parentOf(search)).toBe(runSpan.spanContext().spanId);
    expect(search.spanContext().traceId).toBe(runSpan.spanContext().traceId);
    expect(search.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "search",
    });
    const toolStart = events.find((e) => e.type === "tool.start" && e.data.tool === "search")!;
    const toolEnd = events.find((e) => e.type === "tool.end")!;
    expect(search.attributes["gen_ai.tool.call.id"]).toBe(toolStart.data.callId);
    expect(toMs(search.startTime)).toBe(Date.parse(toolStart.time));
    expect(toMs(search.endTime)).toBe(Date.parse(toolEnd.time));
    expect(toMs(search.endTime) - toMs(search.startTime)).toBeGreaterThanOrEqual(25);

    const chat = one(spans, "chat gpt-x");
    expect(parentOf(chat)).toBe(runSpan.spanContext().spanId);
    expect(chat.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-x",
      "gen_ai.usage.input_tokens": 120,
      "gen_ai.usage.output_tokens": 30,
      "gen_ai.response.finish_reasons": "stop",
    });
    expect(toMs(chat.endTime) - toMs(chat.startTime)).toBe(25);

    const refund = one(spans, "execute_tool refund");
    expect(parentOf(refund)).toBe(runSpan.spanContext().spanId);
    expect(refund.status.code).toBe(SpanStatusCode.ERROR);
    expect(refund.status.message).toBe("limit exceeded");
    expect(refund.attributes["error.type"]).toBe("RangeError");
    expect(refund.events.map((e) => e.name)).toContain("exception");

    const names = runSpan.events.map((e) => e.name);
    expect(names).toEqual(["audit.policy.decision", "audit.approval.request"]);
    expect(runSpan.events[0]!.attributes).toMatchObject({
      "audit.policy.decision": "deny",
      "audit.policy.rule": "over-500",
    });
    expect(runSpan.events[1]!.attributes).toMatchObject({
      "audit.approval.id": approvalId,
      "audit.approval.action": "refund",
    });
    expect(spans).toHaveLength(4);
  });

  it("marks a failed run ERROR with error.type", async () => {
    const exporter = new OtelExporter({ tracer });
    const audit = new Auditor({ store: new MemoryStore(), spool: false, exporters: [exporter] });
    await audit
      .withRun({ agent: "bot" }, async () => {
        throw new TypeError("bad input");
      })
      .catch(() => undefined);
    await audit.close();
    const run = one(memory.getFinishedSpans(), "invoke_agent bot");
    expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: "bad input" });
    expect(run.attributes["error.type"]).toBe("TypeError");
  });

  it("puts content into attributes only when asked", async () => {
    const exporter = new OtelExporter({ tracer, captureContent: true });
    const audit = new Auditor({
      store: new MemoryStore(),
      spool: false,
      exporters: [exporter],
      privacy: { captureContent: true },
    });
    await audit.withRun({ agent: "bot", input: "hello" }, async (run) => {
      await run.tool("echo", { text: "hi" }, () => "hi");
      return "bye";
    });
    await audit.close();
    const spans = memory.getFinishedSpans();
    expect(one(spans, "invoke_agent bot").attributes).toMatchObject({
      "gen_ai.input.messages": "hello",
      "gen_ai.output.messages": "bye",
    });
    expect(one(spans, "execute_tool echo").attributes).toMatchObject({
      "gen_ai.tool.call.arguments": '{"text":"hi"}',
      "gen_ai.tool.call.result": "hi",
    });
  });
});

describe("robustness", () => {
  function events(): AuditEvent[] {
    const base = Date.parse("2026-01-01T00:00:00.000Z");
    const at = (ms: number) => new Date(base + ms).toISOString();
    return [
      {
        id: "e1",
        type: "run.start",
        time: at(0),
        runId: "r",
        spanId: "aaaaaaaaaaaaaaaa",
        actor: "bot",
        data: { agent: "bot" },
      },
      {
        id: "e2",
        type: "tool.start",
        time: at(10),
        runId: "r",
        spanId: "bbbbbbbbbbbbbbbb",
        parentSpanId: "aaaaaaaaaaaaaaaa",
        data: { tool: "t", callId: "c" },
      },
      {
        id: "e3",
        type: "tool.end",
        time: at(50),
        runId: "r",
        spanId: "bbbbbbbbbbbbbbbb",
        parentSpanId: "aaaaaaaaaaaaaaaa",
        data: { tool: "t", callId: "c", durationMs: 40 },
      },
      {
        id: "e4",
        type: "run.end",
        time: at(60),
        runId: "r",
        spanId: "aaaaaaaaaaaaaaaa",
        data: { status: "ok", durationMs: 60 },
      },
    ];
  }

  it("ignores duplicate events and does not corrupt spans with out-of-order ones", async () => {
    const exporter = new OtelExporter({ tracer });
    const [runStart, toolStart, toolEnd, runEnd] = events();
    // The end of the tool arrives first, then everything twice.
    await exporter.export([runStart!, toolEnd!]);
    await exporter.export([toolStart!, toolEnd!, runStart!]);
    await exporter.export([runEnd!, runEnd!]);
    const spans = memory.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(["execute_tool t", "invoke_agent bot"]);
    const tool = one(spans, "execute_tool t");
    expect(toMs(tool.startTime)).toBe(Date.parse(toolStart!.time));
    expect(toMs(tool.endTime)).toBe(Date.parse(toolEnd!.time));
    expect(exporter.openSpans).toBe(0);
  });

  it("closes runs whose end never arrives on shutdown, with an explicit status", async () => {
    const exporter = new OtelExporter({ tracer });
    const [runStart, toolStart] = events();
    await exporter.export([runStart!, toolStart!]);
    expect(memory.getFinishedSpans()).toHaveLength(0);
    await exporter.shutdown();
    await exporter.shutdown();
    const spans = memory.getFinishedSpans();
    expect(spans).toHaveLength(2);
    for (const s of spans) {
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.attributes).toMatchObject({
        "audit.unfinished": true,
        "error.type": "audit.unfinished",
      });
    }
    await expect(exporter.export(events())).rejects.toThrow(/after shutdown/);
  });

  it("does not touch the global tracer provider", async () => {
    const before = trace.getTracerProvider();
    new OtelExporter({ tracer });
    const { createOtlpExporter } = await import("../src/index.js");
    const otlp = createOtlpExporter({ url: "http://127.0.0.1:9/v1/traces" });
    expect(trace.getTracerProvider()).toBe(before);
    await otlp.shutdown().catch(() => undefined);
  });
});

describe("trace correlation", () => {
  it("gives events recorded inside an active span its trace id and parents the run under it", async () => {
    const exporter = new OtelExporter({ tracer });
    const audit = new Auditor({
      store: new MemoryStore(),
      spool: false,
      exporters: [exporter],
      traceContext: otelTraceContext,
    });
    let outerTrace = "";
    let outerSpan = "";
    await tracer.startActiveSpan("http.request", async (outer) => {
      outerTrace = outer.spanContext().traceId;
      outerSpan = outer.spanContext().spanId;
      await audit.withRun({ agent: "inner" }, async (run) => {
        await run.tool("lookup", {}, () => 1);
      });
      outer.end();
    });
    await audit.close();
    const spans = memory.getFinishedSpans();
    const run = one(spans, "invoke_agent inner");
    expect(run.spanContext().traceId).toBe(outerTrace);
    expect(parentOf(run)).toBe(outerSpan);
    expect(one(spans, "execute_tool lookup").spanContext().traceId).toBe(outerTrace);
    const stored = await (audit.store as MemoryStore).query();
    for (const e of stored.filter((x) => x.type !== "audit.checkpoint"))
      expect(e.traceId).toBe(outerTrace);
  });
});
