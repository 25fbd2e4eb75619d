import {
  AuditConfigError,
  type AuditError,
  Auditor,
  ExportError,
  exportersFromEnv,
  MemoryStore,
} from "@audit/core";
import { context, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  createExporterFromEnv,
  createOtlpExporter,
  OtelExporter,
  otelTraceContext,
} from "../src/index.js";
import {
  attr,
  closedPort,
  type ReceivedSpan,
  startCollector,
  startGrpcCollector,
} from "./collector.js";

const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
afterAll(() => context.disable());

const OTEL_VARS = /^OTEL_/;

/** Runs `fn` with exactly these OTEL_* variables set, restoring the environment afterwards. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (OTEL_VARS.test(k)) delete process.env[k];
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    process.env = saved;
  }
}

const one = (spans: ReceivedSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};

const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

/** An application's own tracer, with its own provider, as an instrumented service has. */
function appTracer(sampled = true): { tracer: Tracer; finished: InMemorySpanExporter } {
  const finished = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(finished)],
    ...(!sampled && { sampler: new AlwaysOffSampler() }),
  });
  return { tracer: provider.getTracer("app"), finished };
}

describe("OTLP export, decoded with the official protobuf definitions", () => {
  it("sends a run as invoke_agent, execute_tool and chat spans with typed GenAI attributes", async () => {
    const c = await startCollector();
    await withEnv(
      {
        OTEL_SERVICE_NAME: "support-agents",
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=staging,service.version=4.2.0",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-tenant=acme,authorization=Bearer%20t0k",
      },
      async () => {
        const exporter = createOtlpExporter({ url: `${c.url}/v1/traces` });
        const store = new MemoryStore();
        const audit = new Auditor({ store, spool: false, exporters: [exporter] });
        const run = audit.startRun({ agent: "support-bot", sessionId: "conv-7" });
        await run.tool("search", { q: "refund" }, () => ["doc"]);
        const chat = run.llm({
          model: "gpt-x",
          provider: "openai",
          inputTokens: 120,
          outputTokens: 30,
          durationMs: 25,
          finishReason: "stop",
        });
        const boom = new RangeError("limit exceeded");
        await run.tool("refund", { amount: 900 }, () => Promise.reject(boom)).catch(() => 0);
        run.policy({ policy: "refunds", decision: "deny", rule: "over-500" });
        const approvalId = run.requestApproval({ action: "refund", reason: "over limit" });
        // approvals.resolve() writes straight to the store; core does not hand that event to
        // exporters yet, so it is given to the exporter here as core will.
        await audit.flush();
        const resolution = await audit.approvals.resolve(approvalId, {
          outcome: "approve",
          resolvedBy: "alice",
        });
        await exporter.export([resolution]);
        await run.end({ output: "escalated" });
        await audit.close();
        await exporter.shutdown();

        const spans = c.spans();
        expect(spans.map((s) => s.name).sort()).toEqual([
          "chat gpt-x",
          "execute_tool refund",
          "execute_tool search",
          "invoke_agent support-bot",
        ]);
        const events = await store.query();
        const agent = one(spans, "invoke_agent support-bot");
        // Ids join up: the span id is the audit spanId, the trace id the run id's 128 bits.
        expect(agent.spanId).toBe(run.spanId);
        expect(agent.traceId).toBe(run.runId.replaceAll("-", ""));
        expect(agent.parentSpanId).toBe("");
        expect(agent.kind).toBe(SPAN_KIND_INTERNAL);
        expect(agent.status.code).toBe(STATUS_UNSET);
        expect(agent.attributes["gen_ai.operation.name"]).toEqual({
          type: "string",
          value: "invoke_agent",
        });
        expect(agent.attributes["gen_ai.provider.name"]).toEqual({
          type: "string",
          value: "openai",
        });
        expect(attr(agent, "gen_ai.agent.name")).toBe("support-bot");
        expect(attr(agent, "gen_ai.conversation.id")).toBe("conv-7");
        expect(attr(agent, "audit.run.id")).toBe(run.runId);
        expect(agent.attributes["audit.chain.seq"]).toEqual({ type: "int", value: 1 });
        // The risk of its events shows on the run: the denial and the approval are high.
        expect(attr(agent, "audit.risk")).toBe("high");

        const search = one(spans, "execute_tool search");
        const searchStart = events.find((e) => e.type === "tool.start")!;
        expect(search.spanId).toBe(searchStart.spanId);
        expect(search.parentSpanId).toBe(agent.spanId);
        expect(search.traceId).toBe(agent.traceId);
        expect(search.kind).toBe(SPAN_KIND_INTERNAL);
        expect(search.status.code).toBe(STATUS_UNSET);
        expect(attr(search, "gen_ai.tool.name")).toBe("search");
        expect(attr(search, "gen_ai.tool.call.id")).toBe(searchStart.data.callId);
        expect(search.attributes["gen_ai.tool.call.arguments"]).toBeUndefined();

        const model = one(spans, "chat gpt-x");
        expect(model.spanId).toBe(chat.spanId);
        expect(model.parentSpanId).toBe(agent.spanId);
        expect(model.kind).toBe(SPAN_KIND_CLIENT);
        expect(model.attributes["gen_ai.response.finish_reasons"]).toEqual({
          type: "array",
          value: [{ type: "string", value: "stop" }],
        });
        expect(model.attributes["gen_ai.usage.input_tokens"]).toEqual({ type: "int", value: 120 });
        expect(model.attributes["gen_ai.usage.output_tokens"]).toEqual({ type: "int", value: 30 });
        expect(attr(model, "gen_ai.provider.name")).toBe("openai");
        expect(attr(model, "gen_ai.request.model")).toBe("gpt-x");
        expect(model.endMs - model.startMs).toBeCloseTo(25, 0);

        const refund = one(spans, "execute_tool refund");
        expect(refund.status).toEqual({ code: STATUS_ERROR, message: "limit exceeded" });
        expect(attr(refund, "error.type")).toBe("RangeError");
        expect(attr(refund, "audit.risk")).toBe("medium");
        const exception = refund.events.find((e) => e.name === "exception")!;
        expect(attr(exception, "exception.type")).toBe("RangeError");
        expect(attr(exception, "exception.message")).toBe("limit exceeded");
        expect(String(attr(exception, "exception.stacktrace"))).toContain(
          "RangeError: limit exceeded",
        );

        expect(agent.events.map((e) => e.name)).toEqual([
          "audit.policy.decision",
          "audit.approval.request",
          "audit.approval.resolve",
        ]);
        const resolved = agent.events[2]!;
        expect(attr(resolved, "audit.approval.id")).toBe(approvalId);
        expect(attr(resolved, "audit.approval.outcome")).toBe("approve");
        expect(attr(resolved, "audit.approval.resolved_by")).toBe("alice");
        expect(attr(resolved, "audit.event.id")).toBe(resolution.id);

        // The resource comes from the environment through the SDK's env detector.
        expect(attr({ attributes: agent.resource }, "service.name")).toBe("support-agents");
        expect(attr({ attributes: agent.resource }, "service.version")).toBe("4.2.0");
        expect(attr({ attributes: agent.resource }, "deployment.environment.name")).toBe("staging");
        expect(attr({ attributes: agent.resource }, "telemetry.sdk.language")).toBe("nodejs");

        // http/protobuf is the default, and the headers variable is honoured.
        expect(c.received[0]!.contentType).toBe("application/x-protobuf");
        expect(c.received[0]!.headers["x-tenant"]).toBe("acme");
        expect(c.received[0]!.headers.authorization).toBe("Bearer t0k");
      },
    );
    await c.close();
  });

  it("sends JSON when OTEL_EXPORTER_OTLP_PROTOCOL=http/json, and honours compression", async () => {
    const c = await startCollector();
    await withEnv(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: c.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
      },
      async () => {
        const exporter = createExporterFromEnv();
        const audit = new Auditor({
          store: new MemoryStore(),
          spool: false,
          exporters: [exporter],
        });
        const run = audit.startRun({ agent: "json-bot" });
        run.llm({ model: "m-1", provider: "acme", finishReason: "length", durationMs: 2 });
        await run.end();
        await audit.close();
        await exporter.shutdown();
      },
    );
    expect(c.received[0]!.contentType).toContain("application/json");
    expect(c.received[0]!.headers["content-encoding"]).toBe("gzip");
    const spans = c.spans();
    const chat = one(spans, "chat m-1");
    expect(chat.kind).toBe(SPAN_KIND_CLIENT);
    expect(chat.attributes["gen_ai.response.finish_reasons"]).toEqual({
      type: "array",
      value: [{ type: "string", value: "length" }],
    });
    expect(chat.parentSpanId).toBe(one(spans, "invoke_agent json-bot").spanId);
    await c.close();
  });

  it("sends over gRPC when OTEL_EXPORTER_OTLP_PROTOCOL=grpc, metadata from the headers variable", async () => {
    const c = await startGrpcCollector();
    await withEnv(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: c.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=acme",
      },
      async () => {
        const exporter = createExporterFromEnv();
        const audit = new Auditor({
          store: new MemoryStore(),
          spool: false,
          exporters: [exporter],
        });
        const run = audit.startRun({ agent: "grpc-bot" });
        await run.tool("t", {}, () => 1);
        await run.end();
        await audit.close();
        await exporter.shutdown();
        const spans = c.spans();
        const agent = one(spans, "invoke_agent grpc-bot");
        expect(agent.spanId).toBe(run.spanId);
        expect(one(spans, "execute_tool t").parentSpanId).toBe(run.spanId);
        expect(c.received[0]!.metadata["x-tenant"]).toBe("acme");
      },
    );
    await c.close();
  });

  it("refuses a protocol it cannot send, and options that do not apply, with a clear error", async () => {
    await withEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: "thrift" }, async () => {
      expect(() => createOtlpExporter()).toThrow(AuditConfigError);
      expect(() => createOtlpExporter()).toThrow(/http\/protobuf/);
    });
    expect(() => createOtlpExporter({ protocol: "grpc", headers: { a: "b" } })).toThrow(
      /OTEL_EXPORTER_OTLP_TRACES_HEADERS/,
    );
  });

  it("is a no-op that says so once under OTEL_SDK_DISABLED=true", async () => {
    const c = await startCollector();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      await withEnv({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: c.url }, async () => {
        const a = createExporterFromEnv();
        const b = createOtlpExporter({ url: `${c.url}/v1/traces` });
        for (const exporter of [a, b]) {
          const audit = new Auditor({
            store: new MemoryStore(),
            spool: false,
            exporters: [exporter],
          });
          await audit.withRun({ agent: "quiet" }, async () => 1);
          await audit.close();
          await exporter.shutdown();
          expect(exporter.stats().enabled).toBe(false);
        }
      });
      const said = warn.mock.calls.filter((args) => String(args[0]).includes("OTEL_SDK_DISABLED"));
      expect(said).toHaveLength(1);
      expect(c.requests()).toBe(0);
    } finally {
      warn.mockRestore();
      await c.close();
    }
  });

  it("is wired by AUDIT_EXPORTERS=otel with the standard OTEL_EXPORTER_OTLP_* variables", async () => {
    const c = await startCollector();
    await withEnv(
      { OTEL_EXPORTER_OTLP_ENDPOINT: c.url, OTEL_SERVICE_NAME: "from-env" },
      async () => {
        const direct = createExporterFromEnv();
        expect(direct).toBeInstanceOf(OtelExporter);
        await direct.shutdown();
        // Through core, as a user configures it: the package is found from this project.
        const [exporter] = await exportersFromEnv("otel");
        const audit = new Auditor({
          store: new MemoryStore(),
          spool: false,
          exporters: [exporter!],
        });
        await audit.withRun({ agent: "env-bot" }, async () => 1);
        await audit.close();
        await exporter!.shutdown!();
      },
    );
    const run = one(c.spans(), "invoke_agent env-bot");
    expect(attr({ attributes: run.resource }, "service.name")).toBe("from-env");
    await c.close();
  });
});

