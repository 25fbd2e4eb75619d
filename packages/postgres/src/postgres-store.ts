import {
  AuditClosedError,
  AuditConfigError,
  AuditError,
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  type PruneOptions,
  RISK_LEVELS,
  type StoreCapabilities,
  type StoreDescription,
  type StoredRow,
  StoreError,
  type TrailStats,
} from "@audit/core";
import {
  assertValidBatch,
  type CursorKey,
  columnArrays,
  compileFilter,
  cursorOf,
  describeStore,
  type EventColumns,
  eventMatches,
  eventText,
  type GroupCount,
  keysetPages,
  orderBy,
  type ResolvedFilter,
  resolveFilter,
  resolvePrune,
  type SqlDialect,
  statsFromGroups,
} from "@audit/core/store-kit";
import pg from "pg";
import { ident, type Layout, migrate } from "./migrations.js";

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** A `postgres://` URL. Ignored when `pool` is given. */
  connectionString?: string;
  /** Your own `pg.Pool`. It is used but never ended by the store. */
  pool?: pg.Pool;
  /**
   * The schema that holds the tables; created by the first process that migrates.
   * @default "audit"
   */
  schema?: string;
  /**
   * Run migrations on first use. Turn off for a role that may only read and insert, once the
   * schema was migrated by its owner (a current schema is detected without it anyway).
   * @default true
   */
  migrate?: boolean;
  /**
   * `"monthly"`: declarative monthly partitions, so pruning whole months drops their partitions
   * instead of deleting rows. Fixed when the schema is created; a schema must be opened the way it
   * was created.
   * @default undefined — one table
   */
  partitions?: "monthly";
  /**
   * The minimum retention (a PostgreSQL interval: `"30 days"`, `"24 hours"`, `"0"`) written when
   * this store creates the schema: `prune` never deletes rows stored more recently than this,
   * whatever `before` or `keep` it is given. An existing schema keeps its own; its owner changes
   * it with SQL.
   * @default "30 days"
   */
  minRetention?: string;
  /**
   * Open an existing trail for reading only (`audit verify` does): nothing is migrated or created,
   * a schema that does not exist (or holds no events table) is a `StoreError`, and appends are
   * refused. Connections the store opens itself are read-only sessions.
   * @default false
   */
  readOnly?: boolean;
  /**
   * Connections in the pool the store creates.
   * @default 4
   */
  maxConnections?: number;
  /**
   * How long to wait for a connection.
   * @default 10000
   */
  connectTimeoutMs?: number;
}

const PAGE = 1000;

/**
 * PostgreSQL's side of a filter: `$n` placeholders, times cast to `timestamptz`, exact types as
 * `= ANY(array)`, and payload equality as `event->'data' @> '{…}'`, which the GIN index serves
 * and which tells `true` from `1` and `"1"` by JSON type.
 */
const DIALECT: SqlDialect = {
  placeholder: (n) => `$${n}`,
  time: (iso, bind) => `${bind(iso)}::timestamptz`,
  typeIn: (column, types, bind) => `${column} = ANY(${bind(types)}::text[])`,
  dataEquals: (data, bind) => [`(event -> 'data') @> ${bind(JSON.stringify(data))}::jsonb`],
};

// The columns of an insert, in the order of the unnest(…) arrays.
const INSERT_COLUMNS: readonly (keyof EventColumns)[] = [
  "id",
  "time",
  "type",
  "actor",
  "sessionId",
  "runId",
  "approvalId",
  "riskLevel",
  "chainId",
  "chainSeq",
];

interface StoredPgRow {
  seq: string;
  id: string;
  time_text: string;
  type: string;
  actor: string | null;
  session_id: string | null;
  run_id: string | null;
  approval_id: string | null;
  risk_level: number | null;
  chain_id: string | null;
  chain_seq: string | null;
  body: string;
}

// "2026-11-30T07:19:29.123000" → "2026-11-30T07:19:29.123Z", as event times are written; a time
// with more precision than milliseconds keeps its digits, so it can never equal a body's time.
function isoTime(text: string): string {
  return `${text.endsWith("000") ? text.slice(0, -3) : text}Z`;
}

