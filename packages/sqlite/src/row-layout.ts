import {
  type AuditEvent,
  AuditValidationError,
  canonicalJson,
  type IndexedColumn,
  RISK_LEVELS,
} from "@audit/core";
import { eventDataText } from "@audit/core/store-kit";

/**
 * How an event is kept in a row of `audit_events` (schema 2), each field once: the envelope and
 * the chain link in columns, `data` as the canonical text the seal hashed, and in `extra` the
 * members no column holds exactly (`risk`, a chain of another shape, a string with a lone
 * surrogate, members of a newer format) as a canonical JSON object. Reading puts the canonical
 * text back together from them, so a reader, and the verifier, get the bytes that were hashed.
 *
 * A row whose `data` is NULL is kept verbatim instead: `extra` holds its whole stored text. Only
 * the schema-1 migration writes such rows, for bodies it cannot split without changing what a
 * verifier would see (text that is not strict JSON, or columns that disagree with their body).
 */

/** The columns an append writes, in {@link InsertRow} order. */
export const INSERT_COLUMNS =
  "time, id, type, actor, session_id, run_id, span_id, parent_span_id, trace_id, approval_id, risk_level, chain_id, chain_seq, chain_prev, chain_hash, data, extra";

/** The columns a read needs to rebuild an event. */
export const EVENT_COLUMNS =
  "time, id, type, actor, session_id, run_id, span_id, parent_span_id, trace_id, chain_id, chain_seq, " +
  `${hexOf("chain_prev")}, ${hexOf("chain_hash")}, data, extra`;

/**
 * One row to insert, in {@link INSERT_COLUMNS} order, built on the caller's thread. The chain
 * hashes are still text here: {@link bindRow} (or the write thread) turns them into bytes, off the
 * thread that records.
 */
export type InsertRow = [
  time: number,
  id: string,
  type: string,
  actor: string | null,
  sessionId: string | null,
  runId: string | null,
  spanId: string | null,
  parentSpanId: string | null,
  traceId: string | null,
  approvalId: string | null,
  riskLevel: number | null,
  chainId: string | null,
  chainSeq: number | null,
  chainPrev: string | null,
  chainHash: string | null,
  data: string,
  extra: string | null,
];

// A hash kept as bytes is read as lowercase hex by SQLite itself: no Buffer (and no ArrayBuffer
// for the collector to track) per hash per row; anything else stored there comes back as it is.
function hexOf(column: string): string {
  return `CASE WHEN typeof(${column}) = 'blob' THEN lower(hex(${column})) ELSE ${column} END AS ${column}`;
}

/** A row as read back: the columns of {@link EVENT_COLUMNS}, values as SQLite returns them. */
export interface EventRow {
  time: unknown;
  id: unknown;
  type: unknown;
  actor: unknown;
  session_id: unknown;
  run_id: unknown;
  span_id: unknown;
  parent_span_id: unknown;
  trace_id: unknown;
  chain_id: unknown;
  chain_seq: unknown;
  chain_prev: unknown;
  chain_hash: unknown;
  data: string | Uint8Array | null;
  extra: string | Uint8Array | null;
}

// The envelope members kept in a column as text, with their column, in canonical (sorted) order.
const TEXT_MEMBERS = [
  ["actor", "actor"],
  ["parentSpanId", "parent_span_id"],
  ["runId", "run_id"],
  ["sessionId", "session_id"],
  ["spanId", "span_id"],
  ["traceId", "trace_id"],
] as const;
// The members a row's columns hold, in canonical (sorted) order, as JSON text; undefined when absent.
const q = (value: unknown) => (value === null ? undefined : JSON.stringify(value));
const COLUMN_MEMBERS: [string, (r: EventRow) => string | undefined][] = [
  ["actor", (r) => q(r.actor)],
  [
    "chain",
    (r) =>
      r.chain_id === null
        ? undefined
        : `{"hash":${JSON.stringify(hashText(r.chain_hash))},"id":${JSON.stringify(r.chain_id)},"prev":${JSON.stringify(hashText(r.chain_prev))},"seq":${JSON.stringify(r.chain_seq)}}`,
  ],
  ["id", (r) => JSON.stringify(r.id)],
  ["parentSpanId", (r) => q(r.parent_span_id)],
  ["runId", (r) => q(r.run_id)],
  ["sessionId", (r) => q(r.session_id)],
  ["spanId", (r) => q(r.span_id)],
  ["time", (r) => JSON.stringify(timeText(r.time))],
  ["traceId", (r) => q(r.trace_id)],
  ["type", (r) => JSON.stringify(r.type)],
];
const IN_COLUMNS = new Set([
  "id",
  "type",
  "time",
  "data",
  "chain",
  ...TEXT_MEMBERS.map((m) => m[0]),
]);
const HASH = /^[0-9a-f]{64}$/;

