import { type Span, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OtelExporter } from "./otel-exporter.js";

/** Options of {@link createOtlpExporter}. */
export interface OtlpExporterOptions {
  /**
   * The collector's traces endpoint, e.g. `http://localhost:4318/v1/traces`.
   * @default OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces", else http://localhost:4318/v1/traces
   */
  url?: string;
  /** Extra HTTP headers (auth). @default OTEL_EXPORTER_OTLP_HEADERS */
  headers?: Record<string, string>;
  /** `service.name` of the resource. @default OTEL_SERVICE_NAME, else "audit" */
  serviceName?: string;
  /** Put content into span attributes (see `OtelExporterOptions.captureContent`). */
  captureContent?: boolean;
}

/**
 * An exporter that sends audit spans to an OpenTelemetry collector over OTLP/HTTP, in one call.
 * It builds its own tracer provider (a `BasicTracerProvider` with a `BatchSpanProcessor` and the
 * official OTLP exporter) and never registers it globally, so the application's own tracing setup
 * is left alone. The standard `OTEL_EXPORTER_OTLP_*` variables apply where options are not given.
 */
export function createOtlpExporter(options: OtlpExporterOptions = {}): OtelExporter {
  const otlp = new OTLPTraceExporter({
    ...(options.url !== undefined && { url: options.url }),
    ...(options.headers !== undefined && { headers: options.headers }),
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      "service.name": options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? "audit",
    }),
    spanProcessors: [new BatchSpanProcessor(otlp)],
  });
  return new OtelExporter({
    tracer: provider.getTracer("@audit/otel"),
    ...(options.captureContent !== undefined && { captureContent: options.captureContent }),
    onFlush: () => provider.forceFlush(),
    onShutdown: () => provider.shutdown(),
  });
}

/**
 * For `AUDIT_EXPORTERS=otel`: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) set, an
 * OTLP/HTTP exporter of its own; otherwise spans go through the application's global tracer
 * provider, whatever it exports to.
 */
export function createExporterFromEnv(env: NodeJS.ProcessEnv = process.env): OtelExporter {
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    return createOtlpExporter();
  return new OtelExporter();
}

/**
 * The active span's trace and span ids, for the auditor's `traceContext` option: events recorded
 * inside a span carry its trace id, and a run started inside one becomes its child.
 */
export function otelTraceContext(): { traceId: string; spanId: string } | undefined {
  const span: Span | undefined = trace.getActiveSpan();
  const sc = span?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return undefined;
  return { traceId: sc.traceId, spanId: sc.spanId };
}
