export {
  createExporterFromEnv,
  type LeveledLogger,
  LoggingExporter,
  type LoggingExporterOptions,
  type LogLevel,
  logRecord,
} from "./logging-exporter.js";