describe("traces that join up", () => {
  it("continues the application's trace, honours its sampled flag and startRun({ traceId })", async () => {
    const c = await startCollector();
    const exporter = createOtlpExporter({ url: `${c.url}/v1/traces` });
    const audit = new Auditor({
      store: new MemoryStore(),
      spool: false,
      exporters: [exporter],
      traceContext: otelTraceContext,
    });
    const sampled = appTracer(true);
    let appTrace = "";
    let appSpan = "";
    await sampled.tracer.startActiveSpan("POST /chat", async (span) => {
      appTrace = span.spanContext().traceId;
      appSpan = span.spanContext().spanId;
      await audit.withRun({ agent: "inside" }, async (run) => {
        await run.tool("lookup", {}, () => 1);
      });
      // An event outside any run, recorded inside the request.
      audit.record({ type: "cache.miss", data: { key: "k" } });
      span.end();
    });
    const unsampled = appTracer(false);
    await unsampled.tracer.startActiveSpan("GET /health", async (span) => {
      expect(span.spanContext().traceFlags).toBe(0);
      await audit.withRun({ agent: "not-sampled" }, async (run) => {
        await run.tool("ping", {}, () => 1);
      });
      span.end();
    });
    // A trace id handed over from elsewhere (a queue message, another service).
    const carried = "4bf92f3577b34da6a3ce929d0e0e4736";
    const continued = audit.startRun({ agent: "continued", traceId: carried });
    await continued.tool("step", {}, () => 1);
    await continued.end();
    await audit.close();
    await exporter.shutdown();

    const spans = c.spans();
    const inside = one(spans, "invoke_agent inside");
    expect(inside.traceId).toBe(appTrace);
    expect(inside.parentSpanId).toBe(appSpan);
    expect(one(spans, "execute_tool lookup").traceId).toBe(appTrace);
    expect(one(spans, "execute_tool lookup").parentSpanId).toBe(inside.spanId);
    const lone = one(spans, "cache.miss");
    expect(lone.traceId).toBe(appTrace);
    expect(lone.parentSpanId).toBe(appSpan);
    // Nothing of the run inside the unsampled request is exported.
    expect(spans.filter((s) => s.name.includes("not-sampled") || s.name.includes("ping"))).toEqual(
      [],
    );
    const cont = one(spans, "invoke_agent continued");
    expect(cont.traceId).toBe(carried);
    expect(cont.spanId).toBe(continued.spanId);
    expect(one(spans, "execute_tool step").traceId).toBe(carried);
    await c.close();
  });

  it("puts every event with a run id under that run's one span, whoever recorded it", async () => {
    const c = await startCollector();
    const exporter = createOtlpExporter({ url: `${c.url}/v1/traces` });
    const store = new MemoryStore();
    const audit = new Auditor({ store, spool: false, exporters: [exporter] });
    // Recorded by hand, with no run handle, no span ids: one run by its id.
    audit.record({
      type: "run.start",
      runId: "job-42",
      actor: "nightly",
      data: { agent: "nightly" },
    });
    audit.record({ type: "doc.read", runId: "job-42", data: { doc: "a" } });
    audit.record({ type: "tool.start", runId: "job-42", data: { tool: "fetch", callId: "c1" } });
    audit.record({
      type: "tool.end",
      runId: "job-42",
      data: { tool: "fetch", callId: "c1", durationMs: 3 },
    });
    audit.record({ type: "doc.read", runId: "job-42", data: { doc: "b" } });
    audit.record({ type: "run.end", runId: "job-42", data: { status: "ok", durationMs: 9 } });
    // The same for a run whose start was never recorded.
    audit.record({ type: "doc.read", runId: "job-43", data: { doc: "c" } });
    audit.record({ type: "doc.read", runId: "job-43", data: { doc: "d" } });
    await audit.close();
    await exporter.shutdown();

    const spans = c.spans();
    const runs = spans.filter((s) => s.name.startsWith("invoke_agent"));
    expect(runs).toHaveLength(2);
    const job42 = runs.find((s) => attr(s, "audit.run.id") === "job-42")!;
    expect(job42.name).toBe("invoke_agent nightly");
    expect(job42.parentSpanId).toBe("");
    expect(job42.events.map((e) => e.name)).toEqual(["audit.doc.read", "audit.doc.read"]);
    const fetch = one(spans, "execute_tool fetch");
    expect(fetch.parentSpanId).toBe(job42.spanId);
    expect(fetch.traceId).toBe(job42.traceId);
    const job43 = runs.find((s) => attr(s, "audit.run.id") === "job-43")!;
    expect(job43.events).toHaveLength(2);
    // A run that never ended is closed on shutdown, marked.
    expect(attr(job43, "audit.unfinished")).toBe(true);
    expect((await store.query()).length).toBeGreaterThanOrEqual(8);
    await c.close();
  });
});

