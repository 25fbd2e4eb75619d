export { OtelExporter, type OtelExporterOptions } from "./otel-exporter.js";
export {
  createExporterFromEnv,
  createOtlpExporter,
  type OtlpExporterOptions,
  otelTraceContext,
} from "./otlp.js";