/** Turns a driver error into a message that says what happened and what to do. */
export function describePgError(err: unknown, target: string): string {
  const e = err as { code?: string; message?: string } | undefined;
  const code = e?.code;
  if (
    code === "ECONNREFUSED" ||
    code === "ENOTFOUND" ||
    code === "ETIMEDOUT" ||
    code === "EHOSTUNREACH"
  ) {
    return `cannot connect to ${target} (${code}); check AUDIT_STORE or start PostgreSQL`;
  }
  if (code === "28P01" || code === "28000")
    return `authentication failed for ${target} (${code}): ${e?.message}`;
  if (code === "3D000") return `database does not exist on ${target} (${code}): ${e?.message}`;
  if (code === "42501") return `permission denied (${code}): ${e?.message}`;
  return `${code ? `${code}: ` : ""}${e?.message ?? String(err)}`;
}

function targetOf(connectionString: string | undefined, pool: pg.Pool | undefined): string {
  const o = (pool as unknown as { options?: { host?: string; port?: number } } | undefined)
    ?.options;
  if (o?.host) return `${o.host}:${o.port ?? 5432}`;
  try {
    const u = new URL(connectionString ?? "");
    return `${u.hostname || "localhost"}:${u.port || 5432}`;
  } catch {
    return "the PostgreSQL server";
  }
}

function databaseOf(connectionString: string | undefined, pool: pg.Pool | undefined): string {
  const o = (pool as unknown as { options?: { database?: string } } | undefined)?.options;
  if (o?.database) return `/${o.database}`;
  try {
    const path = new URL(connectionString ?? "").pathname;
    return path.length > 1 ? decodeURIComponent(path) : "";
  } catch {
    return "";
  }
}

/**
 * The audit trail in PostgreSQL, for many processes on many hosts. Each batch is one `INSERT …
 * SELECT FROM unnest(…) ON CONFLICT (id) DO NOTHING` round trip; the id is the primary key, so a
 * repeated id is skipped and the first resolution of an approval is the only one the database
 * accepts. A trigger makes the table append-only except through the schema's `prune` function.
 */
export class PostgresStore implements AuditStore {
  readonly id = "postgres";
  readonly capabilities: StoreCapabilities = {
    persistent: true,
    multiProcess: true,
    subscribe: true,
  };
  /** The schema the tables live in. */
  readonly schema: string;

