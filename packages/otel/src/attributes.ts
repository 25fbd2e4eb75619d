import type { AuditEvent } from "@audit/core";
import type { Attributes, AttributeValue } from "@opentelemetry/api";

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Content as the string a span attribute can hold (spans take no structured values yet). */
export function json(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Drops undefined and null values, which OpenTelemetry attributes must not hold. */
export function clean(attrs: Record<string, unknown>): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    out[k] = v as AttributeValue;
  }
  return out;
}

const RISK_RANK: Record<string, number> = { low: 1, medium: 2, high: 3, critical: 4 };

/** The higher of two risk levels (a span shows the highest risk of its events). */
export function higherRisk(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return (RISK_RANK[b] ?? 0) > (RISK_RANK[a] ?? 0) ? b : a;
}

/** The audit ids every span and span event carries, leading back to the stored event. */
export function auditAttributes(e: AuditEvent): Attributes {
  return clean({
    "audit.event.id": e.id,
    "audit.event.type": e.type,
    "audit.run.id": e.runId,
    "audit.actor": e.actor,
    "audit.risk": e.risk,
    "audit.chain.id": e.chain?.id,
    "audit.chain.seq": e.chain?.seq,
    "audit.chain.hash": e.chain?.hash,
  });
}

/** What an error in an event's payload says, for `error.type` and the `exception` event. */
export function errorOf(e: AuditEvent): {
  type: string;
  message: string | undefined;
  stack: string | undefined;
} {
  const d = e.data;
  const err = (typeof d.error === "object" && d.error !== null ? d.error : {}) as Record<
    string,
    unknown
  >;
  return {
    type: str(d.errorType) ?? str(err.name) ?? "Error",
    message:
      str(d.message) ?? str(err.message) ?? (typeof d.error === "string" ? d.error : undefined),
    stack: str(d.stack) ?? str(err.stack),
  };
}