describe("a collector that is down for the whole run", () => {
  for (const mode of ["closed port", "accepts but never answers"] as const) {
    it(`${mode}: the store keeps everything, flush and approvals are not held up, failures are counted`, async () => {
      const hanging = mode === "closed port" ? undefined : await startCollector("hang");
      const url = hanging?.url ?? (await closedPort());
      const errors: AuditError[] = [];
      const flushTimeoutMs = 300;
      // The export timeout comes from the option, or from the standard variable.
      const exporter = await withEnv(
        hanging ? { OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "400" } : {},
        async () =>
          createOtlpExporter({
            url: `${url}/v1/traces`,
            ...(!hanging && { timeoutMs: 400 }),
            flushTimeoutMs,
            maxQueueSize: 50,
            onError: (e) => errors.push(e),
          }),
      );
      const store = new MemoryStore();
      const audit = new Auditor({ store, spool: false, exporters: [exporter] });
      const recorded: string[] = [];
      const approvalIds: string[] = [];
      for (let i = 0; i < 40; i++) {
        const run = audit.startRun({ agent: `bot-${i}` });
        recorded.push(run.startEvent.id);
        await run.tool("t", { i }, () => i);
        approvalIds.push(run.requestApproval({ action: "refund" }));
        recorded.push((await run.end()).id);
      }
      // The documented bound of flush(): flushTimeoutMs, and nothing at all while failing; the
      // margin covers a loaded machine, not the collector's timeout.
      const bound = flushTimeoutMs + 1_000;
      // Before any failure is known the flush waits, but no longer than flushTimeoutMs.
      let t0 = performance.now();
      await audit.flush();
      expect(performance.now() - t0).toBeLessThan(bound);
      // Let the background export hit the dead collector.
      await new Promise((r) => setTimeout(r, 600));
      t0 = performance.now();
      await audit.flush();
      expect(performance.now() - t0).toBeLessThan(bound);
      for (const id of approvalIds.slice(0, 5)) {
        t0 = performance.now();
        await audit.approvals.resolve(id, { outcome: "approve", resolvedBy: "ops" });
        expect(performance.now() - t0).toBeLessThan(bound);
      }
      t0 = performance.now();
      await audit.close();
      await exporter.shutdown();
      // Shutdown waits at most the export timeout for the last batch.
      expect(performance.now() - t0).toBeLessThan(400 + 1_000 + 1_000 + bound);

      const stored = await store.query();
      const ids = new Set(stored.map((e) => e.id));
      for (const id of recorded) expect(ids.has(id)).toBe(true);
      expect(stored.filter((e) => e.type === "approval.resolve")).toHaveLength(5);
      expect(stored.filter((e) => e.type === "tool.end")).toHaveLength(40);

      const stats = exporter.stats();
      expect(stats.failedExports).toBeGreaterThan(0);
      expect(stats.exportedSpans).toBe(0);
      expect(stats.failedSpans + stats.droppedSpans + stats.queuedSpans).toBeGreaterThan(0);
      expect(errors.length).toBeGreaterThan(0);
      // The hanging request failed by the exporter's own timeout (from the variable), not ours.
      if (hanging) expect(errors.map((e) => e.message).join()).not.toMatch(/timed out after/);
      expect(errors.every((e) => e instanceof ExportError)).toBe(true);
      expect(errors.some((e) => /export of \d+ spans failed/.test(e.message))).toBe(true);
      await hanging?.close();
    });
  }
});
