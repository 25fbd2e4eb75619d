import { createServer, type IncomingMessage } from "node:http";
import { Auditor, exportersFromEnv, MemoryStore } from "@audit/core";
import { describe, expect, it } from "vitest";
import { createExporterFromEnv, createOtlpExporter, OtelExporter } from "../src/index.js";

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

/** A local collector: an HTTP server that keeps the bodies POSTed to /v1/traces. */
async function collector() {
  const bodies: { contentType: string | undefined; body: unknown }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      bodies.push({
        contentType: req.headers["content-type"],
        body: req.url === "/v1/traces" ? JSON.parse(text) : text,
      });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    spans(): OtlpSpan[] {
      return bodies.flatMap((b) =>
        (
          (b.body as { resourceSpans?: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans ??
          []
        ).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
      );
    },
    resources(): unknown[] {
      return bodies.flatMap((b) =>
        ((b.body as { resourceSpans?: { resource: unknown }[] }).resourceSpans ?? []).map(
          (r) => r.resource,
        ),
      );
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? (v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue) : undefined;
};

describe("OTLP/HTTP export", () => {
  it("sends the spans of a run to a collector endpoint, decoded here from the request body", async () => {
    const c = await collector();
    const exporter = createOtlpExporter({
      url: `${c.url}/v1/traces`,
      serviceName: "support-agents",
    });
    const audit = new Auditor({ store: new MemoryStore(), spool: false, exporters: [exporter] });
    await audit.withRun({ agent: "support-bot", sessionId: "conv-1" }, async (run) => {
      await run.tool("search", { q: "x" }, () => "found");
      run.llm({ model: "m-1", provider: "acme", inputTokens: 5, outputTokens: 6, durationMs: 3 });
    });
    await audit.close();
    await exporter.shutdown();
    const spans = c.spans();
    expect(spans.map((s) => s.name).sort()).toEqual([
      "chat m-1",
      "execute_tool search",
      "invoke_agent support-bot",
    ]);
    const run = spans.find((s) => s.name === "invoke_agent support-bot")!;
    const tool = spans.find((s) => s.name === "execute_tool search")!;
    expect(tool.parentSpanId).toBe(run.spanId);
    expect(tool.traceId).toBe(run.traceId);
    expect(attr(run, "gen_ai.conversation.id")).toBe("conv-1");
    expect(attr(spans.find((s) => s.name === "chat m-1")!, "gen_ai.usage.input_tokens")).toBe(5);
    expect(JSON.stringify(c.resources())).toContain("support-agents");
    expect(c.bodies[0]!.contentType).toContain("json");
    await c.close();
  });

  it("is wired by AUDIT_EXPORTERS=otel with the standard OTEL_EXPORTER_OTLP_* variables", async () => {
    const c = await collector();
    const saved = { ...process.env };
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = c.url;
    process.env.OTEL_SERVICE_NAME = "from-env";
    try {
      const direct = createExporterFromEnv();
      expect(direct).toBeInstanceOf(OtelExporter);
      await direct.shutdown();
      // Through core, as a user configures it: the package is found from this project.
      const [exporter] = await exportersFromEnv("otel");
      const audit = new Auditor({ store: new MemoryStore(), spool: false, exporters: [exporter!] });
      await audit.withRun({ agent: "env-bot" }, async () => 1);
      await audit.close();
      await exporter!.shutdown!();
      expect(c.spans().map((s) => s.name)).toContain("invoke_agent env-bot");
      expect(JSON.stringify(c.resources())).toContain("from-env");
    } finally {
      process.env = saved;
      await c.close();
    }
  });
});
