/** How serious an event is. Filters treat a level as "this level and above". */
export type Risk = "low" | "medium" | "high" | "critical";

/** The risk levels from lowest to highest. */
export const RISK_LEVELS: readonly Risk[] = ["low", "medium", "high", "critical"];

/** The integrity fields of an event: its place in the hash chain of the auditor that wrote it. */
export interface ChainLink {
  /** The chain: one per auditor instance. */
  id: string;
  /** 1, 2, 3 … without gaps within a chain. */
  seq: number;
  /** The hash of the previous event in the chain ("" for the first). */
  prev: string;
  /** The hash of this event. */
  hash: string;
}

/** One entry of the audit trail. */
export interface AuditEvent<D = Record<string, unknown>> {
  /** UUIDv7, lowercase hyphenated; unique; sorts by creation time. */
  id: string;
  /** Dotted, lowercase: `"tool.start"`. */
  type: string;
  /** RFC 3339 UTC with milliseconds: `"2026-11-22T05:44:30.123Z"`. */
  time: string;
  /** Who acted: agent name, user id, service. */
  actor?: string;
  /** A conversation or job grouping several runs. */
  sessionId?: string;
  /** One agent run; every event of the run carries it. */
  runId?: string;
  /** Shared by the start and end events of one operation. */
  spanId?: string;
  /** The operation this one happens inside. */
  parentSpanId?: string;
  /** OpenTelemetry trace id, when recorded inside an active span. */
  traceId?: string;
  /** How serious the event is. */
  risk?: Risk;
  /** The type's payload, JSON after normalisation. */
  data: D;
  /** Integrity: the event's link in its auditor's hash chain. */
  chain?: ChainLink;
}

/** Payloads of the standard event types. */
export interface EventPayloads {
  "run.start": { agent?: string; input?: unknown };
  "run.end": {
    status: "ok" | "error";
    output?: unknown;
    error?: unknown;
    durationMs: number;
    usage?: unknown;
  };
  "llm.start": { model: string; provider?: string; input?: unknown };
  "llm.end": {
    model: string;
    provider?: string;
    output?: unknown;
    inputTokens?: number;
    outputTokens?: number;
    costUsd?: number;
    finishReason?: string;
    durationMs: number;
  };
  "tool.start": { tool: string; callId: string; args?: unknown };
  "tool.end": { tool: string; callId: string; result?: unknown; durationMs: number };
  "tool.error": {
    tool: string;
    callId: string;
    error: unknown;
    errorType: string;
    durationMs: number;
  };
  "policy.decision": {
    policy: string;
    decision: "allow" | "deny" | "review";
    rule?: string;
    reason?: string;
  };
  "approval.request": { approvalId: string; action: string; reason?: string; options?: unknown };
  "approval.resolve": { approvalId: string; outcome: string; resolvedBy: string; comment?: string };
  action: {
    actionType: string;
    target: string;
    params?: unknown;
    description?: string;
    status: "success" | "failed" | "blocked" | "denied" | "skipped";
    result?: unknown;
    error?: unknown;
  };
  error: { message: string; errorType: string; stack?: string };
  "audit.checkpoint": {
    chainId: string;
    seq: number;
    hash: string;
    root?: string;
    note?: string;
    signature?: string;
  };
}

/** A standard event type name. */
export type StandardEventType = keyof EventPayloads;

/** The standard event types, as constants. Any other dotted lowercase type is allowed too. */
export const EventTypes = {
  RunStart: "run.start",
  RunEnd: "run.end",
  LlmStart: "llm.start",
  LlmEnd: "llm.end",
  ToolStart: "tool.start",
  ToolEnd: "tool.end",
  ToolError: "tool.error",
  PolicyDecision: "policy.decision",
  ApprovalRequest: "approval.request",
  ApprovalResolve: "approval.resolve",
  Action: "action",
  Error: "error",
  Checkpoint: "audit.checkpoint",
} as const satisfies Record<string, StandardEventType>;

/** A standard event with its typed payload. */
export type StandardEvent<T extends StandardEventType = StandardEventType> = AuditEvent<
  EventPayloads[T]
> & { type: T };

/** What `record` accepts: the fields it fills in (`id`, `time`, `chain`) are optional. */
export type EventInput<T extends string = string> = {
  type: T;
  data?: T extends StandardEventType ? EventPayloads[T] : Record<string, unknown>;
  id?: string;
  time?: string | Date;
  actor?: string;
  sessionId?: string;
  runId?: string;
  spanId?: string;
  parentSpanId?: string;
  traceId?: string;
  risk?: Risk;
};

const TYPE_PATTERN = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;

/** True when `type` is a valid event type: dotted, lowercase, e.g. `"tool.start"`, `"billing.refund"`. */
export function isValidEventType(type: unknown): type is string {
  return typeof type === "string" && type.length <= 200 && TYPE_PATTERN.test(type);
}

/** True when `risk` is one of the four risk levels. */
export function isRisk(risk: unknown): risk is Risk {
  return risk === "low" || risk === "medium" || risk === "high" || risk === "critical";
}

/** Whether `risk` is at least `floor`; an event without a risk counts as below every floor. */
export function riskAtLeast(risk: Risk | undefined, floor: Risk): boolean {
  if (risk === undefined) return false;
  return RISK_LEVELS.indexOf(risk) >= RISK_LEVELS.indexOf(floor);
}
