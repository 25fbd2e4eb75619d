import { AuditClosedError, type AuditEvent, type AuditExporter, type Risk } from "@audit/core";

/** The four levels every supported logger has. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Anything with the four leveled methods: pino, winston, console, bunyan, your own. */
export interface LeveledLogger {
  debug(...args: unknown[]): unknown;
  info(...args: unknown[]): unknown;
  warn(...args: unknown[]): unknown;
  error(...args: unknown[]): unknown;
}

/** Options of {@link LoggingExporter}. */
export interface LoggingExporterOptions {
  /** The logger. @default console */
  logger?: LeveledLogger;
  /**
   * How the logger takes a record: `"object-first"` (`logger.info(fields, message)`, pino's way) or
   * `"message-first"` (`logger.info(message, fields)`, winston's and console's way).
   * @default detected: object-first for pino, message-first otherwise
   */
  style?: "object-first" | "message-first";
  /**
   * The level of each risk.
   * @default { low: "debug", medium: "info", high: "warn", critical: "error" }
   */
  levels?: Partial<Record<Risk, LogLevel>>;
  /**
   * The level of events without a risk.
   * @default "info"
   */
  defaultLevel?: LogLevel;
  /**
   * The lowest level of failures (`tool.error`, `error`, a `run.end` with status error, a denied
   * policy), whatever their risk says.
   * @default "warn"
   */
  failureLevel?: LogLevel;
}

const ORDER: LogLevel[] = ["debug", "info", "warn", "error"];
const DEFAULT_LEVELS: Record<Risk, LogLevel> = {
  low: "debug",
  medium: "info",
  high: "warn",
  critical: "error",
};

function isPino(logger: unknown): boolean {
  const l = logger as { levels?: { values?: unknown }; bindings?: unknown } | undefined;
  return typeof l?.bindings === "function" && typeof l.levels?.values === "object";
}

function isFailure(e: AuditEvent): boolean {
  return (
    e.type === "tool.error" ||
    e.type === "error" ||
    (e.type === "run.end" && e.data.status === "error") ||
    (e.type === "policy.decision" && e.data.decision === "deny") ||
    (e.type === "action" &&
      (e.data.status === "failed" || e.data.status === "denied" || e.data.status === "blocked"))
  );
}

/** A one-line summary: the type and the payload's most telling field. */
function summary(e: AuditEvent): string {
  const d = e.data;
  const detail = d.tool ?? d.model ?? d.policy ?? d.action ?? d.actionType ?? d.agent ?? d.message;
  const extra =
    typeof d.decision === "string"
      ? ` ${d.decision}`
      : typeof d.status === "string"
        ? ` ${d.status}`
        : "";
  return typeof detail === "string" ? `${e.type} ${detail}${extra}` : `${e.type}${extra}`;
}

/** The structured record of an event: its ids, where it belongs, its risk, and its payload. */
export function logRecord(e: AuditEvent): Record<string, unknown> {
  const r: Record<string, unknown> = { eventId: e.id, eventType: e.type, eventTime: e.time };
  if (e.actor !== undefined) r.actor = e.actor;
  if (e.sessionId !== undefined) r.sessionId = e.sessionId;
  if (e.runId !== undefined) r.runId = e.runId;
  if (e.spanId !== undefined) r.spanId = e.spanId;
  if (e.parentSpanId !== undefined) r.parentSpanId = e.parentSpanId;
  if (e.traceId !== undefined) r.traceId = e.traceId;
  if (e.risk !== undefined) r.risk = e.risk;
  if (e.chain) {
    r.chainId = e.chain.id;
    r.chainSeq = e.chain.seq;
    r.chainHash = e.chain.hash;
  }
  r.data = e.data;
  return r;
}

/**
 * Logs every audit event as one structured record through a leveled logger. The level follows the
 * risk (low → debug, medium → info, high → warn, critical → error, configurable), and failures are
 * at least `warn`. A logger that throws is reported to the auditor's `onError`, like any exporter.
 */
export class LoggingExporter implements AuditExporter {
  readonly id = "logging";
  readonly #logger: LeveledLogger;
  readonly #objectFirst: boolean;
  readonly #levels: Record<Risk, LogLevel>;
  readonly #defaultLevel: LogLevel;
  readonly #failureLevel: LogLevel;
  #shutdown = false;

  constructor(options: LoggingExporterOptions = {}) {
    this.#logger = options.logger ?? console;
    this.#objectFirst = options.style ? options.style === "object-first" : isPino(this.#logger);
    this.#levels = { ...DEFAULT_LEVELS, ...options.levels };
    this.#defaultLevel = options.defaultLevel ?? "info";
    this.#failureLevel = options.failureLevel ?? "warn";
    for (const l of [...Object.values(this.#levels), this.#defaultLevel, this.#failureLevel]) {
      if (!ORDER.includes(l))
        throw new Error(
          `[audit] [exporter logging] unknown level "${l}"; use debug, info, warn or error`,
        );
    }
  }

  /** The level an event is logged at. */
  levelOf(e: AuditEvent): LogLevel {
    let level = e.risk ? this.#levels[e.risk] : this.#defaultLevel;
    if (isFailure(e) && ORDER.indexOf(level) < ORDER.indexOf(this.#failureLevel))
      level = this.#failureLevel;
    return level;
  }

  async export(events: readonly AuditEvent[]): Promise<void> {
    if (this.#shutdown)
      throw new AuditClosedError("[audit] [exporter logging] export after shutdown");
    for (const e of events) {
      const level = this.levelOf(e);
      const record = logRecord(e);
      const message = summary(e);
      if (this.#objectFirst) this.#logger[level](record, message);
      else this.#logger[level](message, record);
    }
  }

  async shutdown(): Promise<void> {
    this.#shutdown = true;
  }
}

/** For `AUDIT_EXPORTERS=logging`: records to the console (standard output / error by level). */
export function createExporterFromEnv(): LoggingExporter {
  return new LoggingExporter({ logger: console });
}
