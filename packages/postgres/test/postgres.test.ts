import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditConfigError, Auditor, openStore, StoreError, verifyChain } from "@audit/core";
import { makeEvent, makeEvents } from "@audit/test-suite";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createStoreFromUrl, MIGRATIONS, PostgresStore, SCHEMA_VERSION } from "../src/index.js";
import {
  adminQuery,
  dropSchema,
  freshSchema,
  PG_URL,
  serverAvailable,
  urlFor,
} from "./postgres.js";

const available = await serverAvailable();
const d = available ? describe : describe.skip;
const schemas: string[] = [];
function schema(): string {
  const s = freshSchema();
  schemas.push(s);
  return s;
}
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
});
function store(
  options: Partial<ConstructorParameters<typeof PostgresStore>[0]> = {},
): PostgresStore {
  const s = new PostgresStore({ connectionString: PG_URL, schema: schema(), ...options });
  open.push(s);
  return s;
}

d("stats", () => {
  it("counts by type, actor and risk in the database, equal to counting the events", async () => {
    const s = store();
    const events = makeEvents(300).map((e, i) => ({
      ...e,
      type: i % 3 === 0 ? "tool.start" : "llm.end",
      ...(i % 4 === 0 ? { actor: "bot-a" } : i % 4 === 1 ? { actor: "bot-b" } : {}),
      ...(i % 5 === 0 ? { risk: "high" as const } : {}),
    }));
    await s.append(events);
    const { StatsCollector } = await import("@audit/core/store-kit");
    for (const filter of [
      {},
      { type: "tool.*" },
      { since: events[100]!.time },
      { actor: "bot-b" },
    ]) {
      const byStream = new StatsCollector();
      for await (const e of s.stream(filter)) byStream.add(e);
      expect(await s.stats(filter)).toEqual(byStream.result());
    }
    const all = await s.stats();
    expect(all.total).toBe(300);
    expect(all.byRisk).toMatchObject({ high: { count: 60 }, "(none)": { count: 240 } });
    const times = events.map((e) => e.time).sort();
    expect(all.first).toBe(times[0]);
    expect(all.last).toBe(times[299]);
  });
});

