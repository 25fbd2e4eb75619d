import { type AuditEvent, canonicalJson, parseStrictJson } from "@audit/core";
import { assertValidEvent, eventColumns } from "@audit/core/store-kit";
import type { Database } from "better-sqlite3";
import { bindRow, INSERT_COLUMNS, type InsertRow, timeValue, toRow } from "./row-layout.js";

/** The schema-2 table (see `row-layout.ts` for what each column holds). */
const TABLE = `
  CREATE TABLE audit_events (
    pk             INTEGER PRIMARY KEY,
    time           INTEGER NOT NULL,
    id             TEXT NOT NULL UNIQUE,
    type           TEXT NOT NULL,
    actor          TEXT,
    session_id     TEXT,
    run_id         TEXT,
    span_id        TEXT,
    parent_span_id TEXT,
    trace_id       TEXT,
    approval_id    TEXT,
    risk_level     INTEGER,
    chain_id       TEXT,
    chain_seq      INTEGER,
    chain_prev     BLOB,
    chain_hash     BLOB,
    data           TEXT,
    extra          TEXT
  )`;

// One index per filter, each ending in time so a filtered page comes out nearly in order; the row
// id they end in is SQLite's own. Nothing else: prune finds chain heads without an index.
const INDEXES = `
  CREATE INDEX audit_events_time ON audit_events (time, id);
  CREATE INDEX audit_events_type ON audit_events (type, time);
  CREATE INDEX audit_events_actor ON audit_events (actor, time) WHERE actor IS NOT NULL;
  CREATE INDEX audit_events_session ON audit_events (session_id, time) WHERE session_id IS NOT NULL;
  CREATE INDEX audit_events_run ON audit_events (run_id, time) WHERE run_id IS NOT NULL;
  CREATE INDEX audit_events_approval ON audit_events (approval_id) WHERE approval_id IS NOT NULL;
  CREATE INDEX audit_events_risk ON audit_events (risk_level, time) WHERE risk_level IS NOT NULL;`;

interface Schema1Row {
  pk: number;
  id: string;
  time: string;
  type: string;
  actor: string | null;
  session_id: string | null;
  run_id: string | null;
  approval_id: string | null;
  risk_level: number | null;
  chain_id: string | null;
  chain_seq: number | null;
  body: Uint8Array;
}

/**
 * Moves a schema-1 table into the schema-2 layout, keeping every row's rowid (live tails resume
 * where they were). Runs inside the migration's transaction: other processes wait, and see either
 * schema 1 or all of schema 2.
 */
export function upgradeToSchema2(db: Database): void {
  db.exec(`ALTER TABLE audit_events RENAME TO audit_events_schema1; ${TABLE}`);
  const page = db.prepare(
    "SELECT pk, id, time, type, actor, session_id, run_id, approval_id, risk_level, chain_id, chain_seq, CAST(body AS BLOB) AS body FROM audit_events_schema1 WHERE pk > ? ORDER BY pk LIMIT 500",
  );
  const insert = db.prepare(
    `INSERT INTO audit_events (${INSERT_COLUMNS}, pk) VALUES (${"?, ".repeat(16)}CAST(? AS TEXT), ?)`,
  );
  let last = 0;
  for (;;) {
    const rows = page.all(last) as Schema1Row[];
    for (const r of rows) insert.run(...bindRow(schema2Row(r)), r.pk);
    if (rows.length < 500) break;
    last = rows[rows.length - 1]!.pk;
  }
  db.exec(`DROP TABLE audit_events_schema1; ${INDEXES}`);
}

/**
 * A schema-1 row in the schema-2 layout. The body is split into columns when that keeps what a
 * verifier sees: strict JSON, an event, and columns that agree with it; the payload is then
 * re-encoded canonically, which leaves its hash as it was. Anything else is kept verbatim, so a
 * finding about it (a forged column, a duplicate key, bytes that are not UTF-8) survives the move.
 * The risk and approval columns are copied as they were, for the same reason.
 */
function schema2Row(r: Schema1Row): InsertRow {
  const event = strictEvent(r.body);
  if (event && agrees(r, event)) {
    try {
      const row = toRow(event, canonicalJson(event.data));
      row[9] = r.approval_id;
      row[10] = r.risk_level;
      return row;
    } catch {
      // A time that is no real instant: kept verbatim below.
    }
  }
  const lenient = lenientEvent(r.body);
  const chain = lenient?.chain;
  return [
    timeValue(r.time),
    r.id,
    r.type,
    r.actor,
    r.session_id,
    r.run_id,
    stringOrNull(lenient?.spanId),
    stringOrNull(lenient?.parentSpanId),
    stringOrNull(lenient?.traceId),
    r.approval_id,
    r.risk_level,
    r.chain_id,
    r.chain_seq,
    stringOrNull(chain?.prev),
    stringOrNull(chain?.hash),
    null,
    r.body,
    // A verbatim row: no data, the body's bytes as they were (bound as text by the insert).
  ] as unknown as InsertRow;
}

function strictEvent(body: Uint8Array): AuditEvent | undefined {
  try {
    const parsed = parseStrictJson(body);
    assertValidEvent(parsed);
    return parsed;
  } catch {
    return undefined;
  }
}

// Schema 1 kept these as copies of the body; schema 2 keeps them instead of the body's members.
function agrees(r: Schema1Row, e: AuditEvent): boolean {
  const c = eventColumns(e);
  return (
    c.id === r.id &&
    c.time === r.time &&
    c.type === r.type &&
    c.actor === r.actor &&
    c.sessionId === r.session_id &&
    c.runId === r.run_id &&
    c.chainId === r.chain_id &&
    c.chainSeq === r.chain_seq
  );
}

function lenientEvent(body: Uint8Array): Partial<AuditEvent> | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(body).toString("utf8")) as unknown;
    return parsed !== null && typeof parsed === "object"
      ? (parsed as Partial<AuditEvent>)
      : undefined;
  } catch {
    return undefined;
  }
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}