/**
 * The row of an event. `data` is the canonical text of its payload: the seal's own text for an
 * event sealed in this process, so nothing is serialised twice.
 * @throws AuditValidationError for a time that is no real instant (`2026-02-30T…`): it could not
 * be kept as milliseconds, and would sort apart from its text.
 */
export function toRow(e: AuditEvent, data: string = eventDataText(e)): InsertRow {
  const time = Date.parse(e.time);
  // V8 reads a day past its month's end (02-30) or hour 24 as a later instant; other times are
  // exact, and need no round trip.
  const late = e.time.slice(8, 10) > "28" || e.time.slice(11, 13) === "24";
  if (late && timeText(time) !== e.time) {
    throw new AuditValidationError(`event ${e.id}: time ${e.time} is not a real UTC instant`, {
      stage: "store",
    });
  }
  let rest: string[] | undefined;
  for (const key in e) {
    const value = (e as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const exact =
      IN_COLUMNS.has(key) &&
      (key === "data" || (key === "chain" ? isPlainLink(value) : isExactText(value)));
    if (exact) continue;
    rest ??= [];
    rest.push(key);
  }
  const chain = e.chain;
  const plain = chain !== undefined && !rest?.includes("chain");
  return [
    time,
    e.id,
    e.type,
    e.actor ?? null,
    e.sessionId ?? null,
    e.runId ?? null,
    e.spanId ?? null,
    e.parentSpanId ?? null,
    e.traceId ?? null,
    typeof e.data.approvalId === "string" ? e.data.approvalId : null,
    e.risk === undefined ? null : RISK_LEVELS.indexOf(e.risk),
    typeof chain?.id === "string" ? chain.id : null,
    typeof chain?.seq === "number" ? chain.seq : null,
    plain ? chain.prev : null,
    plain ? chain.hash : null,
    data,
    rest === undefined ? null : membersText(e, rest),
  ];
}

// The canonical JSON object of some members. Without a prototype and in sorted order, a member
// named "__proto__" stays a member.
function membersText(e: AuditEvent, keys: string[]): string {
  const members: Record<string, unknown> = Object.create(null);
  for (const key of keys.sort()) members[key] = (e as unknown as Record<string, unknown>)[key];
  return canonicalJson(members);
}

// A string SQLite keeps exactly: one without a lone surrogate (stored as UTF-8, it would become
// U+FFFD and no longer match its hash).
function isExactText(value: unknown): boolean {
  return typeof value === "string" && (value as WellFormed).isWellFormed();
}

// In Node since 20 (ES2024), not yet in the ES2023 library types this package compiles against.
type WellFormed = string & { isWellFormed(): boolean };

function isPlainLink(value: unknown): value is AuditEvent["chain"] & object {
  if (value === null || typeof value !== "object") return false;
  let keys = 0;
  for (const _ in value) keys++;
  const c = value as Record<string, unknown>;
  return (
    keys === 4 &&
    isExactText(c.id) &&
    Number.isSafeInteger(c.seq) &&
    isExactText(c.prev) &&
    isExactText(c.hash)
  );
}

/**
 * The values an {@link InsertRow} is bound with: a chain hash that is a SHA-256 in lowercase hex
 * is kept as its 32 bytes, anything else as the text it is. (The write thread does the same in its
 * own source; a test checks that both paths store the same rows.)
 */
export function bindRow(row: InsertRow): unknown[] {
  const out: unknown[] = row;
  for (const i of [13, 14]) {
    const hash = row[i];
    if (typeof hash === "string" && HASH.test(hash)) out[i] = Buffer.from(hash, "hex");
  }
  return out;
}

/** A stored hash as text: bytes in lowercase hex, anything else as it is. */
export function hashText(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString("hex");
  return value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value;
}

/** The RFC 3339 text of a stored time (milliseconds); any other stored value as it is. */
export function timeText(value: unknown): string {
  if (typeof value === "number" && Math.abs(value) <= 8.64e15) {
    return new Date(value).toISOString();
  }
  return String(value);
}

/** The value a time is stored and compared as: milliseconds, or the text when it is no time. */
export function timeValue(iso: string): number | string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : ms;
}

