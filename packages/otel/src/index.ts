export type { SpanExportStats } from "./bounded-span-processor.js";
export { AuditIdGenerator, auditIdGenerator } from "./ids.js";
export type { AuditLogger, AuditLogRecord } from "./log-records.js";
export type { ChatMessage, MessagePart, OutputMessage } from "./messages.js";
export {
  OtelExporter,
  type OtelExporterOptions,
  type OtelExporterStats,
} from "./otel-exporter.js";
export {
  createExporterFromEnv,
  createOtlpExporter,
  type OtlpExporterOptions,
  type OtlpProtocol,
} from "./otlp.js";
export { otelTraceContext } from "./trace-context.js";
