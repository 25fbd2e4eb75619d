export {
  type Approval,
  type ApprovalResolution,
  Approvals,
  resolutionEventId,
} from "./approvals.js";
export {
  Auditor,
  type AuditorInit,
  type AuditorOptions,
  type AuditorStats,
  type BatchOptions,
  createAuditor,
  type EventProcessor,
  type FlushResult,
  type RetryOptions,
} from "./auditor.js";
export { canonicalJson } from "./canonical.js";
export { CompositeExporter, type CompositeExporterOptions } from "./composite-exporter.js";
export { ConsoleExporter, type ConsoleExporterOptions, formatPretty } from "./console-exporter.js";
export {
  AdapterNotInstalledError,
  ApprovalConflictError,
  ApprovalNotFoundError,
  AuditClosedError,
  AuditConfigError,
  AuditError,
  AuditOverflowError,
  AuditTimeoutError,
  AuditValidationError,
  ExportError,
  StoreError,
} from "./errors.js";
export {
  type AuditEvent,
  type ChainLink,
  type EventInput,
  type EventPayloads,
  EventTypes,
  isRisk,
  isValidEventType,
  RISK_LEVELS,
  type Risk,
  riskAtLeast,
  type StandardEvent,
  type StandardEventType,
} from "./event.js";
export type { AuditExporter } from "./exporter.js";
export {
  compareEvents,
  cursorNotFound,
  eventMatches,
  isAfterCursor,
  parseTime,
  prefixUpperBound,
  type ResolvedFilter,
  resolveFilter,
  resolvePrune,
  typeMatches,
} from "./filter.js";
export { isUuid, newSpanId, newTraceId, uuidFromName, uuidv7, uuidv7Time } from "./ids.js";
export {
  type ChainAlgorithm,
  ChainSealer,
  type CheckpointData,
  chainInput,
  checkpointSignatureValid,
  checkpointSigningInput,
  hashEvent,
  type IntegrityOptions,
  keyIdOf,
  signCheckpoint,
} from "./integrity.js";
export { MemoryStore, type MemoryStoreOptions } from "./memory-store.js";
export {
  CIRCULAR,
  type JsonValue,
  type NormalizeOptions,
  normalize,
  normalizePayload,
} from "./normalize.js";
export { NullStore } from "./null-store.js";
export {
  CONTENT_FIELDS,
  isSecretKey,
  PrivacyFilter,
  type PrivacyMode,
  type PrivacyOptions,
  REDACTED,
  Scrubber,
  type ScrubberOptions,
  SECRET_PATTERNS,
  type SecretDetector,
  type SecretPattern,
  scrubString,
} from "./privacy.js";
export {
  type AdapterModule,
  type ExporterFactory,
  exportersFromEnv,
  openStore,
  registerExporter,
  registerStore,
  type StoreFactory,
  supportedSchemes,
} from "./registry.js";
export { AuditRun, type LlmCall, type RunEventOptions, type RunOptions } from "./run.js";
export { isProcessAlive, parseSpoolText, Spool, type SpoolReadResult } from "./spool.js";
export type { AuditFilter, AuditStore, PruneOptions, StoreCapabilities } from "./store.js";
export { assertValidBatch, assertValidEvent, isEventTime } from "./validate.js";
export {
  type ChainProblem,
  type ChainProblemKind,
  type ChainSummary,
  type VerifyOptions,
  type VerifyReport,
  verifyChain,
} from "./verify.js";
