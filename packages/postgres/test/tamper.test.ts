import { type TestApi, tamperSuite } from "@audit/test-suite";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresStore, type PostgresStoreOptions } from "../src/index.js";
import { dropSchema, freshSchema, PG_URL, serverAvailable } from "./postgres.js";

const available = await serverAvailable();
const t = {
  describe: available ? describe : describe.skip,
  it,
  expect,
  beforeEach,
  afterEach,
} as unknown as TestApi;

// The attacker's handle: the table owner's own connection, with triggers off for the session
// (session_replication_role = replica), which is how an owner edits an append-only table.
const attacker = new pg.Pool({ connectionString: PG_URL, max: 1 });
attacker.on("error", () => undefined);
afterAll(() => attacker.end());

async function asOwner(sql: string, params: unknown[]): Promise<pg.QueryResult> {
  const client = await attacker.connect();
  try {
    await client.query("SET session_replication_role = replica");
    return await client.query(sql, params);
  } finally {
    await client.query("RESET session_replication_role").catch(() => undefined);
    client.release();
  }
}

// Both layouts of the events table: one table, and monthly partitions.
const layouts: [string, Partial<PostgresStoreOptions>][] = [
  ["PostgresStore", {}],
  ["PostgresStore (monthly partitions)", { partitions: "monthly" }],
];

for (const [name, options] of layouts) {
  tamperSuite(t, {
    name,
    create: async () => {
      const schema = freshSchema("verify_rules");
      return {
        store: new PostgresStore({ connectionString: PG_URL, schema, ...options }),
        location: schema,
      };
    },
    openReadOnly: async (schema) =>
      new PostgresStore({ connectionString: PG_URL, schema, readOnly: true, ...options }),
    openWritable: async (schema) =>
      new PostgresStore({ connectionString: PG_URL, schema, ...options }),
    missing: async () => {
      const schema = freshSchema("verify_rules_missing");
      return {
        location: schema,
        exists: async () =>
          (await attacker.query("SELECT to_regnamespace($1) AS n", [schema])).rows[0].n !== null,
      };
    },
    raw: {
      keepsText: false,
      holdsBytes: false,
      getText: async (schema, id) =>
        (
          await attacker.query(`SELECT event::text AS t FROM "${schema}".events WHERE id = $1`, [
            id,
          ])
        ).rows[0].t,
      setText: async (schema, id, text) => {
        const r = await asOwner(`UPDATE "${schema}".events SET event = $1::jsonb WHERE id = $2`, [
          typeof text === "string" ? text : Buffer.from(text).toString("utf8"),
          id,
        ]);
        if (r.rowCount !== 1) throw new Error(`no row ${id}`);
      },
      swap: async (schema, a, b) => {
        await asOwner(
          `UPDATE "${schema}".events e SET event = o.event
           FROM "${schema}".events o
          WHERE (e.id, o.id) IN (($1, $2), ($2, $1))`,
          [a, b],
        );
      },
      setRiskColumn: async (schema, id, level) => {
        await asOwner(`UPDATE "${schema}".events SET risk_level = $1 WHERE id = $2`, [level, id]);
      },
    },
    cleanup: async (schema) => {
      await dropSchema(schema);
    },
  });
}
