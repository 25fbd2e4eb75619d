import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { AuditEvent, AuditStore } from "@audit/core";
import { runStoreConformance } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../src/index.js";
import { type EventRow, rowText } from "../src/row-layout.js";

let dir: string;

runStoreConformance(
  { describe, it, expect, beforeEach, afterEach },
  {
    name: "SqliteStore",
    create: () => {
      dir = mkdtempSync(join(tmpdir(), "audit-sqlite-"));
      return new SqliteStore({ filename: join(dir, "audit.db") });
    },
    reopen: async (store: AuditStore) => {
      await store.close();
      return new SqliteStore({ filename: (store as SqliteStore).filename });
    },
    // Straight from the table, without the store's query code: each row's text put back together.
    readRaw: async (store: AuditStore) => {
      const rows = (store as SqliteStore).database
        .prepare("SELECT * FROM audit_events")
        .all() as EventRow[];
      return rows.map((r) => JSON.parse(rowText(r)) as AuditEvent);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    // Child processes open the file through the built package.
    processes: {
      module: new URL("../dist/index.js", import.meta.url).href,
      location: () =>
        `sqlite:${join(mkdtempSync(join(tmpdir(), "audit-sqlite-proc-")), "audit.db")}`,
      remove: (url) =>
        rmSync(dirname(url.slice("sqlite:".length)), { recursive: true, force: true }),
    },
  },
);