d("opening", () => {
  it("opens postgres:// and postgresql:// URLs through openStore, reading its own parameters", async () => {
    const name = schema();
    for (const scheme of ["postgres", "postgresql"]) {
      const url = urlFor(name).replace(/^postgres(ql)?:/, `${scheme}:`);
      const s = await openStore(url);
      open.push(s);
      expect(s.id).toBe("postgres");
      expect((s as PostgresStore).schema).toBe(name);
      await s.append(makeEvents(2));
    }
    expect(await (open[0] as PostgresStore).count()).toBe(4);
    expect(() => createStoreFromUrl("postgres://x/db?maxConnections=none")).toThrow(
      AuditConfigError,
    );
    expect(() => createStoreFromUrl("not a url")).toThrow(/not a valid URL/);
    expect(() => new PostgresStore({ connectionString: PG_URL, schema: "bad-name; drop" })).toThrow(
      /plain identifier/,
    );
  });

  it("refuses an unknown URL parameter, listing the known ones, and passes the driver's on", async () => {
    expect(() => createStoreFromUrl("postgres://x/db?schema=a&maxConection=2")).toThrow(
      /unknown option "maxConection" in the store URL; known: schema, maxConnections, migrate, partitions, minRetention, readOnly, sslmode/,
    );
    expect(() => createStoreFromUrl("postgres://x/db?schema=a&schema=b")).toThrow(/given twice/);
    expect(() => createStoreFromUrl("postgres://x/db?migrate=perhaps")).toThrow(
      /migrate must be true or false/,
    );
    const s = createStoreFromUrl(`${urlFor(schema())}&application_name=audit-test&readOnly=false`);
    open.push(s);
    await s.append(makeEvents(1));
    const r = await s.pool.query<{ name: string }>(
      "SELECT current_setting('application_name') AS name",
    );
    expect(r.rows[0]!.name).toBe("audit-test");
  });

  it("describes itself without the password", () => {
    const s = createStoreFromUrl(
      "postgres://me:hunter2-secret@db.example:6543/trail?schema=audit_x",
    );
    open.push(s);
    const d = s.describe();
    expect(d).toEqual({
      id: "postgres",
      location: "db.example:6543/trail schema audit_x",
      readOnly: false,
      capabilities: { persistent: true, multiProcess: true, subscribe: true },
    });
    expect(JSON.stringify(d)).not.toContain("hunter2");
  });

  it("uses a pool you pass in and leaves it open", async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const s = new PostgresStore({ pool, schema: schema() });
    await s.append(makeEvents(3));
    await s.close();
    const r = await pool.query(`SELECT count(*)::int AS n FROM "${s.schema}".events`);
    expect(r.rows[0].n).toBe(3);
    await pool.end();
  });

  it("says clearly when the server cannot be reached", async () => {
    const s = new PostgresStore({
      connectionString: "postgres://postgres@127.0.0.1:1/test",
      connectTimeoutMs: 2000,
    });
    open.push(s);
    const err = await s.append(makeEvents(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toBe(
      "[audit] [postgres] cannot prepare the schema: cannot connect to 127.0.0.1:1 (ECONNREFUSED); check AUDIT_STORE or start PostgreSQL",
    );
  });
});

d("migrations", () => {
  it("are applied once when many processes start at once", async () => {
    const name = schema();
    const stores = Array.from(
      { length: 8 },
      () => new PostgresStore({ connectionString: PG_URL, schema: name, maxConnections: 1 }),
    );
    open.push(...stores);
    await Promise.all(stores.map((s) => s.count()));
    const r = await adminQuery(`SELECT version FROM "${name}".schema_version ORDER BY version`);
    // Each step once, whatever the number of processes.
    expect(r.rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    expect(r.rows.at(-1)).toEqual({ version: SCHEMA_VERSION });
  });

  it("refuse a schema from a newer version", async () => {
    const s = store();
    await s.count();
    await adminQuery(`INSERT INTO "${s.schema}".schema_version (version) VALUES (99)`);
    const again = new PostgresStore({ connectionString: PG_URL, schema: s.schema });
    open.push(again);
    await expect(again.count()).rejects.toThrow(/version 99, newer/);
  });
});

d("query plans", () => {
  it("serve every filter from an index", async () => {
    const s = store();
    await s.append(
      makeEvents(200, (i) => ({
        sessionId: `s${i % 7}`,
        runId: `r${i % 20}`,
        actor: `a${i % 3}`,
        risk: "high",
      })),
    );
    const client = await s.pool.connect();
    try {
      await client.query("SET enable_seqscan = off");
      const plan = async (where: string, params: unknown[]) => {
        const r = await client.query(
          `EXPLAIN SELECT event FROM "${s.schema}".events ${where} ORDER BY time, id LIMIT 100`,
          params,
        );
        return r.rows.map((row: { "QUERY PLAN": string }) => row["QUERY PLAN"]).join("\n");
      };
      expect(await plan("WHERE session_id = $1", ["s1"])).toContain("events_session_idx");
      expect(await plan("WHERE run_id = $1", ["r1"])).toContain("events_run_idx");
      expect(await plan("WHERE actor = $1", ["a1"])).toContain("events_actor_idx");
      expect(await plan("WHERE approval_id = $1", ["x"])).toContain("events_approval_idx");
      expect(await plan("WHERE type >= $1 AND type < $2", ["tool.", "tool/"])).toMatch(
        /events_(type|time)_idx/,
      );
      expect(await plan("WHERE (event -> 'data') @> $1::jsonb", ['{"tool":"search"}'])).toContain(
        "events_data_idx",
      );
      expect(await plan("WHERE time >= $1", ["2026-01-01T00:00:00.000Z"])).toContain(
        "events_time_idx",
      );
    } finally {
      client.release();
    }
  });
});

d("append-only", () => {
  it("refuses UPDATE, DELETE and TRUNCATE, and lets prune through", async () => {
    const s = store({ minRetention: "0" });
    await s.append(
      makeEvents(10, (i) => ({ time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() })),
    );
    const t = `"${s.schema}".events`;
    await expect(adminQuery(`UPDATE ${t} SET type = 'forged'`)).rejects.toThrow(
      /append-only: UPDATE/,
    );
    await expect(adminQuery(`DELETE FROM ${t}`)).rejects.toThrow(/append-only: DELETE/);
    await expect(adminQuery(`TRUNCATE ${t}`)).rejects.toThrow(/append-only: TRUNCATE/);
    expect(await s.count()).toBe(10);
    expect(await s.prune({ before: new Date(Date.UTC(2026, 0, 1, 0, 0, 4)) })).toBe(4);
    expect(await s.prune({ keep: 2 })).toBe(4);
    expect(await s.count()).toBe(2);
  });

  it("works for a least-privilege role that may only INSERT and SELECT", async () => {
    const owner = store();
    await owner.count();
    const role = `audit_writer_${owner.schema}`;
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    try {
      const s = `"${owner.schema}"`;
      await adminQuery(`GRANT USAGE ON SCHEMA ${s} TO ${role}`);
      await adminQuery(`GRANT SELECT, INSERT ON ${s}.events TO ${role}`);
      await adminQuery(`GRANT SELECT ON ${s}.schema_version TO ${role}`);
      await adminQuery(`GRANT USAGE ON SEQUENCE ${s}.events_seq_seq TO ${role}`);
      const u = new URL(PG_URL);
      u.username = role;
      u.password = "";
      u.searchParams.set("schema", owner.schema);
      const limited = await openStore(u.toString());
      open.push(limited);
      const audit = new Auditor({ store: limited, spool: false });
      await audit.withRun({ agent: "bot" }, async (run) => {
        await run.tool("search", { q: "x" }, () => 1);
      });
      await audit.close();
      expect(await limited.count({ type: "tool.*" })).toBe(2);
      expect((await verifyChain(limited)).ok).toBe(true);
      const pool = (limited as PostgresStore).pool;
      await expect(pool.query(`UPDATE ${s}.events SET type = 'x'`)).rejects.toThrow(
        /permission denied/,
      );
      await expect(pool.query(`DELETE FROM ${s}.events`)).rejects.toThrow(/permission denied/);
      await expect(limited.prune({ keep: 0 })).rejects.toThrow(/permission denied/);
      await limited.close();
    } finally {
      await adminQuery(`DROP OWNED BY ${role}`);
      await adminQuery(`DROP ROLE ${role}`);
    }
  });
});

d("live tail", () => {
  it("delivers events written by another connection through LISTEN/NOTIFY", async () => {
    const s = store();
    await s.count();
    const writer = new PostgresStore({ connectionString: PG_URL, schema: s.schema });
    open.push(writer);
    const got: string[] = [];
    const stop = s.subscribe({ type: "tool.*" }, (e) => got.push(e.id));
    await new Promise((r) => setTimeout(r, 300));
    const events = makeEvents(5, (i) => ({ type: i % 2 ? "tool.end" : "note.x" }));
    await writer.append(events);
    // Notifications arrive at once; a slow poll (2 s) covers a LISTEN not yet in place under load.
    for (let i = 0; i < 250 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(got).toEqual(events.filter((e) => e.type === "tool.end").map((e) => e.id));
  });
});

/** A TCP proxy in front of the server, so a test can make the server vanish for this client only. */
function proxy(target: { host: string; port: number }) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  return {
    async start() {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on("error", end).on("close", end);
        upstream.on("error", end).on("close", end);
      });
      await new Promise<void>((r) => server!.listen(port, "127.0.0.1", () => r()));
      port = (server!.address() as { port: number }).port;
      return port;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    },
  };
}

