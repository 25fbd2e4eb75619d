import { readFileSync } from "node:fs";
import { type AuditError, type AuditEvent, Auditor, MemoryStore, newSpanId } from "@audit/core";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
} from "@opentelemetry/sdk-logs";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Ajv } from "ajv";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { auditIdGenerator, OtelExporter, otelTraceContext } from "../src/index.js";
import { inputMessages, outputMessages } from "../src/messages.js";

// The conventions' own JSON schemas for the message attributes (see fixtures/README.md).
const schema = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));
const ajv = new Ajv({ strict: false, allErrors: true });
const validInput = ajv.compile(schema("gen-ai-input-messages.json"));
const validOutput = ajv.compile(schema("gen-ai-output-messages.json"));

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
    // Instrumentation leaves the status unset on success.
    expect(runSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect(runSpan.kind).toBe(SpanKind.INTERNAL);
    expect(runSpan.attributes["gen_ai.provider.name"]).toBe("openai");
    // The tracer's provider does not use the audit id generator: the audit id rides along.
    expect(runSpan.attributes["audit.span.id"]).toBe(run.spanId);
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
      "gen_ai.response.finish_reasons": ["stop"],
    });
    expect(chat.kind).toBe(SpanKind.CLIENT);
    expect(toMs(chat.endTime) - toMs(chat.startTime)).toBe(25);

    const refund = one(spans, "execute_tool refund");
    expect(parentOf(refund)).toBe(runSpan.spanContext().spanId);
    expect(refund.status.code).toBe(SpanStatusCode.ERROR);
    expect(refund.status.message).toBe("limit exceeded");
    expect(refund.attributes["error.type"]).toBe("RangeError");
    const exception = refund.events.find((e) => e.name === "exception")!;
    expect(exception.attributes).toMatchObject({
      "exception.type": "RangeError",
      "exception.message": "limit exceeded",
    });
    expect(String(exception.attributes!["exception.stacktrace"])).toMatch(/^RangeError: limit/);
    expect(search.status.code).toBe(SpanStatusCode.UNSET);

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
    expect(run.attributes["audit.risk"]).toBe("high");
    const exception = run.events.find((e) => e.name === "exception")!;
    expect(exception.attributes!["exception.type"]).toBe("TypeError");
    expect(String(exception.attributes!["exception.stacktrace"])).toContain("TypeError: bad input");
  });

  it("puts content into attributes only when asked, as the conventions' message schema", async () => {
    const exporter = new OtelExporter({ tracer, captureContent: true });
    const audit = new Auditor({
      store: new MemoryStore(),
      spool: false,
      exporters: [exporter],
      privacy: { captureContent: true },
    });
    await audit.withRun({ agent: "bot", input: "hello" }, async (run) => {
      await run.tool("echo", { text: "hi" }, () => "hi");
      run.llm({
        model: "m",
        provider: "openai",
        durationMs: 1,
        finishReason: "tool_call",
        input: [
          { role: "system", content: "be brief" },
          { role: "user", content: "weather in Paris?" },
        ],
        output: {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "weather", arguments: '{"city":"Paris"}' },
            },
          ],
        },
      });
      return "bye";
    });
    await audit.close();
    const spans = memory.getFinishedSpans();
    const agent = one(spans, "invoke_agent bot");
    const input = JSON.parse(String(agent.attributes["gen_ai.input.messages"]));
    expect(input).toEqual([{ role: "user", parts: [{ type: "text", content: "hello" }] }]);
    expect(validInput(input), JSON.stringify(validInput.errors)).toBe(true);
    const output = JSON.parse(String(agent.attributes["gen_ai.output.messages"]));
    expect(output).toEqual([
      { role: "assistant", parts: [{ type: "text", content: "bye" }], finish_reason: "stop" },
    ]);
    expect(validOutput(output), JSON.stringify(validOutput.errors)).toBe(true);

    const chat = one(spans, "chat m");
    const chatInput = JSON.parse(String(chat.attributes["gen_ai.input.messages"]));
    expect(chatInput.map((m: { role: string }) => m.role)).toEqual(["system", "user"]);
    expect(validInput(chatInput), JSON.stringify(validInput.errors)).toBe(true);
    const chatOutput = JSON.parse(String(chat.attributes["gen_ai.output.messages"]));
    expect(chatOutput).toEqual([
      {
        role: "assistant",
        parts: [{ type: "tool_call", id: "call_1", name: "weather", arguments: { city: "Paris" } }],
        finish_reason: "tool_call",
      },
    ]);
    expect(validOutput(chatOutput), JSON.stringify(validOutput.errors)).toBe(true);

    expect(one(spans, "execute_tool echo").attributes).toMatchObject({
      "gen_ai.tool.call.arguments": '{"text":"hi"}',
      "gen_ai.tool.call.result": "hi",
    });
  });

  it("leaves content out by default", async () => {
    const exporter = new OtelExporter({ tracer });
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
    for (const s of memory.getFinishedSpans()) {
      for (const key of Object.keys(s.attributes)) {
        expect(key).not.toMatch(/messages|arguments|result/);
      }
    }
  });
});

