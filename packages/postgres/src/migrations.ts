import type { PoolClient } from "pg";

/** Quotes an identifier for SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** One step of the schema, applied once, in order, inside one transaction. */
interface Migration {
  version: number;
  up: (schema: string) => string;
}

/**
 * The schema, as versioned steps. Ids and types use the "C" collation: the trail is ordered by
 * `(time, id)` compared byte by byte, as in every other store, not by a locale's rules. Never edit a released step: add a new one. `{s}` is the quoted
 * schema name.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    up: (s) => `
      CREATE TABLE ${s}.events (
        id          text COLLATE "C" PRIMARY KEY,
        seq         bigserial NOT NULL,
        time        timestamptz NOT NULL,
        type        text COLLATE "C" NOT NULL,
        actor       text,
        session_id  text,
        run_id      text,
        approval_id text,
        risk_level  smallint,
        chain_id    text,
        chain_seq   bigint,
        event       jsonb NOT NULL
      );
      CREATE INDEX events_time_idx ON ${s}.events (time, id);
      CREATE INDEX events_type_idx ON ${s}.events (type, time, id);
      CREATE INDEX events_session_idx ON ${s}.events (session_id, time, id) WHERE session_id IS NOT NULL;
      CREATE INDEX events_run_idx ON ${s}.events (run_id, time, id) WHERE run_id IS NOT NULL;
      CREATE INDEX events_actor_idx ON ${s}.events (actor, time, id) WHERE actor IS NOT NULL;
      CREATE INDEX events_approval_idx ON ${s}.events (approval_id) WHERE approval_id IS NOT NULL;
      CREATE INDEX events_risk_idx ON ${s}.events (risk_level, time, id) WHERE risk_level IS NOT NULL;
      CREATE INDEX events_chain_idx ON ${s}.events (chain_id, chain_seq) WHERE chain_id IS NOT NULL;
      CREATE INDEX events_seq_idx ON ${s}.events (seq);
      CREATE INDEX events_data_idx ON ${s}.events USING gin ((event -> 'data') jsonb_path_ops);

      -- Append-only: rows change only through ${s}.prune, which sets a transaction-local flag.
      CREATE FUNCTION ${s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('audit.pruning', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit events are append-only: % is not allowed (use %.prune for retention)', TG_OP, TG_TABLE_SCHEMA
          USING ERRCODE = 'insufficient_privilege';
      END $$;
      CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ${s}.events
        FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_change();
      CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON ${s}.events
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_change();

      -- The one way to delete: events older than a time, and all but the newest keep_n.
      CREATE FUNCTION ${s}.prune(before timestamptz, keep_n bigint) RETURNS bigint
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      DECLARE
        n bigint := 0;
        m bigint;
        cut record;
      BEGIN
        PERFORM set_config('audit.pruning', 'on', true);
        IF before IS NOT NULL THEN
          DELETE FROM ${s}.events WHERE time < before;
          GET DIAGNOSTICS m = ROW_COUNT;
          n := n + m;
        END IF;
        IF keep_n IS NOT NULL THEN
          IF keep_n = 0 THEN
            DELETE FROM ${s}.events;
          ELSE
            SELECT time, id INTO cut FROM ${s}.events ORDER BY time DESC, id DESC OFFSET keep_n - 1 LIMIT 1;
            IF FOUND THEN
              DELETE FROM ${s}.events WHERE (time, id) < (cut.time, cut.id);
            END IF;
          END IF;
          GET DIAGNOSTICS m = ROW_COUNT;
          n := n + m;
        END IF;
        PERFORM set_config('audit.pruning', 'off', true);
        RETURN n;
      END $$;
      REVOKE ALL ON FUNCTION ${s}.prune(timestamptz, bigint) FROM PUBLIC;

      -- Live tail: one notification per inserting statement; listeners read rows by seq.
      CREATE FUNCTION ${s}.notify_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('audit_events', TG_TABLE_SCHEMA);
        RETURN NULL;
      END $$;
      CREATE TRIGGER events_notify AFTER INSERT ON ${s}.events
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.notify_insert();
    `,
  },
];

/** The schema version this package writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings `schema` to the current version. Many processes may start at once: they serialise on a
 * transaction-level advisory lock keyed by the schema name, and each re-reads the version once it
 * holds the lock. A role that can only read and insert finds the schema current and changes nothing.
 */
export async function migrate(client: PoolClient, schema: string): Promise<number> {
  const s = ident(schema);
  const current = async (): Promise<number | undefined> => {
    const t = await client.query("SELECT to_regclass($1) AS t", [`${s}.schema_version`]);
    if (t.rows[0].t === null) return undefined;
    const v = await client.query(`SELECT max(version) AS v FROM ${s}.schema_version`);
    return Number(v.rows[0].v ?? 0);
  };
  const check = (v: number) => {
    if (v > SCHEMA_VERSION) {
      throw new Error(
        `schema ${schema} has version ${v}, newer than this @audit/postgres understands (${SCHEMA_VERSION}); upgrade @audit/postgres`,
      );
    }
  };
  const before = await current();
  if (before !== undefined && before >= SCHEMA_VERSION) {
    check(before);
    return before;
  }
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`audit:migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const v = (await current()) ?? 0;
    check(v);
    for (const m of MIGRATIONS) {
      if (m.version <= v) continue;
      await client.query(m.up(s));
      await client.query(`INSERT INTO ${s}.schema_version (version) VALUES ($1)`, [m.version]);
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
  return SCHEMA_VERSION;
}
