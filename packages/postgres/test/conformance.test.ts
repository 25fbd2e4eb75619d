import type { AuditEvent, AuditStore } from "@audit/core";
import { runStoreConformance, type TestApi } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresStore, type PostgresStoreOptions } from "../src/index.js";
import { adminQuery, dropSchema, freshSchema, PG_URL, serverAvailable } from "./postgres.js";

const available = await serverAvailable();
const t = {
  describe: available ? describe : describe.skip,
  it,
  expect,
  beforeEach,
  afterEach,
} as unknown as TestApi;

// The same suite for each layout of the events table.
// The suite prunes events it has just written: these schemas get no retention floor.
const layouts: [string, Partial<PostgresStoreOptions>][] = [
  ["PostgresStore", { minRetention: "0" }],
  ["PostgresStore (monthly partitions)", { partitions: "monthly", minRetention: "0" }],
];

for (const [name, options] of layouts) {
  let schema: string;
  runStoreConformance(t, {
    name,
    create: async () => {
      schema = freshSchema(options.partitions ? "p" : "t");
      return new PostgresStore({ connectionString: PG_URL, schema, ...options });
    },
    reopen: async (store: AuditStore) => {
      await store.close();
      return new PostgresStore({
        connectionString: PG_URL,
        schema: (store as PostgresStore).schema,
        ...options,
      });
    },
    // Straight from the table, through another connection.
    readRaw: async (store: AuditStore) => {
      const r = await adminQuery(
        `SELECT event FROM "${(store as PostgresStore).schema}".events`,
      ).catch((err: { code?: string }) => {
        if (err.code === "42P01") return { rows: [] };
        throw err;
      });
      return r.rows.map((row: { event: AuditEvent }) => row.event);
    },
    cleanup: async () => {
      await dropSchema(schema);
    },
  });
}
