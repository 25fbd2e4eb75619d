export {
  type Approval,
  type ApprovalHost,
  type ApprovalResolution,
  Approvals,
  isBoundResolution,
  resolutionEventId,
} from "./approvals/approvals.js";
export { Auditor } from "./auditor/auditor.js";
export { createAuditor } from "./auditor/create-auditor.js";
export type { AuditorHealth, AuditorStats } from "./auditor/health.js";
export type { AuditorInit, AuditorOptions } from "./auditor/options.js";
export {
  AuditRun,
  type LlmCall,
  type RunEventOptions,
  type RunHost,
  type RunOptions,
} from "./auditor/run.js";
export {
  errorType,
  RunTrail,
  type RunTrailHost,
  type RunTrailInit,
  round as roundDuration,
} from "./auditor/run-trail.js";
export { canonicalJson } from "./canonical.js";
export type { Outcome } from "./durable/commit-tracker.js";
export { isRejection } from "./durable/failure.js";
export { parseSpoolText, Spool, type SpoolOptions, type SpoolReadResult } from "./durable/spool.js";
export type { RetryOptions, StoreHealth, WriteResult } from "./durable/store-writer.js";
export {
  AdapterNotInstalledError,
  ApprovalConflictError,
  ApprovalNotFoundError,
  AuditClosedError,
  AuditConfigError,
  AuditError,
  AuditOverflowError,
  type AuditStage,
  AuditTimeoutError,
  AuditValidationError,
  describeError,
  EventRejectedError,
  ExportError,
  SpoolError,
  StoreError,
  StoreTimeoutError,
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
export {
  CompositeExporter,
  type CompositeExporterOptions,
} from "./exporters/composite-exporter.js";
export {
  ConsoleExporter,
  type ConsoleExporterOptions,
  formatPretty,
} from "./exporters/console-exporter.js";
export type { AuditExporter } from "./exporters/exporter.js";
export type { ExporterHealth } from "./exporters/lanes.js";
export { isUuid, newSpanId, newTraceId, uuidFromName, uuidv7, uuidv7Time } from "./ids.js";
export {
  type BuildEvidenceOptions,
  buildEvidenceBundle,
  EVIDENCE_FORMAT,
  type EvidenceBundle,
  type EvidenceCheckpoint,
  type EvidenceEntry,
  type EvidenceProblem,
  type EvidenceProblemKind,
  type EvidenceReport,
  type VerifyEvidenceOptions,
  verifyEvidenceBundle,
} from "./integrity/evidence.js";
export {
  inclusionProof,
  leafHash,
  MerkleFrontier,
  merkleRoot,
  nodeHash,
  verifyInclusion,
} from "./integrity/merkle.js";
export {
  noteKeyId,
  noteSignedBy,
  noteVerifierKey,
  type ParsedNote,
  parseNote,
  rawEd25519PublicKey,
  signNote,
} from "./integrity/signed-note.js";
export {
  checkStrictJson,
  decodeUtf8Strict,
  parseStrictJson,
  StrictJsonError,
  type StrictJsonRule,
  type StrictJsonViolation,
} from "./integrity/strict-json.js";
export {
  type ChainAlgorithm,
  ChainSealer,
  type CheckpointData,
  chainInput,
  checkpointNoteBody,
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
  storableString,
  truncateString,
} from "./normalize.js";
export { NullStore } from "./null-store.js";
export type { BatchOptions } from "./pipeline/batch-queue.js";
export type { EventProcessor } from "./pipeline/processors.js";
export { isReservedType, type TraceContextProvider } from "./pipeline/stamp.js";
export type { FlushResult } from "./pipeline/write-pipeline.js";
export {
  type NormalizedVerdict,
  normalizeVerdict,
  type PolicyDecision,
  type PolicyVerdict,
  type ToolCallRequest,
  type ToolPolicy,
} from "./policy/tool-policy.js";
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
export type {
  AuditFilter,
  AuditStore,
  IndexedColumn,
  PrunedChainHead,
  PruneOptions,
  StatsGroup,
  StoreCapabilities,
  StoreDescription,
  StoredRow,
  TrailStats,
} from "./store.js";
export {
  type ChainProblem,
  type ChainProblemKind,
  type ChainSummary,
  type VerifyOptions,
  type VerifyReport,
  verifyChain,
} from "./verify.js";