describe("messages in the conventions' schema", () => {
  const cases: [string, unknown][] = [
    ["a plain string", "hi"],
    ["a number", 42],
    ["an arbitrary object", { query: "x", limit: 3 }],
    ["a prompt object", { messages: [{ role: "user", content: "x" }] }],
    [
      "Anthropic-style blocks",
      [
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "hmm" },
            { type: "text", text: "calling" },
            { type: "tool_use", id: "tu_1", name: "search", input: { q: "x" } },
          ],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "tu_1", content: "found" }] },
      ],
    ],
    [
      "OpenAI-style tool round trip",
      [
        { role: "assistant", tool_calls: [{ id: "c", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c", content: "42" },
      ],
    ],
    [
      "an image part",
      [{ role: "user", content: [{ type: "image_url", image_url: { url: "u" } }] }],
    ],
    ["messages already in shape", [{ role: "user", parts: [{ type: "text", content: "x" }] }]],
  ];
  for (const [what, value] of cases) {
    it(`translates ${what} into valid input and output messages`, () => {
      const input = inputMessages(value);
      expect(validInput(input), JSON.stringify(validInput.errors)).toBe(true);
      const output = outputMessages(value, "stop");
      expect(validOutput(output), JSON.stringify(validOutput.errors)).toBe(true);
    });
  }

  it("keeps tool calls and their answers as typed parts", () => {
    const input = inputMessages(cases[4]![1]);
    expect(input[0]!.parts.map((p) => p.type)).toEqual(["reasoning", "text", "tool_call"]);
    expect(input[0]!.parts[2]).toEqual({
      type: "tool_call",
      id: "tu_1",
      name: "search",
      arguments: { q: "x" },
    });
    expect(input[1]!.parts[0]).toEqual({
      type: "tool_call_response",
      id: "tu_1",
      response: "found",
    });
    const openai = inputMessages(cases[5]![1]);
    expect(openai[1]).toEqual({
      role: "tool",
      parts: [{ type: "tool_call_response", id: "c", response: "42" }],
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

describe("ids that join up", () => {
  it("exports the audit span ids as the span ids when the provider uses the audit id generator", async () => {
    const finished = new InMemorySpanExporter();
    const own = new BasicTracerProvider({
      idGenerator: auditIdGenerator,
      spanProcessors: [new SimpleSpanProcessor(finished)],
    });
    const exporter = new OtelExporter({ tracer: own.getTracer("t") });
    const store = new MemoryStore();
    const audit = new Auditor({ store, spool: false, exporters: [exporter] });
    await audit.withRun({ agent: "same-ids" }, async (run) => {
      await run.tool("t", {}, () => 1);
      run.llm({ model: "m", durationMs: 1 });
    });
    await audit.close();
    const events = await store.query();
    const spans = finished.getFinishedSpans();
    expect(spans).toHaveLength(3);
    for (const s of spans) {
      const event = events.find((e) => e.id === s.attributes["audit.event.id"])!;
      expect(s.spanContext().spanId).toBe(event.spanId);
      expect(s.spanContext().traceId).toBe(event.runId!.replaceAll("-", ""));
      expect(s.attributes["audit.span.id"]).toBeUndefined();
    }
    await own.shutdown();
  });

  it("does not export a run inside an unsampled application span", async () => {
    const app = new BasicTracerProvider({ sampler: new AlwaysOffSampler() }).getTracer("app");
    const exporter = new OtelExporter({ tracer });
    const audit = new Auditor({
      store: new MemoryStore(),
      spool: false,
      exporters: [exporter],
      traceContext: otelTraceContext,
    });
    await app.startActiveSpan("unsampled", async (span) => {
      await audit.withRun({ agent: "hidden" }, async (run) => {
        await run.tool("t", {}, () => 1);
      });
      span.end();
    });
    await audit.withRun({ agent: "shown" }, async () => 1);
    await audit.close();
    expect(memory.getFinishedSpans().map((s) => s.name)).toEqual(["invoke_agent shown"]);
  });

  it("hangs an approval resolved after its run ended under that run", async () => {
    const exporter = new OtelExporter({ tracer });
    const audit = new Auditor({ store: new MemoryStore(), spool: false, exporters: [exporter] });
    const run = audit.startRun({ agent: "asker" });
    const approvalId = run.requestApproval({ action: "deploy" });
    await run.end();
    await audit.flush();
    const resolution = await audit.approvals.resolve(approvalId, {
      outcome: "deny",
      resolvedBy: "bob",
      comment: "not on a Friday",
    });
    // Core writes resolutions straight to the store and does not hand them to exporters yet.
    await exporter.export([resolution]);
    await audit.close();
    const spans = memory.getFinishedSpans();
    const agent = one(spans, "invoke_agent asker");
    const resolved = one(spans, "approval.resolve");
    expect(parentOf(resolved)).toBe(agent.spanContext().spanId);
    expect(resolved.spanContext().traceId).toBe(agent.spanContext().traceId);
    expect(resolved.events[0]!.name).toBe("audit.approval.resolve");
    expect(resolved.events[0]!.attributes).toMatchObject({
      "audit.approval.id": approvalId,
      "audit.approval.outcome": "deny",
      "audit.approval.resolved_by": "bob",
      "audit.approval.comment": "not on a Friday",
      "audit.risk": "high",
    });
  });

  it("exports an event recorded outside any run as a span of its own", async () => {
    const exporter = new OtelExporter({ tracer });
    const audit = new Auditor({ store: new MemoryStore(), spool: false, exporters: [exporter] });
    audit.record({ type: "config.change", data: { key: "limit" }, risk: "medium" });
    await audit.close();
    const span = one(memory.getFinishedSpans(), "config.change");
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.attributes).toMatchObject({
      "audit.event.type": "config.change",
      "audit.risk": "medium",
    });
    expect(span.events.map((e) => e.name)).toEqual(["audit.config.change"]);
  });
});

describe("bounded memory", () => {
  it("ends the oldest runs past maxOpenRuns, counts them, and keeps late events under them", async () => {
    const errors: AuditError[] = [];
    const exporter = new OtelExporter({ tracer, maxOpenRuns: 3, onError: (e) => errors.push(e) });
    const audit = new Auditor({ store: new MemoryStore(), spool: false, exporters: [exporter] });
    const runs = Array.from({ length: 5 }, (_, i) => audit.startRun({ agent: `r${i}` }));
    await audit.flush();
    expect(exporter.stats()).toMatchObject({ openRuns: 3, runsEvicted: 2 });
    // The evicted run goes on: its events still land under its span, and no second span opens.
    runs[0]!.policy({ policy: "p", decision: "allow" });
    await runs[0]!.end();
    for (const r of runs.slice(1)) await r.end();
    await audit.close();
    const spans = memory.getFinishedSpans();
    const first = one(spans, "invoke_agent r0");
    expect(first.attributes).toMatchObject({
      "audit.unfinished": true,
      "audit.unfinished.reason": "evicted",
    });
    expect(first.status.code).toBe(SpanStatusCode.ERROR);
    expect(parentOf(one(spans, "policy.decision"))).toBe(first.spanContext().spanId);
    expect(one(spans, "invoke_agent r4").attributes["audit.unfinished"]).toBeUndefined();
    expect(errors.filter((e) => /evict/.test(e.message))).toHaveLength(1);
    expect(exporter.stats()).toMatchObject({ openRuns: 0, openSpans: 0, runsEvicted: 2 });
  });

  it("ends runs and their calls older than maxRunAgeMs", async () => {
    const exporter = new OtelExporter({ tracer, maxRunAgeMs: 50, onError: () => undefined });
    const audit = new Auditor({ store: new MemoryStore(), spool: false, exporters: [exporter] });
    const old = audit.startRun({ agent: "old" });
    // A tool call whose end never comes.
    audit.record({
      type: "tool.start",
      runId: old.runId,
      spanId: newSpanId(),
      parentSpanId: old.spanId,
      data: { tool: "stuck", callId: "c1" },
    });
    await audit.flush();
    expect(exporter.stats()).toMatchObject({ openRuns: 1, openSpans: 2 });
    await new Promise((r) => setTimeout(r, 80));
    const young = audit.startRun({ agent: "young" });
    await audit.flush();
    expect(exporter.stats()).toMatchObject({
      openRuns: 1,
      openSpans: 1,
      runsEvicted: 1,
      spansEvicted: 1,
    });
    await young.end();
    await audit.close();
    const spans = memory.getFinishedSpans();
    expect(one(spans, "execute_tool stuck").attributes["audit.unfinished.reason"]).toBe("evicted");
    expect(one(spans, "invoke_agent old").attributes["audit.unfinished.reason"]).toBe("evicted");
  });

  it("holds at most maxOpenRuns runs under a flood of runs that never end", async () => {
    const exporter = new OtelExporter({ tracer, maxOpenRuns: 100, onError: () => undefined });
    const audit = new Auditor({ store: new MemoryStore(), spool: false, exporters: [exporter] });
    for (let i = 0; i < 3000; i++) {
      const run = audit.startRun({ agent: "flood" });
      run.event("step.taken", { i });
      if (i % 500 === 0) await audit.flush();
    }
    await audit.flush();
    const stats = exporter.stats();
    expect(stats.openRuns).toBe(100);
    expect(stats.openSpans).toBe(100);
    expect(stats.runsEvicted).toBe(2900);
    await audit.close();
  });
});

describe("hostile input", () => {
  it("turns malformed events into spans or reports them, never losing the rest of the batch", async () => {
    const errors: AuditError[] = [];
    const exporter = new OtelExporter({ tracer, onError: (e) => errors.push(e) });
    const at = "2026-01-01T00:00:00.000Z";
    const hostile = [
      // Span ids that are not W3C ids, payload fields of the wrong type.
      {
        id: "h1",
        type: "run.start",
        time: at,
        runId: "r-h",
        spanId: "not-hex",
        data: { agent: 42 },
      },
      {
        id: "h2",
        type: "tool.start",
        time: at,
        runId: "r-h",
        spanId: "zz",
        data: { tool: { x: 1 } },
      },
      {
        id: "h3",
        type: "tool.error",
        time: at,
        runId: "r-h",
        spanId: "zz",
        data: { error: "boom", durationMs: "x" },
      },
      {
        id: "h4",
        type: "llm.end",
        time: at,
        runId: "r-h",
        data: { model: 7, finishReasons: [1, "stop"], inputTokens: Number.NaN },
      },
      { id: "h5", type: "policy.decision", time: at, runId: "r-h", data: {} },
      {
        id: "h6",
        type: "error",
        time: at,
        runId: "r-h",
        data: { error: { message: "\u0000\u001b[31mred" } },
      },
      { id: "h7", type: "x".repeat(300), time: at, data: { big: "y".repeat(100_000) } },
      { id: "h8", type: "run.end", time: at, runId: "r-h", data: { status: "error", error: null } },
    ] as unknown as AuditEvent[];
    await exporter.export(hostile);
    await exporter.shutdown();
    const spans = memory.getFinishedSpans();
    const run = one(spans, "invoke_agent");
    expect(run.status.code).toBe(SpanStatusCode.ERROR);
    expect(run.attributes["error.type"]).toBe("Error");
    const tool = one(spans, "execute_tool tool");
    expect(parentOf(tool)).toBe(run.spanContext().spanId);
    expect(tool.status).toEqual({ code: SpanStatusCode.ERROR, message: "boom" });
    expect(one(spans, "chat").attributes["gen_ai.response.finish_reasons"]).toEqual(["1", "stop"]);
    expect(one(spans, "x".repeat(300)).events).toHaveLength(1);
    expect(errors).toEqual([]);
    expect(exporter.openSpans).toBe(0);
  });
});

describe("log records", () => {
  it("emits every audit event as a log record correlated with its span", async () => {
    const logs = new InMemoryLogRecordExporter();
    const loggerProvider = new LoggerProvider({
      processors: [new SimpleLogRecordProcessor({ exporter: logs })],
    });
    const exporter = new OtelExporter({ tracer, logger: loggerProvider.getLogger("@audit/otel") });
    const store = new MemoryStore();
    const audit = new Auditor({ store, spool: false, exporters: [exporter] });
    await audit.withRun({ agent: "logged" }, async (run) => {
      await run.tool("t", {}, () => 1);
      run.policy({ policy: "p", decision: "deny" });
    });
    await audit.close();
    const events = await store.query();
    const records = logs.getFinishedLogRecords();
    expect(records.map((r) => r.eventName)).toEqual(events.map((e) => e.type));
    const spans = memory.getFinishedSpans();
    const agent = one(spans, "invoke_agent logged");
    const tool = one(spans, "execute_tool t");
    const byType = (type: string) => records.find((r) => r.eventName === type)!;
    expect(byType("run.start").spanContext?.spanId).toBe(agent.spanContext().spanId);
    expect(byType("tool.end").spanContext?.spanId).toBe(tool.spanContext().spanId);
    expect(byType("tool.end").spanContext?.traceId).toBe(agent.spanContext().traceId);
    const denial = byType("policy.decision");
    expect(denial.spanContext?.spanId).toBe(agent.spanContext().spanId);
    expect(denial.severityText).toBe("ERROR");
    expect(denial.severityNumber).toBe(17);
    expect(denial.attributes["audit.event.id"]).toBe(
      events.find((e) => e.type === "policy.decision")!.id,
    );
    expect((denial.body as { data: { decision: string } }).data.decision).toBe("deny");
    await loggerProvider.shutdown();
  });
});
