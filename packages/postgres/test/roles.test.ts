import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Auditor, scrubString, verifyChain } from "@audit/core";
import { makeEvents } from "@audit/test-suite";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createStoreFromUrl,
  DEFAULT_MIN_RETENTION,
  MIGRATIONS,
  PostgresStore,
} from "../src/index.js";
import { adminQuery, dropSchema, PG_URL, serverAvailable } from "./postgres.js";

// Runs the README's own SQL for the owner, writer, reader and pruner roles, then connects as each
// role and checks what it can and, above all, what it cannot do.

const available = await serverAvailable();
const d = available ? describe : describe.skip;

/** The ```sql blocks of the README's "Roles and privileges" section, in order. */
function readmeSql(): string[] {
  const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Roles and privileges"));
  const blocks: string[] = [];
  const re = /```sql\n([^`]*)```/g;
  for (let m = re.exec(section); m !== null; m = re.exec(section)) blocks.push(m[1]!);
  return blocks.slice(0, 3);
}

function urlAs(role: string, schema?: string): string {
  const u = new URL(PG_URL);
  u.username = role;
  u.password = "";
  if (schema) u.searchParams.set("schema", schema);
  return u.toString();
}

interface Roles {
  schema: string;
  owner: string;
  writer: string;
  reader: string;
  pruner: string;
}

for (const layout of ["table", "monthly"] as const) {
  d(`roles (${layout})`, () => {
    const tag = randomBytes(4).toString("hex");
    const r: Roles = {
      schema: `roles_${tag}`,
      owner: `sec_${tag}_owner`,
      writer: `sec_${tag}_writer`,
      reader: `sec_${tag}_reader`,
      pruner: `sec_${tag}_pruner`,
    };
    const pools: pg.Pool[] = [];
    const stores: PostgresStore[] = [];
    const q = `"${r.schema}"`;
    const partitions = layout === "monthly" ? { partitions: "monthly" as const } : {};
    const poolAs = (role: string) => {
      const pool = new pg.Pool({ connectionString: urlAs(role), max: 2 });
      pool.on("error", () => undefined);
      pools.push(pool);
      return pool;
    };
    const storeAs = (role: string) => {
      const s = new PostgresStore({
        connectionString: urlAs(role),
        schema: r.schema,
        ...partitions,
      });
      stores.push(s);
      return s;
    };
    const rows = async () =>
      Number((await adminQuery(`SELECT count(*)::int AS n FROM ${q}.events`)).rows[0].n);

    beforeAll(async () => {
      const database = new URL(PG_URL).pathname.slice(1);
      const sql = readmeSql().map((block) =>
        block
          .replace(/audit_(owner|writer|reader|pruner)/g, (_, role: string) => `sec_${tag}_${role}`)
          .replace(/DATABASE app/g, `DATABASE "${database}"`)
          .replace(/\baudit\./g, `${q}.`)
          .replace(/SCHEMA audit\b/g, `SCHEMA ${q}`),
      );
      expect(sql).toHaveLength(3);
      await adminQuery(sql[0]!);
      // The owner's first use creates the schema, as the README says.
      const owner = storeAs(r.owner);
      expect(await owner.count()).toBe(0);
      await adminQuery(sql[1]!);
      if (layout === "monthly") await adminQuery(sql[2]!);
    });

    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await Promise.all(pools.map((p) => p.end()));
      await dropSchema(r.schema);
      for (const role of [r.writer, r.reader, r.pruner, r.owner]) {
        await adminQuery(`DROP OWNED BY ${role}`).catch(() => undefined);
        await adminQuery(`DROP ROLE IF EXISTS ${role}`);
      }
    });

    it("the owner owns the schema, and the floor starts at the documented default", async () => {
      const owner = (
        await adminQuery(
          "SELECT nspowner::regrole::text AS o FROM pg_namespace WHERE nspname = $1",
          [r.schema],
        )
      ).rows[0].o;
      expect(owner).toBe(r.owner);
      const floor = await adminQuery(`SELECT value FROM ${q}.settings WHERE key = 'min_retention'`);
      expect(floor.rows[0].value).toBe(DEFAULT_MIN_RETENTION);
    });

    it("the writer records and reads, but cannot change or remove anything", async () => {
      const writer = storeAs(r.writer);
      const audit = new Auditor({ store: writer, spool: false });
      await audit.withRun({ agent: "bot" }, async (run) => {
        await run.tool("search", { q: "x" }, () => 1);
      });
      await audit.close();
      expect(await writer.count({ type: "tool.*" })).toBe(2);
      expect((await verifyChain(writer)).ok).toBe(true);
      const pool = poolAs(r.writer);
      const before = await rows();
      await expect(pool.query(`UPDATE ${q}.events SET type = 'x.forged'`)).rejects.toThrow(
        /permission denied/,
      );
      await expect(pool.query(`DELETE FROM ${q}.events`)).rejects.toThrow(/permission denied/);
      await expect(pool.query(`TRUNCATE ${q}.events`)).rejects.toThrow(/permission denied/);
      await expect(writer.prune({ keep: 0 })).rejects.toThrow(/permission denied/);
      await expect(
        pool.query(`UPDATE ${q}.settings SET value = '0' WHERE key = 'min_retention'`),
      ).rejects.toThrow(/permission denied/);
      await expect(pool.query(`CREATE TABLE ${q}.shadow (a int)`)).rejects.toThrow(
        /permission denied/,
      );
      expect(await rows()).toBe(before);
    });

    it("the writer cannot choose when a row was stored", async () => {
      const pool = poolAs(r.writer);
      const [e] = makeEvents(1);
      await pool.query(
        `INSERT INTO ${q}.events (id, time, type, event, stored_at) VALUES ($1, $2, $3, $4, '2000-01-01')`,
        [e!.id, e!.time, e!.type, JSON.stringify(e)],
      );
      const stored = await adminQuery(
        `SELECT now() - stored_at < interval '1 minute' AS recent FROM ${q}.events WHERE id = $1`,
        [e!.id],
      );
      expect(stored.rows[0].recent).toBe(true);
    });

    it("even a writer granted DELETE, UPDATE and TRUNCATE by mistake cannot get past the trigger", async () => {
      await adminQuery(`GRANT UPDATE, DELETE, TRUNCATE ON ${q}.events TO ${r.writer}`);
      const client = await poolAs(r.writer).connect();
      try {
        const before = await rows();
        await client.query("BEGIN");
        await client.query("SET LOCAL audit.pruning = 'on'");
        await expect(client.query(`DELETE FROM ${q}.events`)).rejects.toThrow(
          /append-only: DELETE/,
        );
        await client.query("ROLLBACK");
        await client.query("SELECT set_config('audit.pruning', 'on', false)");
        await expect(client.query(`DELETE FROM ${q}.events`)).rejects.toThrow(
          /append-only: DELETE/,
        );
        await expect(client.query(`UPDATE ${q}.events SET type = 'x.forged'`)).rejects.toThrow(
          /append-only: UPDATE/,
        );
        await expect(client.query(`TRUNCATE ${q}.events`)).rejects.toThrow(/append-only: TRUNCATE/);
        expect(await rows()).toBe(before);
      } finally {
        client.release(true);
        await adminQuery(`REVOKE UPDATE, DELETE, TRUNCATE ON ${q}.events FROM ${r.writer}`);
      }
    });

    it("the reader queries and verifies, and cannot write or prune", async () => {
      const reader = storeAs(r.reader);
      expect(await reader.count()).toBe(await rows());
      expect((await verifyChain(reader)).chains.length).toBeGreaterThan(0);
      await expect(reader.append(makeEvents(1))).rejects.toThrow(/permission denied/);
      await expect(reader.prune({ keep: 0 })).rejects.toThrow(/permission denied/);
    });

    it("no function of the schema is executable by a role that was not granted it", async () => {
      const can = async (role: string) =>
        (
          await adminQuery(
            `SELECT p.proname AS f FROM pg_proc p
             WHERE p.pronamespace = $1::regnamespace AND has_function_privilege($2, p.oid, 'EXECUTE')
             ORDER BY 1`,
            [r.schema, role],
          )
        ).rows.map((x: { f: string }) => x.f);
      expect(await can(r.reader)).toEqual([]);
      expect(await can(r.pruner)).toEqual(["prune"]);
      expect(await can(r.writer)).toEqual(layout === "monthly" ? ["ensure_partition"] : []);
      if (layout === "monthly") {
        await expect(
          poolAs(r.reader).query(`SELECT ${q}.ensure_partition('2031-01-01')`),
        ).rejects.toThrow(/permission denied/);
      }
      // Functions the owner adds later are not for PUBLIC either (the README's default privileges).
      const owner = poolAs(r.owner);
      await owner.query(`CREATE FUNCTION ${q}.later() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
      expect(await can(r.reader)).toEqual([]);
      await owner.query(`DROP FUNCTION ${q}.later()`);
    });

    it("the pruner deletes nothing stored within the floor, whatever date or count it passes", async () => {
      const pruner = storeAs(r.pruner);
      const before = await rows();
      expect(before).toBeGreaterThan(0);
      const tomorrow = new Date(Date.now() + 86_400_000);
      expect(await pruner.prune({ before: tomorrow })).toBe(0);
      expect(await pruner.prune({ keep: 0 })).toBe(0);
      expect(await pruner.prune({ before: tomorrow, keep: 1 })).toBe(0);
      expect(await rows()).toBe(before);
      const pool = poolAs(r.pruner);
      await expect(pool.query(`DELETE FROM ${q}.events`)).rejects.toThrow(/permission denied/);
      await expect(
        pool.query(`UPDATE ${q}.settings SET value = '0' WHERE key = 'min_retention'`),
      ).rejects.toThrow(/permission denied/);
    });

    it("past the floor the pruner deletes exactly the rows stored before it (a floor of 2 s)", async () => {
      await poolAs(r.owner).query(
        `UPDATE ${q}.settings SET value = '2 seconds' WHERE key = 'min_retention'`,
      );
      const writer = storeAs(r.writer);
      const old = makeEvents(5, (i) => ({
        time: new Date(Date.UTC(2026, 0, 2 + i)).toISOString(),
      }));
      await writer.append(old);
      await new Promise((resolve) => setTimeout(resolve, 2200));
      const fresh = makeEvents(4, (i) => ({
        time: new Date(Date.UTC(2026, 0, 10 + i)).toISOString(),
      }));
      await writer.append(fresh);
      const total = await rows();
      const pruner = storeAs(r.pruner);
      const far = new Date(Date.now() + 86_400_000);
      // Every row but the fresh ones was stored more than 2 s ago, the old January events included.
      expect(await pruner.prune({ before: far })).toBe(total - fresh.length);
      const left = await adminQuery(`SELECT id FROM ${q}.events ORDER BY id`);
      expect(left.rows.map((x: { id: string }) => x.id)).toEqual(fresh.map((e) => e.id).sort());
      expect(await pruner.prune({ keep: 0 })).toBe(0);
      // The ids still there are still claimed: appending them again adds nothing.
      await writer.append(fresh);
      expect(await rows()).toBe(fresh.length);
    });
  });
}

