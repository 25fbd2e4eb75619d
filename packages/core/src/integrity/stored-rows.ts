import { type AuditEvent, RISK_LEVELS } from "../event.js";
import type { IndexedColumn, StoredRow } from "../store.js";
import { assertValidEvent } from "../validate.js";
import { checkStrictJson, decodeUtf8Strict, type StrictJsonViolation } from "./strict-json.js";

// What each indexed column must hold, computed from the body the same way the stores compute it
// when they write the row.
const EXPECTED: Record<IndexedColumn, (e: AuditEvent) => string | number | null> = {
  id: (e) => e.id,
  time: (e) => e.time,
  type: (e) => e.type,
  actor: (e) => e.actor ?? null,
  sessionId: (e) => e.sessionId ?? null,
  runId: (e) => e.runId ?? null,
  spanId: (e) => e.spanId ?? null,
  parentSpanId: (e) => e.parentSpanId ?? null,
  traceId: (e) => e.traceId ?? null,
  approvalId: (e) => (typeof e.data?.approvalId === "string" ? e.data.approvalId : null),
  risk: (e) => e.risk ?? null,
  riskLevel: (e) => (e.risk === undefined ? null : RISK_LEVELS.indexOf(e.risk)),
  chainId: (e) => e.chain?.id ?? null,
  chainSeq: (e) => e.chain?.seq ?? null,
};

/** A stored row read back: the event it holds, or why it could not be believed. */
export type RowReading =
  | {
      event: AuditEvent;
      location: string;
      /** The strict rule the text breaks, if any. */
      violation: StrictJsonViolation | undefined;
      columns: ColumnDifference[];
      /** Columns the store reported that verify does not know. */
      unknown: string[];
    }
  | { unreadable: string; location: string; eventId?: string };

/** An indexed column that does not hold what the body says. */
export interface ColumnDifference {
  column: string;
  stored: string | number | null;
  body: string | number | null;
}

/**
 * Reads one stored row: strict text first (valid UTF-8, RFC 8259, no duplicate key, no non-finite
 * number, no lone surrogate), then the event, then each indexed column against the body. A row
 * whose text breaks a strict rule is still read leniently, so the chain checks see it too.
 */
export function readStoredRow(row: StoredRow): RowReading {
  let text: string;
  let violation: StrictJsonViolation | undefined;
  if (typeof row.text === "string") text = row.text;
  else {
    const decoded = decodeUtf8Strict(row.text);
    if ("violation" in decoded) {
      violation = decoded.violation;
      text = Buffer.from(row.text).toString("utf8");
    } else text = decoded.text;
  }
  violation ??= checkStrictJson(text);
  let event: AuditEvent;
  try {
    const parsed = JSON.parse(text) as unknown;
    assertValidEvent(parsed);
    event = parsed;
  } catch (err) {
    const id = typeof row.columns?.id === "string" ? row.columns.id : undefined;
    return {
      unreadable:
        violation?.rule === "syntax"
          ? `not JSON: ${violation.detail}`
          : `not an audit event: ${(err as Error).message.replace(/^\[audit\] /, "")}`,
      location: row.location,
      ...(id !== undefined && { eventId: id }),
    };
  }
  const columns: ColumnDifference[] = [];
  const unknown: string[] = [];
  if (row.columns) {
    for (const [column, stored] of Object.entries(row.columns)) {
      const expected = EXPECTED[column as IndexedColumn];
      if (!expected) {
        unknown.push(column);
        continue;
      }
      const body = expected(event);
      if ((stored ?? null) !== body) columns.push({ column, stored: stored ?? null, body });
    }
  }
  return { event, location: row.location, violation, columns, unknown };
}
