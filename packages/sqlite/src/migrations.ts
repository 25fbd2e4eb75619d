import type { Database } from "better-sqlite3";
import { upgradeToSchema2 } from "./schema-2.js";

/**
 * One step of the schema: SQL, or a function for a step that must rewrite rows. Steps run in
 * order, each once, inside one immediate transaction.
 */
export interface Migration {
  version: number;
  up: string | ((db: Database) => void);
}

/** The schema, as versioned steps. Never edit a released step: add a new one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE audit_events (
        pk             INTEGER PRIMARY KEY,
        id             TEXT NOT NULL UNIQUE,
        time           TEXT NOT NULL,
        type           TEXT NOT NULL,
        actor          TEXT,
        session_id     TEXT,
        run_id         TEXT,
        approval_id    TEXT,
        risk_level     INTEGER,
        chain_id       TEXT,
        chain_seq      INTEGER,
        body           TEXT NOT NULL
      );
      CREATE INDEX audit_events_time ON audit_events (time, id);
      CREATE INDEX audit_events_type ON audit_events (type, time, id);
      CREATE INDEX audit_events_session ON audit_events (session_id, time, id) WHERE session_id IS NOT NULL;
      CREATE INDEX audit_events_run ON audit_events (run_id, time, id) WHERE run_id IS NOT NULL;
      CREATE INDEX audit_events_actor ON audit_events (actor, time, id) WHERE actor IS NOT NULL;
      CREATE INDEX audit_events_approval ON audit_events (approval_id) WHERE approval_id IS NOT NULL;
      CREATE INDEX audit_events_risk ON audit_events (risk_level, time, id) WHERE risk_level IS NOT NULL;
      CREATE INDEX audit_events_chain ON audit_events (chain_id, chain_seq) WHERE chain_id IS NOT NULL;
    `,
  },
  // Each field once (the envelope in columns, the body without them), times as milliseconds, and
  // only the indexes the filters use: about 1,225 bytes per small event become about 530.
  { version: 2, up: upgradeToSchema2 },
];

/** The schema version this package writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings the database to the current schema. Safe when several processes open the same file at
 * once: the version is read and the steps run inside one `BEGIN IMMEDIATE` transaction, so only
 * one process migrates and the others see its result (or, if it fails, the database as it was).
 * A database from a newer version is refused.
 */
export function migrate(db: Database): number {
  db.exec("CREATE TABLE IF NOT EXISTS audit_schema_version (version INTEGER NOT NULL)");
  const run = db.transaction(() => {
    const row = db.prepare("SELECT max(version) AS v FROM audit_schema_version").get() as {
      v: number | null;
    };
    const current = row.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `the database has schema version ${current}, newer than this @audit/sqlite understands (${SCHEMA_VERSION}); upgrade @audit/sqlite`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      if (typeof m.up === "string") db.exec(m.up);
      else m.up(db);
      db.prepare("INSERT INTO audit_schema_version (version) VALUES (?)").run(m.version);
    }
    return SCHEMA_VERSION;
  });
  return run.immediate();
}

/**
 * Checks, without writing, that a database opened read-only holds an audit trail this package
 * can read.
 * @throws when the tables are missing or the schema is newer than this package.
 */
export function checkSchema(db: Database): number {
  const table = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_schema_version'",
    )
    .get();
  if (!table) {
    throw new Error("it holds no audit trail (no audit_schema_version table)");
  }
  const row = db.prepare("SELECT max(version) AS v FROM audit_schema_version").get() as {
    v: number | null;
  };
  const current = row.v ?? 0;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `the database has schema version ${current}, newer than this @audit/sqlite understands (${SCHEMA_VERSION}); upgrade @audit/sqlite`,
    );
  }
  if (current < SCHEMA_VERSION) {
    throw new Error(
      `the database has schema version ${current} and is open read-only, so it cannot be migrated to ${SCHEMA_VERSION}; open it once with write access`,
    );
  }
  return current;
}
