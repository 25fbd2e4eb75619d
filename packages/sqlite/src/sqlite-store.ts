import { accessSync, closeSync, constants, existsSync, openSync } from "node:fs";
import {
  AuditClosedError,
  AuditConfigError,
  AuditError,
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  describeError,
  type PrunedChainHead,
  type PruneOptions,
  type StoreCapabilities,
  type StoredRow,
  StoreError,
} from "@audit/core";
import {
  assertValidBatch,
  type CursorKey,
  cursorOf,
  describeStore,
  eventMatches,
  keysetPages,
  orderBy,
  type ResolvedFilter,
  resolveFilter,
  resolvePrune,
} from "@audit/core/store-kit";
import BetterSqlite3, { type Database, type Statement } from "better-sqlite3";
import { whereOf } from "./dialect.js";
import { checkSchema, migrate } from "./migrations.js";
import { openReadOnly } from "./read-only.js";
import { deleteBefore, highestHeads, keepNewest } from "./retention.js";
import {
  bindRow,
  EVENT_COLUMNS,
  type EventRow,
  type InsertRow,
  rowBytes,
  rowColumns,
  rowEvent,
  timeText,
  timeValue,
  toRow,
} from "./row-layout.js";
import { groupStats } from "./stats.js";
import { INSERT_SQL, WriteThread } from "./write-thread.js";

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Path of the database file, or `":memory:"`. Ignored when `database` is given. */
  filename?: string;
  /** Your own better-sqlite3 connection. It is migrated but not closed by the store. */
  database?: Database;
  /**
   * How long a write waits for another process's lock before failing.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * SQLite's `synchronous` setting. `"full"` syncs the WAL on every commit, so a committed batch
   * survives a power cut; `"normal"` survives a process crash but may lose the last commits on
   * power loss, and is faster.
   * @default "full"
   */
  synchronous?: "full" | "normal";
  /**
   * Keep at most about this many events: when an append takes the count past it, the oldest are
   * pruned. The count is kept in memory (one COUNT at open), not recounted on every write.
   * Pruning here does not write prune checkpoints; use `auditor.prune` for a verifiable trail.
   */
  maxEvents?: number;
  /**
   * Write on a worker thread with its own connection, so a batch (and its fsync) never blocks the
   * event loop. Applies to file databases the store opens itself.
   * @default true
   */
  writeThread?: boolean;
  /**
   * How often `subscribe` looks for new rows.
   * @default 250
   */
  pollIntervalMs?: number;
  /**
   * Open the file read-only: query, stream, count, subscribe and verification work; `append` and
   * `prune` are refused. Chosen by itself when the file exists and this process may not write it
   * (an archived trail, a copy handed to an auditor).
   * @default false, or true for an existing file this process cannot write
   */
  readOnly?: boolean;
}

// Core does not export these two types by name (yet): they are what its contract returns.
type TrailStats = Awaited<ReturnType<NonNullable<AuditStore["stats"]>>>;
type StoreDescription = ReturnType<NonNullable<AuditStore["describe"]>>;

/** The mode of database files the store creates: owner read and write only, whatever the umask. */
export const DATABASE_FILE_MODE = 0o600;

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const PAGE = 1000;

/**
 * The audit trail in SQLite. WAL mode, a busy timeout and `BEGIN IMMEDIATE` transactions make
 * several processes writing one file safe; each appended batch is one transaction; an event id is
 * the primary key, so a repeated id is ignored (never replaced) and the first resolution of an
 * approval is the only one the database accepts, whichever process writes it.
 */
export class SqliteStore implements AuditStore {
  readonly id = "sqlite";
  readonly capabilities: StoreCapabilities = {
    persistent: true,
    multiProcess: true,
    subscribe: true,
  };
  /** The path the store was opened with (or `":memory:"`). */
  readonly filename: string;

  readonly #db: Database;
  readonly #owned: boolean;
  readonly #maxEvents: number | undefined;
  readonly #retentionListeners = new Set<(heads: readonly PrunedChainHead[]) => void>();
  readonly #pollIntervalMs: number;
  readonly #cursorLookup: Statement;
  readonly #appendTx: (rows: readonly InsertRow[]) => number;
  readonly #thread: WriteThread | undefined;
  readonly #readonly: boolean;
  #approxCount = 0;
  #closed = false;
  #subscriptions = new Set<NodeJS.Timeout>();

