import type { PoolClient } from "pg";

/** Quotes an identifier for SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** How the events table is laid out: one table, or declarative monthly partitions. */
export type Layout = "table" | "monthly";

/** One step of the schema, applied once, in order, inside one transaction. */
interface Migration {
  version: number;
  up: (schema: string, layout: Layout) => string;
}

// The events table. Partitioned by month, the primary key must include the time, so the ids' global
// uniqueness (idempotent appends, first-wins approvals) moves to event_ids, which every append
// goes through.
function eventsTable(s: string, layout: Layout): string {
  const columns = `
        id          text COLLATE "C" NOT NULL,
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
        event       jsonb NOT NULL`;
  if (layout === "table") return `CREATE TABLE ${s}.events (${columns}, PRIMARY KEY (id));`;
  return `
      CREATE TABLE ${s}.event_ids (id text COLLATE "C" PRIMARY KEY, time timestamptz NOT NULL);
      CREATE INDEX event_ids_time_idx ON ${s}.event_ids (time, id);
      CREATE TABLE ${s}.events (${columns}, PRIMARY KEY (id, time)) PARTITION BY RANGE (time);
      CREATE TABLE ${s}.events_default PARTITION OF ${s}.events DEFAULT;
      -- Creates the partition of a month if it is missing; SECURITY DEFINER so a role that may only
      -- insert can still start a new month.
      CREATE FUNCTION ${s}.ensure_partition(month date) RETURNS void
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      DECLARE
        name text := 'events_' || to_char(month, 'YYYY_MM');
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('audit:partition:' || ${literal(s)} || name));
        IF to_regclass(${literal(s)} || '.' || quote_ident(name)) IS NULL THEN
          BEGIN
            EXECUTE format('CREATE TABLE %s.%I PARTITION OF %s.events FOR VALUES FROM (%L) TO (%L)',
              ${literal(s)}, name, ${literal(s)}, month, (month + interval '1 month')::date);
          EXCEPTION WHEN OTHERS THEN
            -- Rows of that month already sit in the default partition: they stay there.
            RAISE NOTICE 'audit: partition % not created: %', name, SQLERRM;
          END;
        END IF;
      END $$;`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

// Deleting whole months is dropping their partitions, which fires no row trigger and costs nothing
// per row; the rest is deleted row by row.
function pruneBody(s: string, layout: Layout): string {
  const dropMonths =
    layout === "monthly"
      ? `
          FOR part IN
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = '${s}.events'::regclass AND c.relname ~ '^events_[0-9]{4}_[0-9]{2}$'
          LOOP
            IF (to_date(substr(part, 8), 'YYYY_MM') + interval '1 month') <= before THEN
              EXECUTE format('SELECT count(*) FROM %s.%I', ${literal(s)}, part) INTO m;
              n := n + m;
              EXECUTE format('DROP TABLE %s.%I', ${literal(s)}, part);
            END IF;
          END LOOP;`
      : "";
  const forgetIds = (cond: string) =>
    layout === "monthly" ? `DELETE FROM ${s}.event_ids WHERE ${cond};` : "";
  return `
      DECLARE
        n bigint := 0;
        m bigint;
        cut record;
        part text;
      BEGIN
        PERFORM set_config('audit.pruning', 'on', true);
        IF before IS NOT NULL THEN${dropMonths}
          DELETE FROM ${s}.events WHERE time < before;
          GET DIAGNOSTICS m = ROW_COUNT;
          n := n + m;
          ${forgetIds("time < before")}
        END IF;
        IF keep_n IS NOT NULL THEN
          IF keep_n = 0 THEN
            DELETE FROM ${s}.events;
            GET DIAGNOSTICS m = ROW_COUNT;
            n := n + m;
            ${forgetIds("true")}
          ELSE
            SELECT time, id INTO cut FROM ${s}.events ORDER BY time DESC, id DESC OFFSET keep_n - 1 LIMIT 1;
            IF FOUND THEN
              DELETE FROM ${s}.events WHERE (time, id) < (cut.time, cut.id);
              GET DIAGNOSTICS m = ROW_COUNT;
              n := n + m;
              ${forgetIds("(time, id) < (cut.time, cut.id)")}
            END IF;
          END IF;
        END IF;
        PERFORM set_config('audit.pruning', 'off', true);
        RETURN n;
      END`;
}

// Version 2: retention with a floor. Rows carry the server's time of insertion (`stored_at`, set
// by a trigger whatever the writer sends); prune deletes only rows stored longer ago than the
// owner's minimum retention, whatever `before` or `keep` it is given. Partitions are dropped only
// when every row in them is past that floor; the ids of deleted rows are forgotten in the same
// statement, so ids stay unique.
function pruneWithFloor(s: string, layout: Layout): string {
  const monthly = layout === "monthly";
  const remove = (cond: string) =>
    monthly
      ? `WITH gone AS (DELETE FROM ${s}.events WHERE ${cond} RETURNING id),
               forgot AS (DELETE FROM ${s}.event_ids WHERE id IN (SELECT id FROM gone))
          SELECT count(*) INTO m FROM gone;`
      : `DELETE FROM ${s}.events WHERE ${cond};
          GET DIAGNOSTICS m = ROW_COUNT;`;
  const dropMonths = monthly
    ? `
          FOR part IN
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = '${s}.events'::regclass AND c.relname ~ '^events_[0-9]{4}_[0-9]{2}$'
          LOOP
            IF (to_date(substr(part, 8), 'YYYY_MM') + interval '1 month') <= before THEN
              EXECUTE format('SELECT count(*), max(stored_at) FROM %s.%I', ${literal(s)}, part) INTO m, newest;
              IF newest IS NULL OR newest < floor_at THEN
                EXECUTE format('DELETE FROM %s.event_ids WHERE id IN (SELECT id FROM %s.%I)', ${literal(s)}, ${literal(s)}, part);
                EXECUTE format('DROP TABLE %s.%I', ${literal(s)}, part);
                n := n + m;
              END IF;
            END IF;
          END LOOP;`
    : "";
  return `
      DECLARE
        n bigint := 0;
        m bigint;
        newest timestamptz;
        cut record;
        part text;
        retention interval;
        floor_at timestamptz;
      BEGIN
        SELECT value::interval INTO retention FROM ${s}.settings WHERE key = 'min_retention';
        floor_at := now() - coalesce(retention, interval '${DEFAULT_MIN_RETENTION}');
        PERFORM set_config('audit.pruning', 'on', true);
        IF before IS NOT NULL THEN${dropMonths}
          ${remove("time < before AND stored_at < floor_at")}
          n := n + m;
        END IF;
        IF keep_n IS NOT NULL THEN
          IF keep_n = 0 THEN
            ${remove("stored_at < floor_at")}
            n := n + m;
          ELSE
            SELECT time, id INTO cut FROM ${s}.events ORDER BY time DESC, id DESC OFFSET keep_n - 1 LIMIT 1;
            IF FOUND THEN
              ${remove("(time, id) < (cut.time, cut.id) AND stored_at < floor_at")}
              n := n + m;
            END IF;
          END IF;
        END IF;
        PERFORM set_config('audit.pruning', 'off', true);
        RETURN n;
      END`;
}

/**
 * The minimum retention a new schema gets: rows stored less than this long ago are never pruned,
 * whatever date or count a pruner passes. Thirty days is below any real retention policy for an
 * audit trail (months to years), and above the time an intrusion usually goes unnoticed, so a
 * stolen pruner credential cannot erase the window an investigation needs.
 */
export const DEFAULT_MIN_RETENTION = "30 days";

/**
 * The schema, as versioned steps. Ids and types use the "C" collation: the trail is ordered by
 * `(time, id)` compared byte by byte, as in every other store, not by a locale's rules. Never edit a released step: add a new one. `{s}` is the quoted
 * schema name.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    up: (s, layout) => `
      ${eventsTable(s, layout)}
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
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$${pruneBody(s, layout)}
 $$;
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
  {
    version: 2,
    up: (s, layout) => `
      -- The server's time of insertion, which no writer can choose: the retention floor counts
      -- from it, so a row written today with a time in the past is still protected.
      ALTER TABLE ${s}.events ADD COLUMN stored_at timestamptz NOT NULL DEFAULT now();
      CREATE FUNCTION ${s}.stamp_stored_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.stored_at := now();
        RETURN NEW;
      END $$;
      CREATE TRIGGER events_stored_at BEFORE INSERT ON ${s}.events
        FOR EACH ROW EXECUTE FUNCTION ${s}.stamp_stored_at();

      INSERT INTO ${s}.settings (key, value) VALUES ('min_retention', '${DEFAULT_MIN_RETENTION}')
        ON CONFLICT (key) DO NOTHING;

      -- A DELETE passes only inside prune: as the role that owns prune (SECURITY DEFINER runs as
      -- it) and with the flag prune sets. Setting the flag (SET LOCAL, set_config) gives any other
      -- role nothing.
      CREATE OR REPLACE FUNCTION ${s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE'
           AND current_setting('audit.pruning', true) = 'on'
           AND current_user::regrole::oid = (SELECT proowner FROM pg_catalog.pg_proc
                 WHERE oid = ${literal(`${s}.prune(timestamptz, bigint)`)}::regprocedure) THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit events are append-only: % is not allowed (use %.prune for retention)', TG_OP, TG_TABLE_SCHEMA
          USING ERRCODE = 'insufficient_privilege';
      END $$;

      CREATE OR REPLACE FUNCTION ${s}.prune(before timestamptz, keep_n bigint) RETURNS bigint
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$${pruneWithFloor(s, layout)}
 $$;

      -- No function of the schema is callable by PUBLIC: prune is granted to a pruner role,
      -- ensure_partition to writers, the trigger functions to nobody (triggers fire regardless).
      REVOKE ALL ON FUNCTION ${s}.prune(timestamptz, bigint) FROM PUBLIC;
      REVOKE ALL ON FUNCTION ${s}.refuse_change() FROM PUBLIC;
      REVOKE ALL ON FUNCTION ${s}.notify_insert() FROM PUBLIC;
      REVOKE ALL ON FUNCTION ${s}.stamp_stored_at() FROM PUBLIC;
      ${layout === "monthly" ? `REVOKE ALL ON FUNCTION ${s}.ensure_partition(date) FROM PUBLIC;` : ""}
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
export async function migrate(
  client: PoolClient,
  schema: string,
  layout: Layout = "table",
  options: { minRetention?: string } = {},
): Promise<number> {
  const s = ident(schema);
  const checkLayout = async () => {
    const t = await client.query("SELECT to_regclass($1) AS t", [`${s}.settings`]);
    if (t.rows[0].t === null) return;
    // A role without rights on the settings cannot check; its inserts will fail loudly if wrong.
    const r = await client
      .query(`SELECT value FROM ${s}.settings WHERE key = 'layout'`)
      .catch((err: { code?: string }) => {
        if (err.code === "42501") return { rows: [{ value: layout }] };
        throw err;
      });
    const existing = (r.rows[0]?.value as Layout | undefined) ?? "table";
    if (existing !== layout) {
      throw new Error(
        `schema ${schema} holds events ${existing === "monthly" ? "partitioned by month" : "in one table"}, but the store was opened with partitions ${layout === "monthly" ? '"monthly"' : "off"}; open it the way it was created`,
      );
    }
  };
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
    await checkLayout();
    return before;
  }
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`audit:migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_version (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.settings (key text PRIMARY KEY, value text NOT NULL)`,
    );
    const v = (await current()) ?? 0;
    check(v);
    if (v === 0) {
      await client.query(
        `INSERT INTO ${s}.settings (key, value) VALUES ('layout', $1) ON CONFLICT (key) DO NOTHING`,
        [layout],
      );
    }
    await checkLayout();
    for (const m of MIGRATIONS) {
      if (m.version <= v) continue;
      await client.query(m.up(s, layout));
      await client.query(`INSERT INTO ${s}.schema_version (version) VALUES ($1)`, [m.version]);
    }
    // The floor is the owner's to choose when the schema gets it; later, the owner changes it
    // with SQL (UPDATE <schema>.settings SET value = '90 days' WHERE key = 'min_retention').
    if (v < 2 && options.minRetention !== undefined) {
      const r = await client.query("SELECT $1::interval < interval '0' AS negative", [
        options.minRetention,
      ]);
      if (r.rows[0].negative) {
        throw new Error(`minRetention must not be negative, got "${options.minRetention}"`);
      }
      await client.query(
        `UPDATE ${s}.settings SET value = ($1::interval)::text WHERE key = 'min_retention'`,
        [options.minRetention],
      );
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
  return SCHEMA_VERSION;
}
