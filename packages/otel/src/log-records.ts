import type { AuditEvent } from "@audit/core";
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from "@opentelemetry/api";
import { auditAttributes } from "./attributes.js";

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A log record as the OpenTelemetry logs API (`@opentelemetry/api-logs`) takes it. */
export interface AuditLogRecord {
  /** The audit event type, e.g. `tool.end`. */
  eventName: string;
  /** The event's time, in milliseconds since the epoch. */
  timestamp: number;
  /** From the event's risk: INFO (none, low), WARN (medium), ERROR (high), FATAL (critical). */
  severityNumber: number;
  /** The severity's name: `INFO`, `WARN`, `ERROR` or `FATAL`. */
  severityText: string;
  /** The whole audit event, as stored (what the auditor's privacy settings left in it). */
  body: { [key: string]: Json };
  /** The audit attributes of the event (`audit.event.id`, `audit.run.id`, …). */
  attributes: Attributes;
  /** The span the event belongs to, so the record is correlated with its trace. */
  context: Context;
}

/**
 * What the exporter needs of a logger: an OpenTelemetry `Logger` from `@opentelemetry/api-logs`
 * (`loggerProvider.getLogger("@audit/otel")`) fits as it is.
 */
export interface AuditLogger {
  /** Hands one record to the logs pipeline. */
  emit(record: AuditLogRecord): void;
}

const SEVERITY: Record<string, [number, string]> = {
  low: [9, "INFO"],
  medium: [13, "WARN"],
  high: [17, "ERROR"],
  critical: [21, "FATAL"],
};

/** The log record of an audit event, inside the span it was exported in. */
export function logRecordOf(e: AuditEvent, span: SpanContext | undefined): AuditLogRecord {
  const [severityNumber, severityText] = SEVERITY[e.risk ?? "low"] ?? [9, "INFO"];
  return {
    eventName: e.type,
    timestamp: Date.parse(e.time),
    severityNumber,
    severityText,
    body: JSON.parse(JSON.stringify(e)) as { [key: string]: Json },
    attributes: auditAttributes(e),
    context: span ? trace.setSpanContext(ROOT_CONTEXT, span) : ROOT_CONTEXT,
  };
}