  constructor(options: SqliteStoreOptions = {}) {
    if (options.database) {
      this.#db = options.database;
      this.#owned = false;
      this.filename = options.database.name;
      this.#readonly = options.database.readonly;
    } else {
      const filename = options.filename;
      if (typeof filename !== "string" || filename.length === 0) {
        throw new AuditConfigError(
          '[audit] [sqlite] a filename is required, e.g. new SqliteStore({ filename: "./audit.db" })',
        );
      }
      this.filename = filename;
      const inMemory = filename === ":memory:";
      const exists = !inMemory && existsSync(filename);
      this.#readonly = options.readOnly ?? (exists && !isWritable(filename));
      if (options.readOnly === true && !inMemory && !exists) {
        throw new StoreError(
          "sqlite",
          `${filename} does not exist: there is no trail to read there (check the path)`,
          { code: "AUDIT_STORE_MISSING" },
        );
      }
      if (this.#readonly && inMemory) {
        throw new AuditConfigError("[audit] [sqlite] an in-memory database cannot be read-only");
      }
      try {
        // SQLite creates a database 0644 and its -wal and -shm files with the database's mode: made
        // here first with 0600, the trail and its journal stay private to the owner.
        if (!inMemory && !exists && !this.#readonly) {
          closeSync(openSync(filename, "a", DATABASE_FILE_MODE));
        }
        this.#db = this.#readonly
          ? openReadOnly(filename, options.busyTimeoutMs ?? 5000)
          : new BetterSqlite3(filename, { timeout: options.busyTimeoutMs ?? 5000 });
      } catch (err) {
        throw new StoreError(
          "sqlite",
          this.#readonly
            ? `cannot open ${filename} read-only (${describeError(err)})`
            : `cannot open ${filename} (${describeError(err)}); check that the directory exists and is writable`,
          {
            cause: err,
          },
        );
      }
      this.#owned = true;
    }
    const db = this.#db;
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      if (this.#readonly) {
        assertHoldsTrail(db, this.filename);
        checkSchema(db);
      } else {
        if (this.filename !== ":memory:" && this.filename !== "") db.pragma("journal_mode = WAL");
        db.pragma(`synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
        migrate(db);
      }
    } catch (err) {
      if (this.#owned) db.close();
      if (err instanceof AuditError) throw err;
      throw new StoreError("sqlite", `cannot prepare ${this.filename}: ${describeError(err)}`, {
        cause: err,
      });
    }
    this.#pollIntervalMs = options.pollIntervalMs ?? 250;
    this.#cursorLookup = db.prepare("SELECT time, id FROM audit_events WHERE id = ?");
    const insert = db.prepare(INSERT_SQL);
    const tx = db.transaction((rows: readonly InsertRow[]) => {
      let added = 0;
      for (const r of rows) added += insert.run(bindRow(r)).changes;
      return added;
    });
    // IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading a read lock.
    this.#appendTx = (rows) => tx.immediate(rows);
    const fileDb = this.#owned && this.filename !== ":memory:" && this.filename !== "";
    if (fileDb && !this.#readonly && options.writeThread !== false) {
      this.#thread = new WriteThread(
        this.filename,
        Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000)),
        options.synchronous === "normal" ? "NORMAL" : "FULL",
      );
    }
    this.#maxEvents = this.#readonly ? undefined : options.maxEvents;
    if (this.#maxEvents !== undefined) {
      if (!Number.isInteger(this.#maxEvents) || this.#maxEvents < 1) {
        throw new AuditConfigError("[audit] [sqlite] maxEvents must be a whole number ≥ 1");
      }
      this.#approxCount = (
        db.prepare("SELECT count(*) AS n FROM audit_events").get() as { n: number }
      ).n;
    }
  }

  /** The underlying better-sqlite3 connection, for raw reads (tests, `EXPLAIN QUERY PLAN`). */
  get database(): Database {
    return this.#db;
  }

  /** Whether the file is open read-only (by the `readonly` option, or because it is not writable). */
  get readOnly(): boolean {
    return this.#readonly;
  }

  #check(): void {
    if (this.#closed) throw new AuditClosedError("[audit] [sqlite] the store is closed");
  }

  #checkWritable(what: string): void {
    if (this.#readonly) {
      throw new StoreError(
        "sqlite",
        `cannot ${what}: ${this.filename} is open read-only; open it with write access to change it`,
      );
    }
  }

  #wrap<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof AuditError) throw err;
      throw new StoreError("sqlite", `${what} failed on ${this.filename}: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.#check();
    this.#checkWritable("append");
    assertValidBatch(events);
    if (events.length === 0) return;
    const rows = events.map((e) => toRow(e));
    let added: number;
    if (this.#thread) {
      try {
        added = await this.#thread.insert(rows);
      } catch (err) {
        throw new StoreError("sqlite", `append failed on ${this.filename}: ${describeError(err)}`, {
          cause: err,
        });
      }
    } else {
      added = this.#wrap("append", () => this.#appendTx(rows));
    }
    // A batch of checkpoints alone (the final one written by close()) never trims: the prune
    // checkpoint of that trim could not follow a chain's final checkpoint.
    const trims = events.some((e) => e.type !== "audit.checkpoint");
    if (this.#maxEvents !== undefined) {
      this.#approxCount += added;
      if (trims && this.#approxCount > this.#maxEvents) {
        const heads: PrunedChainHead[] = [];
        this.#wrap("prune to maxEvents", () =>
          this.#db.transaction(() => keepNewest(this.#db, this.#maxEvents!, heads)).immediate(),
        );
        this.#approxCount = this.#maxEvents;
        this.#notifyRetention(heads);
      }
    }
  }

  #lookup(id: string): CursorKey | undefined {
    const row = this.#cursorLookup.get(id) as { time: unknown; id: string } | undefined;
    return row && { time: timeText(row.time), id: row.id };
  }