  readonly #pool: pg.Pool;
  readonly #owned: boolean;
  readonly #target: string;
  // "/name" of the database, or "" when unknown.
  readonly #database: string;
  readonly #s: string;
  readonly #migrate: boolean;
  readonly #layout: Layout;
  readonly #minRetention: string | undefined;
  readonly #readOnly: boolean;
  // Months whose partition this process has made sure of.
  readonly #months = new Set<string>();
  #ready: Promise<void> | undefined;
  #closed = false;
  #listener: { client: pg.PoolClient; subscribers: Set<() => void> } | undefined;
  #listening: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions) {
    this.schema = options.schema ?? "audit";
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(this.schema)) {
      throw new AuditConfigError(
        `[audit] [postgres] schema "${this.schema}" must be a plain identifier (letters, digits, _)`,
      );
    }
    this.#s = ident(this.schema);
    this.#migrate = options.migrate ?? true;
    if (options.partitions !== undefined && options.partitions !== "monthly") {
      throw new AuditConfigError('[audit] [postgres] partitions must be "monthly" (or left out)');
    }
    this.#layout = options.partitions === "monthly" ? "monthly" : "table";
    this.#minRetention = options.minRetention;
    this.#readOnly = options.readOnly === true;
    if (options.pool) {
      this.#pool = options.pool;
      this.#owned = false;
    } else {
      if (!options.connectionString) {
        throw new AuditConfigError(
          "[audit] [postgres] a connectionString (postgres://…) or a pool is required",
        );
      }
      this.#pool = new pg.Pool({
        connectionString: options.connectionString,
        max: options.maxConnections ?? 4,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
        application_name: "audit",
        // A reader's sessions cannot write, whatever it is asked to do.
        ...(this.#readOnly && { options: "-c default_transaction_read_only=on" }),
      });
      this.#owned = true;
      // An idle client losing its connection must not crash the process; the next query reconnects.
      this.#pool.on("error", () => undefined);
    }
    this.#target = targetOf(options.connectionString, options.pool);
    this.#database = databaseOf(options.connectionString, options.pool);
  }

  /** The pool in use, for raw reads (tests, `EXPLAIN`). */
  get pool(): pg.Pool {
    return this.#pool;
  }

  #check(): void {
    if (this.#closed) throw new AuditClosedError("[audit] [postgres] the store is closed");
  }

  #fail(what: string, err: unknown): AuditError {
    if (err instanceof AuditError) return err;
    return new StoreError("postgres", `${what}: ${describePgError(err, this.#target)}`, {
      cause: err,
    });
  }

  // Migrates on first use (lazily, so creating a store never throws for a server that is down).
  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      if (this.#readOnly) return this.#assertHoldsTrail();
      if (!this.#migrate) return;
      const client = await this.#pool.connect();
      try {
        await migrate(
          client,
          this.schema,
          this.#layout,
          this.#minRetention === undefined ? {} : { minRetention: this.#minRetention },
        );
      } finally {
        client.release();
      }
    })().catch((err: unknown) => {
      this.#ready = undefined;
      throw this.#fail("cannot prepare the schema", err);
    });
    return this.#ready;
  }

  async #assertHoldsTrail(): Promise<void> {
    const r = await this.#pool.query<{ t: string | null }>("SELECT to_regclass($1) AS t", [
      `${this.#s}.events`,
    ]);
    if (r.rows[0]?.t === null || r.rows[0]?.t === undefined) {
      throw new StoreError(
        "postgres",
        `schema ${this.schema} on ${this.#target} holds no audit trail (no events table): check the schema name`,
        { code: "AUDIT_STORE_MISSING" },
      );
    }
  }

  async #query<R extends pg.QueryResultRow>(
    what: string,
    sql: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    this.#check();
    await this.#prepare();
    try {
      return await this.#pool.query<R>(sql, params);
    } catch (err) {
      throw this.#fail(what, err);
    }
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.#check();
    if (this.#readOnly) {
      throw new StoreError(
        "postgres",
        `schema ${this.schema} was opened read-only; nothing is written`,
      );
    }
    assertValidBatch(events);
    if (events.length === 0) return;
    // The body is the text the chain hash was computed from, never serialised a second time.
    const cols = columnArrays(events, INSERT_COLUMNS);
    cols.push(events.map(eventText));
    if (this.#layout === "monthly") await this.#ensureMonths(events);
    // One statement, one round trip, however large the batch; ORDINALITY keeps the first of two
    // events with one id inside the batch, as every store does. Partitioned, the ids' uniqueness
    // is claimed in event_ids first, in the same statement.
    const batch = `SELECT DISTINCT ON (id) id, time, type, actor, session_id, run_id, approval_id, risk_level, chain_id, chain_seq, event
       FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::smallint[], $9::text[], $10::bigint[], $11::jsonb[])
            WITH ORDINALITY AS b(id, time, type, actor, session_id, run_id, approval_id, risk_level, chain_id, chain_seq, event, n)
       ORDER BY id, n`;
    const columns =
      "id, time, type, actor, session_id, run_id, approval_id, risk_level, chain_id, chain_seq, event";
    const sql =
      this.#layout === "monthly"
        ? `WITH b AS (${batch}),
             fresh AS (INSERT INTO ${this.#s}.event_ids (id, time) SELECT id, time FROM b ON CONFLICT (id) DO NOTHING RETURNING id)
           INSERT INTO ${this.#s}.events (${columns}) SELECT ${columns} FROM b WHERE id IN (SELECT id FROM fresh)`
        : `INSERT INTO ${this.#s}.events (${columns}) ${batch} ON CONFLICT (id) DO NOTHING`;
    await this.#query("append", sql, cols);
  }

  async #ensureMonths(events: readonly AuditEvent[]): Promise<void> {
    for (const e of events) {
      const month = `${e.time.slice(0, 7)}-01`;
      if (this.#months.has(month)) continue;
      await this.#query("append", `SELECT ${this.#s}.ensure_partition($1::date)`, [month]);
      this.#months.add(month);
    }
  }

  #cursor(filter: ResolvedFilter): Promise<CursorKey | undefined> {
    return cursorOf(filter.after, async (id) => {
      const r = await this.#query<CursorKey>(
        "query",
        `SELECT event->>'time' AS time, id FROM ${this.#s}.events WHERE id = $1`,
        [id],
      );
      return r.rows[0];
    });
  }

  async #select(
    filter: ResolvedFilter,
    cursor: CursorKey | undefined,
    limit: number | undefined,
  ): Promise<AuditEvent[]> {
    const { where, params } = compileFilter(filter, cursor, DIALECT);
    if (limit !== undefined) params.push(limit);
    const sql = `SELECT event FROM ${this.#s}.events ${where} ${orderBy(filter)}${limit === undefined ? "" : ` LIMIT $${params.length}`}`;
    const r = await this.#query<{ event: AuditEvent }>("query", sql, params);
    return r.rows.map((row) => row.event);
  }

  async query(filter?: AuditFilter): Promise<AuditEvent[]> {
    this.#check();
    const resolved = resolveFilter(filter);
    return this.#select(resolved, await this.#cursor(resolved), resolved.limit);
  }

  /** Keyset pages on (time, id): no transaction held open between pages. */
  async *stream(filter?: AuditFilter): AsyncIterable<AuditEvent> {
    this.#check();
    const resolved = resolveFilter(filter);
    yield* keysetPages((cursor, size) => this.#select(resolved, cursor, size), {
      start: await this.#cursor(resolved),
      limit: resolved.limit,
      pageSize: PAGE,
      check: () => this.#check(),
    });
  }

  async get(id: string): Promise<AuditEvent | undefined> {
    const r = await this.#query<{ event: AuditEvent }>(
      "get",
      `SELECT event FROM ${this.#s}.events WHERE id = $1`,
      [id],
    );
    return r.rows[0]?.event;
  }

  async count(filter?: AuditFilter): Promise<number> {
    this.#check();
    const resolved = resolveFilter(filter);
    const { where, params } = compileFilter(resolved, await this.#cursor(resolved), DIALECT);
    let sql = `SELECT count(*)::bigint AS n FROM ${this.#s}.events ${where}`;
    if (resolved.limit !== undefined) {
      params.push(resolved.limit);
      sql = `SELECT count(*)::bigint AS n FROM (SELECT 1 FROM ${this.#s}.events ${where} LIMIT $${params.length}) t`;
    }
    const r = await this.#query<{ n: string }>("count", sql, params);
    return Number(r.rows[0]!.n);
  }

  /**
   * Every row as stored, for `verifyChain`: the body as PostgreSQL gives it back (`event::text`:
   * jsonb keeps one value per key, so a number like `1e400` is what strictness can still catch)
   * and every indexed column, the time at full precision, in `(time, id)` column order, which is
   * the order every read returns. Keyset pages: constant memory.
   */
  async *storedRows(): AsyncIterable<StoredRow> {
    this.#check();
    const columns = `seq, id, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS time_text,
      type, actor, session_id, run_id, approval_id, risk_level, chain_id, chain_seq::text AS chain_seq,
      event::text AS body`;
    const pages = keysetPages<StoredPgRow>(
      async (cursor, size) =>
        (
          await this.#query<StoredPgRow>(
            "read rows",
            cursor
              ? `SELECT ${columns} FROM ${this.#s}.events WHERE (time, id) > ($1::timestamptz, $2) ORDER BY time, id LIMIT ${size}`
              : `SELECT ${columns} FROM ${this.#s}.events ORDER BY time, id LIMIT ${size}`,
            cursor ? [cursor.time, cursor.id] : [],
          )
        ).rows,
      // The cursor keeps the column's full precision (a Date would cut it to milliseconds).
      { pageSize: PAGE, keyOf: (row) => ({ time: `${row.time_text}Z`, id: row.id }) },
    );
    for await (const row of pages) {
      yield {
        location: `row ${row.seq}`,
        text: row.body,
        columns: {
          id: row.id,
          time: isoTime(row.time_text),
          type: row.type,
          actor: row.actor,
          sessionId: row.session_id,
          runId: row.run_id,
          approvalId: row.approval_id,
          riskLevel: row.risk_level,
          chainId: row.chain_id,
          chainSeq: row.chain_seq === null ? null : Number(row.chain_seq),
        },
      };
    }
  }

  /**
   * Counts by type, actor and risk with one `GROUP BY` per group, in the database: no event is
   * read or sent.
   */
  async stats(filter?: AuditFilter): Promise<TrailStats> {
    this.#check();
    const resolved = resolveFilter({ ...filter, limit: undefined, after: undefined });
    const { where, params } = compileFilter(resolved, undefined, DIALECT);
    const group = async (expr: string): Promise<GroupCount[]> => {
      const r = await this.#query<{
        key: string | number | null;
        n: string;
        first: string;
        last: string;
      }>(
        "stats",
        `SELECT ${expr} AS key, count(*)::bigint AS n,
           to_char(min(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS first,
           to_char(max(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last
         FROM ${this.#s}.events ${where} GROUP BY 1`,
        params,
      );
      return r.rows.map((row) => ({
        key: typeof row.key === "number" ? (RISK_LEVELS[row.key] ?? String(row.key)) : row.key,
        count: Number(row.n),
        first: row.first,
        last: row.last,
      }));
    };
    return statsFromGroups({
      type: await group("type"),
      actor: await group("actor"),
      risk: await group("risk_level"),
    });
  }

  /** The schema and server, without user or password. */
  describe(): StoreDescription {
    return describeStore(
      this,
      `${this.#target}${this.#database} schema ${this.schema}`,
      this.#readOnly,
    );
  }

  /** Deletes through the schema's `prune` function, the only way past the append-only trigger. */
  async prune(options: PruneOptions): Promise<number> {
    this.#check();
    const { before, keep } = resolvePrune(options);
    const r = await this.#query<{ n: string }>(
      "prune",
      `SELECT ${this.#s}.prune($1::timestamptz, $2::bigint) AS n`,
      [before ?? null, keep ?? null],
    );
    return Number(r.rows[0]!.n);
  }

  /**
   * Live tail through LISTEN/NOTIFY: one listening connection per store; each insert statement
   * notifies, and subscribers read the new rows by their sequence number.
   */
  subscribe(filter: AuditFilter, onEvent: (event: AuditEvent) => void): () => void {
    this.#check();
    const resolved = resolveFilter(filter);
    const subscribedAt = new Date();
    let last: number | undefined;
    const seen = new Set<string>();
    let running = false;
    let again = false;
    const pull = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          if (last === undefined) {
            // The starting point, and what the look-back window below would read again: history,
            // not news. One statement, so both come from one snapshot.
            // Rows stored since subscribe() was called are news even if this read comes later.
            const r = await this.#query<{ seq: string; id: string; fresh: boolean }>(
              "subscribe",
              `SELECT seq, id, stored_at >= $1 AS fresh FROM ${this.#s}.events
                WHERE seq > (SELECT coalesce(max(seq), 0) - 1000 FROM ${this.#s}.events)`,
              [subscribedAt],
            );
            last = 0;
            for (const row of r.rows) {
              last = Math.max(last, Number(row.seq));
              // Fresh rows stay unseen, so the look-back read that follows delivers them.
              if (row.fresh) again = true;
              else seen.add(row.id);
            }
            continue;
          }
          // Sequence numbers are taken before commit, so a row can appear behind a newer one:
          // look back a window and skip what was already delivered.
          const r = await this.#query<{ seq: string; event: AuditEvent }>(
            "subscribe",
            `SELECT seq, event FROM ${this.#s}.events WHERE seq > $1 ORDER BY seq`,
            [Math.max(0, last - 1000)],
          );
          for (const row of r.rows) {
            last = Math.max(last, Number(row.seq));
            if (seen.has(row.event.id)) continue;
            seen.add(row.event.id);
            if (eventMatches(resolved, row.event)) onEvent(row.event);
          }
          if (seen.size > 20_000) for (const id of [...seen].slice(0, 10_000)) seen.delete(id);
        } while (again);
      } catch {
        // The next notification or poll tries again.
      } finally {
        running = false;
      }
    };
    const wake = () => void pull();
    void pull();
    void this.#listen().then(
      () => this.#listener?.subscribers.add(wake),
      () => undefined,
    );
    // Notifications are lost while the listening connection is down; a slow poll covers that.
    const timer = setInterval(wake, 2000);
    timer.unref();
    return () => {
      clearInterval(timer);
      this.#listener?.subscribers.delete(wake);
    };
  }

  #listen(): Promise<void> {
    this.#listening ??= (async () => {
      await this.#prepare();
      const client = await this.#pool.connect();
      const subscribers = new Set<() => void>();
      client.on("notification", (msg) => {
        if (msg.payload === this.schema) for (const s of subscribers) s();
      });
      client.on("error", (err) => {
        if (this.#listener?.client === client) this.#listener = undefined;
        this.#listening = undefined;
        // A broken client must leave the pool, or pool.end() waits for it forever.
        client.release(err);
        if (this.#closed || subscribers.size === 0) return;
        const again = setTimeout(() => {
          void this.#listen().then(
            () => {
              for (const wake of subscribers) {
                this.#listener?.subscribers.add(wake);
                wake();
              }
            },
            () => undefined,
          );
        }, 100);
        again.unref();
      });
      await client.query("LISTEN audit_events");
      this.#listener = { client, subscribers };
    })();
    return this.#listening;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#listener) {
      this.#listener.client.release(true);
      this.#listener = undefined;
    }
    if (this.#owned) await this.#pool.end().catch(() => undefined);
  }
}