const utf8 = new TextDecoder();

function text(value: unknown): string {
  return typeof value === "string" ? value : utf8.decode(value as Uint8Array);
}

/** The event a row holds. */
export function rowEvent(r: EventRow): AuditEvent {
  if (r.data === null) return JSON.parse(text(r.extra)) as AuditEvent;
  const e: Record<string, unknown> = { id: r.id, type: r.type, time: timeText(r.time) };
  for (const [member, column] of TEXT_MEMBERS) if (r[column] !== null) e[member] = r[column];
  e.data = JSON.parse(text(r.data));
  if (r.chain_id !== null) {
    e.chain = {
      id: r.chain_id,
      seq: r.chain_seq,
      prev: hashText(r.chain_prev),
      hash: hashText(r.chain_hash),
    };
  }
  if (r.extra !== null) {
    const extra = JSON.parse(text(r.extra)) as Record<string, unknown>;
    // defineProperty, not assignment: a member named "__proto__" stays a member.
    for (const key of Object.keys(extra)) {
      Object.defineProperty(e, key, {
        value: extra[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return e as unknown as AuditEvent;
}

/**
 * The canonical text of a row's event around its `data`: the event's text is `before`, the data's
 * stored text, then `after`. Split so that the data's stored bytes can go in unchanged (bytes that
 * are not UTF-8 must reach the verifier as they are). Undefined for a verbatim row.
 */
export function textAround(r: EventRow): { before: string; after: string } | undefined {
  if (r.data === null) return undefined;
  // [key, `"key":value`], in canonical order.
  const members: [string, string][] = [];
  for (const [key, value] of COLUMN_MEMBERS) {
    const v = value(r);
    if (v !== undefined) members.push([key, `"${key}":${v}`]);
  }
  if (r.extra !== null) {
    const extra = JSON.parse(text(r.extra)) as Record<string, unknown>;
    for (const key of Object.keys(extra)) {
      const at = members.findIndex((m) => m[0] === key);
      if (at >= 0) members.splice(at, 1);
      members.push([key, `${JSON.stringify(key)}:${canonicalJson(extra[key])}`]);
    }
    // Canonical order: keys compared as UTF-16 code units, which is what `<` on strings does.
    members.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }
  let before = "{";
  let after = "";
  for (const [key, member] of members) {
    if (key < "data") before += `${member},`;
    else after += `,${member}`;
  }
  return { before: `${before}"data":`, after: `${after}}` };
}

/** The stored text of a row: its canonical event text, or the verbatim text it holds. */
export function rowText(r: EventRow): string {
  const around = textAround(r);
  if (!around) return text(r.extra);
  return around.before + text(r.data) + around.after;
}

/** The row's stored bytes, for the verifier (see {@link textAround}). */
export function rowBytes(r: EventRow): Uint8Array {
  const around = textAround(r);
  if (!around) return bytes(r.extra);
  return Buffer.concat([Buffer.from(around.before), bytes(r.data), Buffer.from(around.after)]);
}

function bytes(value: string | Uint8Array | null): Uint8Array {
  return typeof value === "string" ? Buffer.from(value) : (value ?? new Uint8Array());
}

/** The indexed columns of a row as stored, in the terms `verifyChain` compares with the text. */
export function rowColumns(
  r: EventRow & { approval_id: unknown; risk_level: unknown },
): Partial<Record<IndexedColumn, string | number | null>> {
  const v = (x: unknown) => x as string | number | null;
  return {
    id: v(r.id),
    time: timeText(r.time),
    type: v(r.type),
    actor: v(r.actor),
    sessionId: v(r.session_id),
    runId: v(r.run_id),
    spanId: v(r.span_id),
    parentSpanId: v(r.parent_span_id),
    traceId: v(r.trace_id),
    approvalId: v(r.approval_id),
    riskLevel: v(r.risk_level),
    chainId: v(r.chain_id),
    chainSeq: v(r.chain_seq),
  };
}