d("URL errors", () => {
  it("never repeat the password of the URL", () => {
    for (const url of ["postgres://app:hunter2-pg@db:99999/x", "mysql://app:hunter2-pg@db/x"]) {
      let message = "";
      try {
        createStoreFromUrl(url);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe("");
      expect(message).not.toContain("hunter2-pg");
    }
    expect(scrubString("postgres://app:hunter2-pg@db/x")).not.toContain("hunter2-pg");
  });
});

d("minimum retention", () => {
  it("is set from the store's option or URL when the schema is created, and must not be negative", async () => {
    const schema = `floor_${randomBytes(4).toString("hex")}`;
    const u = new URL(PG_URL);
    u.searchParams.set("schema", schema);
    u.searchParams.set("minRetention", "36 hours");
    const store = createStoreFromUrl(u.toString());
    try {
      expect(await store.count()).toBe(0);
      const r = await adminQuery(
        `SELECT value FROM "${schema}".settings WHERE key = 'min_retention'`,
      );
      expect(r.rows[0].value).toBe("36:00:00");
      const negative = new PostgresStore({
        connectionString: PG_URL,
        schema: `${schema}_neg`,
        minRetention: "-1 day",
      });
      await expect(negative.count()).rejects.toThrow(/must not be negative/);
      await negative.close();
    } finally {
      await store.close();
      await dropSchema(schema);
      await dropSchema(`${schema}_neg`);
    }
  });
});

d("upgrade", () => {
  it("brings a version-1 schema with rows to version 2, its rows protected by the floor", async () => {
    for (const layout of ["table", "monthly"] as const) {
      const schema = `upg_${randomBytes(4).toString("hex")}`;
      const s = `"${schema}"`;
      try {
        // A schema as version 1 left it, with events in it.
        await adminQuery(`CREATE SCHEMA ${s}`);
        await adminQuery(
          `CREATE TABLE ${s}.schema_version (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
           CREATE TABLE ${s}.settings (key text PRIMARY KEY, value text NOT NULL);
           INSERT INTO ${s}.settings VALUES ('layout', '${layout}');`,
        );
        await adminQuery(MIGRATIONS[0]!.up(s, layout));
        await adminQuery(`INSERT INTO ${s}.schema_version (version) VALUES (1)`);
        const v1 = new PostgresStore({
          connectionString: PG_URL,
          schema,
          migrate: false,
          ...(layout === "monthly" && { partitions: "monthly" as const }),
        });
        await v1.append(makeEvents(3));
        await v1.close();
        const store = new PostgresStore({
          connectionString: PG_URL,
          schema,
          ...(layout === "monthly" && { partitions: "monthly" as const }),
        });
        expect(await store.count()).toBe(3);
        const versions = await adminQuery(`SELECT version FROM ${s}.schema_version ORDER BY 1`);
        expect(versions.rows.map((x: { version: number }) => x.version)).toEqual([1, 2]);
        expect(await store.prune({ keep: 0 })).toBe(0);
        await store.close();
      } finally {
        await dropSchema(schema);
      }
    }
  });
});