  #select(filter: ResolvedFilter, cursor: CursorKey | undefined, limit?: number): AuditEvent[] {
    const { where, params } = whereOf(filter, cursor);
    const sql = `SELECT ${EVENT_COLUMNS} FROM audit_events ${where} ${orderBy(filter)}`;
    const rows = (
      limit === undefined
        ? this.#db.prepare(sql).all(...params)
        : this.#db.prepare(`${sql} LIMIT ?`).all(...params, limit)
    ) as EventRow[];
    return rows.map(rowEvent);
  }

  // The filter resolved, and the key its `after` names (an id that is not stored is an error).
  async #open(filter: AuditFilter | undefined, what: string) {
    this.#check();
    const resolved = resolveFilter(filter);
    const cursor = await cursorOf(resolved.after, (id) => this.#wrap(what, () => this.#lookup(id)));
    return { resolved, cursor };
  }

  async query(filter?: AuditFilter): Promise<AuditEvent[]> {
    const { resolved, cursor } = await this.#open(filter, "query");
    return this.#wrap("query", () => this.#select(resolved, cursor, resolved.limit));
  }

  async *stream(filter?: AuditFilter): AsyncIterable<AuditEvent> {
    const { resolved, cursor: start } = await this.#open(filter, "stream");
    yield* keysetPages(
      (cursor, size) => this.#wrap("stream", () => this.#select(resolved, cursor, size)),
      { start, limit: resolved.limit, pageSize: PAGE, check: () => this.#check() },
    );
  }

  async get(id: string): Promise<AuditEvent | undefined> {
    this.#check();
    const row = this.#wrap(
      "get",
      () =>
        this.#db.prepare(`SELECT ${EVENT_COLUMNS} FROM audit_events WHERE id = ?`).get(id) as
          | EventRow
          | undefined,
    );
    return row && rowEvent(row);
  }

  async count(filter?: AuditFilter): Promise<number> {
    const { resolved, cursor } = await this.#open(filter, "count");
    return this.#wrap("count", () => {
      const { where, params } = whereOf(resolved, cursor);
      const sql =
        resolved.limit === undefined
          ? `SELECT count(*) AS n FROM audit_events ${where}`
          : `SELECT count(*) AS n FROM (SELECT 1 FROM audit_events ${where} LIMIT ${resolved.limit})`;
      return (this.#db.prepare(sql).get(...params) as { n: number }).n;
    });
  }

  /**
   * Counts by type, actor and risk from `GROUP BY` queries, in one read transaction (see
   * `stats.ts`). `limit` and `after` are ignored.
   */
  async stats(filter?: AuditFilter): Promise<TrailStats> {
    this.#check();
    const resolved = resolveFilter({ ...filter, limit: undefined, after: undefined });
    return this.#wrap("stats", () => groupStats(this.#db, resolved));
  }

  /** What and where the store is: the file (or `:memory:`), read-only or not, capabilities. */
  describe(): StoreDescription {
    return describeStore(this, this.filename, this.#readonly);
  }

  async prune(options: PruneOptions): Promise<number> {
    this.#check();
    this.#checkWritable("prune");
    const { before, keep } = resolvePrune(options);
    const heads: PrunedChainHead[] = [];
    const deleted = this.#wrap("prune", () =>
      this.#db
        .transaction(
          () =>
            (before === undefined ? 0 : deleteBefore(this.#db, timeValue(before), heads)) +
            (keep === undefined ? 0 : keepNewest(this.#db, keep, heads)),
        )
        .immediate(),
    );
    this.#notifyRetention(heads);
    return deleted;
  }

  #notifyRetention(found: readonly PrunedChainHead[]): void {
    if (found.length === 0) return;
    const heads = highestHeads(found);
    for (const listener of this.#retentionListeners) {
      try {
        listener(heads);
      } catch {
        // A listener's failure must not fail the deletion that already happened.
      }
    }
  }

  /**
   * Every row as stored, for `verifyChain`, in the `(time, id)` order every read returns: the text
   * a reader gets, put together from the columns around the payload's stored bytes (so bytes that
   * are not UTF-8 are seen), and the indexed columns as they are. Keyset pages: constant memory.
   */
  async *storedRows(): AsyncIterable<StoredRow> {
    this.#check();
    const all = resolveFilter({});
    const columns = `pk, ${EVENT_COLUMNS.replace("data, extra", "CAST(data AS BLOB) AS data, CAST(extra AS BLOB) AS extra")}, approval_id, risk_level`;
    type Stored = EventRow & { pk: number; approval_id: unknown; risk_level: unknown };
    const rows = keysetPages<Stored>(
      (cursor, size) =>
        this.#wrap("read rows", () => {
          const { where, params } = whereOf(all, cursor);
          return this.#db
            .prepare(`SELECT ${columns} FROM audit_events ${where} ${orderBy(all)} LIMIT ?`)
            .all(...params, size) as Stored[];
        }),
      {
        pageSize: PAGE,
        keyOf: (r) => ({ time: timeText(r.time), id: String(r.id) }),
        check: () => this.#check(),
      },
    );
    for await (const r of rows) {
      yield { location: `row ${r.pk}`, text: rowBytes(r), columns: rowColumns(r) };
    }
  }

  /**
   * Called after `maxEvents` or `prune` deleted events, with the last deleted link of each chain
   * (the auditor writes the prune checkpoints from it).
   */
  onRetention(listener: (heads: readonly PrunedChainHead[]) => void): () => void {
    this.#retentionListeners.add(listener);
    return () => this.#retentionListeners.delete(listener);
  }

  /**
   * Polls for rows added after the call (by any process) and passes the matching ones on. New
   * rows are found by rowid, which grows with every insert, so a row committed late with an older
   * time is still delivered, once.
   */
  subscribe(filter: AuditFilter, onEvent: (event: AuditEvent) => void): () => void {
    this.#check();
    const resolved = resolveFilter(filter);
    let last = (
      this.#db.prepare("SELECT coalesce(max(pk), 0) AS pk FROM audit_events").get() as {
        pk: number;
      }
    ).pk;
    const next = this.#db.prepare(
      `SELECT pk, ${EVENT_COLUMNS} FROM audit_events WHERE pk > ? ORDER BY pk LIMIT 1000`,
    );
    const timer = setInterval(() => {
      if (this.#closed) return;
      try {
        for (;;) {
          const rows = next.all(last) as (EventRow & { pk: number })[];
          for (const r of rows) {
            last = r.pk;
            const e = rowEvent(r);
            if (eventMatches(resolved, e)) onEvent(e);
          }
          if (rows.length < 1000) break;
        }
      } catch {
        // A busy or closing database: try again on the next tick.
      }
    }, this.#pollIntervalMs);
    timer.unref();
    this.#subscriptions.add(timer);
    return () => {
      clearInterval(timer);
      this.#subscriptions.delete(timer);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#subscriptions) clearInterval(t);
    this.#subscriptions.clear();
    await this.#thread?.close();
    if (this.#owned) this.#db.close();
  }
}

function assertHoldsTrail(db: Database, filename: string): void {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'")
    .get();
  if (!table) {
    throw new StoreError(
      "sqlite",
      `${filename} holds no audit trail (no audit_events table): is it the right file?`,
      { code: "AUDIT_STORE_MISSING" },
    );
  }
}
