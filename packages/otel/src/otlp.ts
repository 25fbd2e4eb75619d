import { createRequire } from "node:module";
import { AuditConfigError } from "@audit/core";
import { OTLPTraceExporter as OtlpHttpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpHttpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import { BasicTracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { BoundedSpanProcessor } from "./bounded-span-processor.js";
import { auditIdGenerator } from "./ids.js";
import { OtelExporter, type OtelExporterOptions } from "./otel-exporter.js";
import { reportOnceToStderr } from "./report-once.js";

/**
 * The OTLP transports this package sends with; `grpc` needs the optional peer
 * `@opentelemetry/exporter-trace-otlp-grpc`.
 */
export type OtlpProtocol = "http/protobuf" | "http/json" | "grpc";

/** Options of {@link createOtlpExporter}. */
export interface OtlpExporterOptions
  extends Pick<
    OtelExporterOptions,
    "captureContent" | "providerName" | "maxOpenRuns" | "maxRunAgeMs" | "onError" | "logger"
  > {
  /**
   * The collector's traces endpoint, e.g. `http://localhost:4318/v1/traces`.
   * @default OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces", else http://localhost:4318/v1/traces
   */
  url?: string;
  /**
   * `http/protobuf` (the OTLP default, port 4318), `http/json`, or `grpc` (port 4317; install
   * `@opentelemetry/exporter-trace-otlp-grpc`, and give headers through the variables).
   * @default OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else "http/protobuf"
   */
  protocol?: OtlpProtocol;
  /**
   * Extra HTTP headers (auth), added to those of the environment; not with `grpc`, whose metadata
   * comes from the variables.
   * @default OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS
   */
  headers?: Record<string, string>;
  /**
   * How long one export request may take.
   * @default OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT, else 10000
   */
  timeoutMs?: number;
  /** @default OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, else OTEL_EXPORTER_OTLP_COMPRESSION, else "none" */
  compression?: "gzip" | "none";
  /**
   * `service.name` of the resource.
   * @default OTEL_SERVICE_NAME, else `service.name` of OTEL_RESOURCE_ATTRIBUTES, else "audit"
   */
  serviceName?: string;
  /** `service.version` of the resource. @default `service.version` of OTEL_RESOURCE_ATTRIBUTES */
  serviceVersion?: string;
  /**
   * Spans held while the collector is slow or down; past it new spans are dropped and counted
   * (the audit store keeps every event whatever happens here).
   * @default 2048
   */
  maxQueueSize?: number;
  /**
   * How long `flush()` (and so the auditor's `flush()` and `approvals.resolve()`) waits for the
   * collector. While exports are failing it does not wait at all.
   * @default 1000
   */
  flushTimeoutMs?: number;
  /**
   * Environment read for the protocol, the endpoint check and `OTEL_SDK_DISABLED` (the official
   * OTLP exporter reads its own variables from `process.env`).
   * @default process.env
   */
  env?: NodeJS.ProcessEnv;
}

let saidDisabled = false;

/** True when OTEL_SDK_DISABLED asks for no telemetry. */
function sdkDisabled(env: NodeJS.ProcessEnv): boolean {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true";
}

function disabledExporter(): OtelExporter {
  if (!saidDisabled) {
    saidDisabled = true;
    console.warn(
      "[audit] [exporter otel] OTEL_SDK_DISABLED=true: the OpenTelemetry exporter sends nothing (the audit store is unaffected)",
    );
  }
  return new OtelExporter({ enabled: false });
}

function protocolOf(options: OtlpExporterOptions, env: NodeJS.ProcessEnv): OtlpProtocol {
  const raw = (
    options.protocol ??
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    "http/protobuf"
  ).trim();
  if (raw === "http/protobuf" || raw === "http/json" || raw === "grpc") return raw;
  throw new AuditConfigError(
    `[audit] [exporter otel] OTLP protocol "${raw}" is not supported; use "http/protobuf" (the default), "http/json" or "grpc"`,
  );
}

const GRPC_PACKAGE = "@opentelemetry/exporter-trace-otlp-grpc";

// gRPC brings @grpc/grpc-js along, so it is an optional peer, loaded only when asked for.
function grpcExporter(config: Record<string, unknown>): SpanExporter {
  let loaded: { OTLPTraceExporter: new (config: Record<string, unknown>) => SpanExporter };
  try {
    loaded = createRequire(import.meta.url)(GRPC_PACKAGE);
  } catch (err) {
    throw new AuditConfigError(
      `[audit] [exporter otel] OTLP protocol "grpc" needs ${GRPC_PACKAGE}, which is not installed; run \`npm install ${GRPC_PACKAGE}\`, or use "http/protobuf" on the collector's port 4318`,
      { cause: err },
    );
  }
  return new loaded.OTLPTraceExporter(config);
}

function otlpExporter(options: OtlpExporterOptions, protocol: OtlpProtocol): SpanExporter {
  const config = {
    ...(options.url !== undefined && { url: options.url }),
    ...(options.headers !== undefined && { headers: options.headers }),
    ...(options.timeoutMs !== undefined && { timeoutMillis: options.timeoutMs }),
    ...(options.compression !== undefined && {
      compression: options.compression as never,
    }),
  };
  if (protocol === "grpc") {
    if (options.headers !== undefined)
      throw new AuditConfigError(
        "[audit] [exporter otel] the headers option does not apply to grpc; set OTEL_EXPORTER_OTLP_TRACES_HEADERS instead",
      );
    return grpcExporter(config);
  }
  return protocol === "http/json"
    ? new OtlpHttpJsonExporter(config)
    : new OtlpHttpProtobufExporter(config);
}

// The timeout the official exporter will use, so that our own bounds sit just above it.
function exportTimeoutMs(options: OtlpExporterOptions, env: NodeJS.ProcessEnv): number {
  const fromEnv = Number(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT);
  const base = options.timeoutMs ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 10_000);
  return base + 1_000;
}

/**
 * An exporter that sends audit spans to an OpenTelemetry collector over OTLP/HTTP, in one call.
 * It builds its own tracer provider — the official OTLP exporter (`http/protobuf` or `http/json`),
 * a resource from the environment (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) and the audit id
 * generator — and never registers it globally, so the application's own tracing is left alone.
 * Export runs in the background with a bounded queue; failures and drops are counted in `stats()`
 * and reported to `onError`. With `OTEL_SDK_DISABLED=true` it is a no-op that says so once.
 */
export function createOtlpExporter(options: OtlpExporterOptions = {}): OtelExporter {
  const env = options.env ?? process.env;
  if (sdkDisabled(env)) return disabledExporter();
  const protocol = protocolOf(options, env);
  const timeoutMs = exportTimeoutMs(options, env);
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "audit" }))
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(
      resourceFromAttributes({
        ...(options.serviceName !== undefined && { "service.name": options.serviceName }),
        ...(options.serviceVersion !== undefined && { "service.version": options.serviceVersion }),
      }),
    );
  const onError = options.onError ?? reportOnceToStderr();
  const processor = new BoundedSpanProcessor(otlpExporter(options, protocol), {
    maxQueueSize: options.maxQueueSize ?? 2048,
    maxExportBatchSize: 512,
    scheduledDelayMs: 200,
    exportTimeoutMs: timeoutMs,
    flushTimeoutMs: options.flushTimeoutMs ?? 1000,
    onError,
  });
  const provider = new BasicTracerProvider({
    resource,
    idGenerator: auditIdGenerator,
    spanProcessors: [processor],
  });
  return new OtelExporter({
    tracer: provider.getTracer("@audit/otel"),
    idGenerator: auditIdGenerator,
    ...(options.captureContent !== undefined && { captureContent: options.captureContent }),
    ...(options.providerName !== undefined && { providerName: options.providerName }),
    ...(options.maxOpenRuns !== undefined && { maxOpenRuns: options.maxOpenRuns }),
    ...(options.maxRunAgeMs !== undefined && { maxRunAgeMs: options.maxRunAgeMs }),
    ...(options.logger !== undefined && { logger: options.logger }),
    onError,
    exportStats: () => processor.stats(),
    onFlush: () => processor.forceFlush(),
    onShutdown: () => provider.shutdown(),
  });
}

/**
 * For `AUDIT_EXPORTERS=otel`: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) set, an
 * OTLP exporter of its own ({@link createOtlpExporter}, configured by the standard variables);
 * otherwise spans go through the application's global tracer provider, whatever it exports to.
 * `OTEL_SDK_DISABLED=true` makes it a no-op that says so once.
 */
export function createExporterFromEnv(env: NodeJS.ProcessEnv = process.env): OtelExporter {
  if (sdkDisabled(env)) return disabledExporter();
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    return createOtlpExporter({ env });
  return new OtelExporter();
}
