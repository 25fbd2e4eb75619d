import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type TestApi, tamperSuite } from "@audit/test-suite";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../src/index.js";
import { type EventRow, rowText } from "../src/row-layout.js";

const t = { describe, it, expect, beforeEach, afterEach } as unknown as TestApi;

// The attacker's handle: a second connection to the same file, writing rows directly.
function withDb<T>(file: string, fn: (db: BetterSqlite3.Database) => T): T {
  const db = new BetterSqlite3(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function textOf(db: BetterSqlite3.Database, id: string): string {
  const row = db.prepare("SELECT * FROM audit_events WHERE id = ?").get(id) as EventRow | undefined;
  if (!row) throw new Error(`no row ${id}`);
  return rowText(row);
}

tamperSuite(t, {
  name: "SqliteStore",
  create: async () => {
    const file = join(mkdtempSync(join(tmpdir(), "audit-sqlite-tamper-")), "audit.db");
    return { store: new SqliteStore({ filename: file }), location: file };
  },
  openReadOnly: async (file) => new SqliteStore({ filename: file, readOnly: true }),
  openWritable: async (file) => new SqliteStore({ filename: file }),
  missing: async () => {
    const file = join(mkdtempSync(join(tmpdir(), "audit-sqlite-missing-")), "typo.db");
    return {
      location: file,
      exists: async () => existsSync(file) || existsSync(`${file}-wal`),
    };
  },
  // A row's text is put together from its columns; to replace it, the attacker writes a row of the
  // verbatim kind (data NULL, the whole text in extra), as the schema-1 migration may leave them,
  // leaving every column as it was. tamper-columns.test.ts forges the columns themselves.
  raw: {
    keepsText: true,
    holdsBytes: true,
    getText: async (file, id) => withDb(file, (db) => textOf(db, id)),
    setText: async (file, id, text) => {
      withDb(file, (db) => {
        // Bytes go in as text unchecked, as any SQLite client can store them.
        const changed = db
          .prepare("UPDATE audit_events SET data = NULL, extra = CAST(? AS TEXT) WHERE id = ?")
          .run(typeof text === "string" ? text : Buffer.from(text), id).changes;
        if (changed !== 1) throw new Error(`no row ${id}`);
      });
    },
    swap: async (file, a, b) => {
      withDb(file, (db) => {
        const set = db.prepare("UPDATE audit_events SET data = NULL, extra = ? WHERE id = ?");
        const ta = textOf(db, a);
        const tb = textOf(db, b);
        set.run(tb, a);
        set.run(ta, b);
      });
    },
    setRiskColumn: async (file, id, level) => {
      withDb(file, (db) => {
        db.prepare("UPDATE audit_events SET risk_level = ? WHERE id = ?").run(level, id);
      });
    },
  },
  cleanup: async (file) => {
    rmSync(dirname(file), { recursive: true, force: true });
  },
});
