// OpenTelemetry: agent runs recorded through an auditor with the OtelExporter, against the raw SDK
// creating the same spans.
import { type AuditEvent, type EventInput, NullStore } from "@audit/core";
import { OtelExporter } from "@audit/otel";
import { context, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { type BenchContext, recordAll } from "../harness/context.js";
import { collect } from "../harness/memory.js";
import type { Section } from "../harness/section.js";
import { timed } from "../lib.js";

const SPANS_PER_RUN = 5; // the run, three tool calls, one model call
const BASE_TIME = Date.parse("2026-01-01T00:00:00.000Z");

/** The events of run `r`: run.start, three tool calls, a model call, run.end. */
function runInputs(r: number): EventInput[] {
  const hex = r.toString(16).padStart(12, "0");
  const runSpan = `${hex}0001`;
  const runId = `r${r}`;
  const out: EventInput[] = [
    {
      type: "run.start",
      runId,
      spanId: runSpan,
      actor: "bot",
      sessionId: "s",
      data: { agent: "bot" },
    },
  ];
  for (let k = 0; k < 3; k++) {
    const spanId = `${hex}10${k}0`;
    const common = { runId, spanId, parentSpanId: runSpan };
    out.push({ type: "tool.start", ...common, data: { tool: "search", callId: `c${k}` } });
    out.push({
      type: "tool.end",
      ...common,
      data: { tool: "search", callId: `c${k}`, durationMs: 10 },
    });
  }
  out.push({
    type: "llm.end",
    runId,
    spanId: `${hex}2000`,
    parentSpanId: runSpan,
    data: { model: "m", provider: "p", inputTokens: 10, outputTokens: 5, durationMs: 8 },
  });
  out.push({ type: "run.end", runId, spanId: runSpan, data: { status: "ok", durationMs: 99 } });
  return out;
}

/** The same events with ids and times, for the exporter on its own. */
function stampedRun(r: number): AuditEvent[] {
  const times = [0, 10, 20, 30, 40, 50, 60, 90, 99];
  return runInputs(r).map((input, i) => ({
    ...input,
    data: input.data ?? {},
    id: `r${r}e${i}`,
    time: new Date(BASE_TIME + r * 100 + (times[i] ?? 99)).toISOString(),
  }));
}

/** The same spans, attributes and times, made directly with the SDK. */
function directSpans(tracer: Tracer, runs: number): void {
  for (let r = 0; r < runs; r++) {
    const t0 = BASE_TIME + r * 100;
    const run = tracer.startSpan("invoke_agent bot", {
      kind: SpanKind.INTERNAL,
      startTime: t0,
      attributes: {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "bot",
        "gen_ai.conversation.id": "s",
        "audit.run.id": `r${r}`,
        "audit.event.id": `r${r}e0`,
      },
    });
    const ctx = trace.setSpan(context.active(), run);
    for (let k = 0; k < 3; k++) {
      const tool = tracer.startSpan(
        "execute_tool search",
        {
          startTime: t0 + 10 + k * 20,
          attributes: {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "search",
            "gen_ai.tool.call.id": `c${k}`,
            "audit.event.id": `r${r}e${1 + 2 * k}`,
          },
        },
        ctx,
      );
      tool.setStatus({ code: SpanStatusCode.OK });
      tool.end(t0 + 20 + k * 20);
    }
    const chat = tracer.startSpan(
      "chat m",
      {
        kind: SpanKind.CLIENT,
        startTime: t0 + 82,
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "p",
          "gen_ai.request.model": "m",
          "gen_ai.usage.input_tokens": 10,
          "gen_ai.usage.output_tokens": 5,
        },
      },
      ctx,
    );
    chat.end(t0 + 90);
    run.setStatus({ code: SpanStatusCode.OK });
    run.end(t0 + 99);
  }
}

export const otelSection: Section = {
  name: "otel",
  title: "OpenTelemetry",
  method:
    "Spans/s. Through the auditor: agent runs (run.start, three tool calls, a model call, run.end: 5 spans) recorded with `record()` into an auditor with default settings, a NullStore and the OtelExporter on a BasicTracerProvider with a SimpleSpanProcessor and an exporter that discards spans, until `flush()` resolves (which waits for the exporter). The exporter alone: the same events, already stamped, given to `OtelExporter.export()` in batches of 512. Baseline: the same spans, attributes and times made directly with the SDK, on the same provider, in the same repetition.",
  async run(ctx: BenchContext) {
    const runs = Math.min(5000, Math.max(1000, Math.floor(ctx.settings.events / 20)));
    const provider = new BasicTracerProvider({
      spanProcessors: [
        new SimpleSpanProcessor({ export: (_s, cb) => cb({ code: 0 }), shutdown: async () => {} }),
      ],
    });
    const tracer = provider.getTracer("bench");
    const recorded = Array.from({ length: runs }, (_, r) => runInputs(r)).flat();
    const exported = Array.from({ length: runs }, (_, r) => stampedRun(r)).flat();
    const spans = runs * SPANS_PER_RUN;
    const viaAuditor: number[] = [];
    const alone: number[] = [];
    const direct: number[] = [];
    for (let rep = 0; rep < ctx.settings.reps; rep++) {
      const exporter = new OtelExporter({ tracer });
      const audit = ctx.auditor(new NullStore(), { exporters: [exporter] });
      await collect();
      const a = await timed(() => recordAll(audit, recorded));
      viaAuditor.push((spans / a.ms) * 1000);
      await audit.close();
      await exporter.shutdown();

      const lone = new OtelExporter({ tracer });
      await collect();
      const b = await timed(async () => {
        for (let i = 0; i < exported.length; i += 512)
          await lone.export(exported.slice(i, i + 512));
      });
      alone.push((spans / b.ms) * 1000);
      await lone.shutdown();

      await collect();
      const c = await timed(() => directSpans(tracer, runs));
      direct.push((spans / c.ms) * 1000);
    }
    await provider.shutdown();
    const baseline = { name: "the same spans made directly with the SDK", samples: direct };
    ctx.report.add({
      section: this.title,
      workload: `${runs.toLocaleString("en-US")} agent runs recorded through the auditor (defaults, NullStore) with the OtelExporter`,
      unit: "spans/s",
      better: "higher",
      samples: viaAuditor,
      baseline,
    });
    ctx.report.add({
      section: this.title,
      workload: "OtelExporter.export() alone, the same events already stamped",
      unit: "spans/s",
      better: "higher",
      samples: alone,
      baseline,
    });
  },
};
