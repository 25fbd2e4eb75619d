import type { AuditEvent, AuditStore } from "@audit/core";
import { runStoreConformance } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresStore, type PostgresStoreOptions } from "../src/index.js";
import {
  adminQuery,
  dropSchema,
  freshSchema,
  PG_URL,
  serverAvailable,
  urlFor,
} from "./postgres.js";

const available = await serverAvailable();

// The same suite for each layout of the events table.
// The suite prunes events it has just written: these schemas get no retention floor.
const layouts: [string, Partial<PostgresStoreOptions>, string][] = [
  ["PostgresStore", { minRetention: "0" }, "minRetention=0"],
  [
    "PostgresStore (monthly partitions)",
    { partitions: "monthly", minRetention: "0" },
    "minRetention=0&partitions=monthly",
  ],
];

// Each store's connections carry its schema as application name, so the interrupt below finds
// the listening connection of this store and no other.
function connectionFor(schema: string): string {
  const u = new URL(PG_URL);
  u.searchParams.set("application_name", schema);
  return u.toString();
}

/** Terminates the store's LISTEN connection from an admin connection, as a server restart would. */
async function interrupt(store: AuditStore): Promise<void> {
  const schema = (store as PostgresStore).schema;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await adminQuery(
      `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
        WHERE application_name = $1 AND query ILIKE 'LISTEN%'`,
      [schema],
    );
    if (r.rows.some((row: { done: boolean }) => row.done)) return;
    // The store starts listening just after subscribe() returns.
    if (Date.now() > deadline) throw new Error(`no LISTEN connection of ${schema} to interrupt`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const [name, options, params] of layouts) {
  let schema: string;
  runStoreConformance(
    { describe: available ? describe : describe.skip, it, expect, beforeEach, afterEach },
    {
      name,
      create: () => {
        schema = freshSchema(options.partitions ? "p" : "t");
        return new PostgresStore({ connectionString: connectionFor(schema), schema, ...options });
      },
      reopen: async (store: AuditStore) => {
        await store.close();
        const again = (store as PostgresStore).schema;
        return new PostgresStore({
          connectionString: connectionFor(again),
          schema: again,
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
      cleanup: () => dropSchema(schema),
      interrupt,
      // Child processes open the schema through the built package; it does not exist yet, so
      // they also race to create it.
      processes: {
        module: new URL("../dist/index.js", import.meta.url).href,
        location: () => `${urlFor(freshSchema("proc"))}&${params}`,
        remove: async (url) => dropSchema(new URL(url).searchParams.get("schema")!),
        writers: 8,
      },
    },
  );
}