d("a server that goes away", () => {
  it("spools while it is gone and delivers every event exactly once when it is back", async () => {
    const target = new URL(PG_URL);
    const p = proxy({ host: target.hostname, port: Number(target.port || 5432) });
    const port = await p.start();
    const via = new URL(PG_URL);
    via.port = String(port);
    const name = schema();
    const s = new PostgresStore({
      connectionString: via.toString(),
      schema: name,
      connectTimeoutMs: 1000,
    });
    open.push(s);
    const spool = mkdtempSync(join(tmpdir(), "audit-pg-spool-"));
    const errors: string[] = [];
    const audit = new Auditor({
      store: s,
      spool,
      retry: { attempts: 2, initialDelayMs: 20, maxDelayMs: 100 },
      onError: (e) => errors.push(e.message),
    });
    const ids: string[] = [];
    const record = (n: number) => {
      for (let i = 0; i < n; i++)
        ids.push(audit.record({ type: "work.step", data: { i: ids.length } }).id);
    };
    record(300);
    await audit.flush();
    await p.stop();
    record(300);
    const during = await audit.flush();
    expect(during.spooled).toBe(300);
    expect(readdirSync(spool).length).toBeGreaterThan(0);
    expect(errors.some((m) => /ECONNREFUSED|cannot connect|terminat|Connection/i.test(m))).toBe(
      true,
    );
    await p.start();
    record(300);
    for (
      let i = 0;
      i < 200 && (!audit.stats().storeHealthy || readdirSync(spool).length > 0);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 25));
    }
    await audit.close();
    const check = new PostgresStore({ connectionString: PG_URL, schema: name });
    open.push(check);
    const stored = await check.query({ type: "work.step" });
    expect(stored).toHaveLength(900);
    expect(new Set(stored.map((e) => e.id))).toEqual(new Set(ids));
    expect((await verifyChain(check)).problems).toEqual([]);
    rmSync(spool, { recursive: true, force: true });
  }, 60_000);

  it("recovers when the server kills its connections mid-run", async () => {
    const s = store({ maxConnections: 2 });
    const audit = new Auditor({
      store: s,
      spool: false,
      retry: { attempts: 5, initialDelayMs: 20 },
    });
    const ids: string[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 200; i++)
        ids.push(audit.record({ type: "work.step", data: { round, i } }).id);
      await adminQuery(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'audit' AND pid <> pg_backend_pid()",
      );
      await audit.flush();
    }
    await audit.close();
    expect(audit.stats().lost).toBe(0);
    const stored = await s.query({ type: "work.step" });
    expect(stored.map((e) => e.id).sort()).toEqual([...ids].sort());
  }, 60_000);
});

d("idempotency", () => {
  it("never overwrites: a forged event with a stored id is ignored", async () => {
    const s = store();
    const e = makeEvent({ data: { amount: 10 } });
    await s.append([e]);
    await s.append([{ ...e, data: { amount: 10_000 } }]);
    expect((await s.get(e.id))?.data).toEqual({ amount: 10 });
  });
});

d("monthly partitions", () => {
  const partitionsOf = async (schema: string) =>
    (
      await adminQuery(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [`"${schema}".events`],
      )
    ).rows.map((r: { relname: string }) => r.relname);

  it("puts each month in its partition, drops whole months on prune, and keeps ids unique across months", async () => {
    const s = store({ partitions: "monthly", minRetention: "0" });
    const at = (month: number, day: number) => new Date(Date.UTC(2026, month, day)).toISOString();
    const events = [0, 1, 2, 3].flatMap((m) => makeEvents(5, (i) => ({ time: at(m, i + 1) })));
    await s.append(events);
    expect(await partitionsOf(s.schema)).toEqual([
      "events_2026_01",
      "events_2026_02",
      "events_2026_03",
      "events_2026_04",
      "events_default",
    ]);
    expect(
      (await adminQuery(`SELECT count(*)::int AS n FROM "${s.schema}".events_2026_02`)).rows[0].n,
    ).toBe(5);
    // The same id at another time is still the same event: skipped.
    await s.append([{ ...events[0]!, time: at(5, 1), data: { forged: true } }]);
    expect(await s.count()).toBe(20);
    expect((await s.get(events[0]!.id))?.time).toBe(events[0]!.time);
    // Everything before March: January and February go as whole partitions.
    expect(await s.prune({ before: at(2, 3) })).toBe(12);
    expect(await partitionsOf(s.schema)).toEqual([
      "events_2026_03",
      "events_2026_04",
      "events_2026_06",
      "events_default",
    ]);
    expect(await s.count()).toBe(8);
    // A pruned id may be written again, as in a plain table.
    await s.append([events[0]!]);
    expect(await s.count()).toBe(9);
  });

  it("refuses to open a schema the other way it was created", async () => {
    const s = store({ partitions: "monthly" });
    await s.count();
    const plain = new PostgresStore({ connectionString: PG_URL, schema: s.schema });
    open.push(plain);
    await expect(plain.count()).rejects.toThrow(
      /partitioned by month, but the store was opened with partitions off/,
    );
    expect(() => createStoreFromUrl(`${PG_URL}?partitions=weekly`)).toThrow(/monthly/);
    const viaUrl = createStoreFromUrl(`${urlFor(s.schema)}&partitions=monthly`);
    open.push(viaUrl);
    expect(await viaUrl.count()).toBe(0);
  });

  it("lets a role that may only insert start a new month", async () => {
    const owner = store({ partitions: "monthly" });
    await owner.count();
    const role = `audit_part_${owner.schema}`;
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    try {
      const q = `"${owner.schema}"`;
      await adminQuery(`GRANT USAGE ON SCHEMA ${q} TO ${role}`);
      await adminQuery(`GRANT SELECT, INSERT ON ${q}.events, ${q}.event_ids TO ${role}`);
      await adminQuery(`GRANT SELECT ON ${q}.schema_version, ${q}.settings TO ${role}`);
      await adminQuery(`GRANT USAGE ON SEQUENCE ${q}.events_seq_seq TO ${role}`);
      await adminQuery(`GRANT EXECUTE ON FUNCTION ${q}.ensure_partition(date) TO ${role}`);
      const u = new URL(PG_URL);
      u.username = role;
      const limited = new PostgresStore({
        connectionString: u.toString(),
        schema: owner.schema,
        partitions: "monthly",
      });
      open.push(limited);
      await limited.append(
        makeEvents(3, (i) => ({ time: new Date(Date.UTC(2027, 6, i + 1)).toISOString() })),
      );
      expect(await partitionsOf(owner.schema)).toContain("events_2027_07");
      expect(await limited.count()).toBe(3);
      await expect(limited.pool.query(`DELETE FROM ${q}.events`)).rejects.toThrow(
        /permission denied/,
      );
      await limited.close();
    } finally {
      await adminQuery(`DROP OWNED BY ${role}`);
      await adminQuery(`DROP ROLE ${role}`);
    }
  });
});

d("read-only", () => {
  it("reads an existing schema in read-only sessions and refuses to write", async () => {
    const writer = store();
    await writer.append(makeEvents(3));
    const reader = store({ schema: writer.schema, readOnly: true });
    expect(await reader.count()).toBe(3);
    await expect(reader.append(makeEvents(1))).rejects.toThrow(/read-only/);
    // Even a statement sent straight through its pool cannot write.
    await expect(reader.pool.query(`DELETE FROM "${writer.schema}".events`)).rejects.toThrow(
      /read-only transaction/,
    );
    expect(await writer.count()).toBe(3);
  });

  it("fails on a schema that does not exist, creating nothing", async () => {
    const name = freshSchema("missing");
    const reader = store({ schema: name, readOnly: true });
    await expect(reader.count()).rejects.toMatchObject({ code: "AUDIT_STORE_MISSING" });
    const r = await adminQuery("SELECT to_regnamespace($1) AS n", [name]);
    expect(r.rows[0].n).toBeNull();
  });
});
