import { accessSync, closeSync, constants, existsSync, openSync } from "node:fs";
import {
  AuditClosedError,
  AuditConfigError,
  AuditError,
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  assertValidBatch,
  cursorNotFound,
  describeError,
  eventMatches,
  type PrunedChainHead,
  type PruneOptions,
  type ResolvedFilter,
  RISK_LEVELS,
  resolveFilter,
  resolvePrune,
  type StoreCapabilities,
  type StoredRow,
  StoreError,
} from "@audit/core";
import BetterSqlite3, { type Database, type Statement } from "better-sqlite3";
import { checkSchema, migrate } from "./migrations.js";
import { openReadOnly } from "./read-only.js";
import { filterToSql } from "./sql-filter.js";
import { INSERT_SQL, type InsertRow, WriteThread } from "./write-thread.js";

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

interface Row {
  body: string;
}

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
      for (const r of rows) added += insert.run(r).changes;
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
    const rows = events.map(toRow);
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
          this.#db.transaction(() => this.#pruneKeep(this.#maxEvents!, heads)).immediate(),
        );
        this.#approxCount = this.#maxEvents;
        this.#notifyRetention(heads);
      }
    }
  }

  #cursor(filter: ResolvedFilter): { time: string; id: string } | undefined {
    if (filter.after === undefined) return undefined;
    const row = this.#cursorLookup.get(filter.after) as { time: string; id: string } | undefined;
    if (!row) throw cursorNotFound(filter.after);
    return row;
  }

  #select(
    filter: ResolvedFilter,
    cursor: { time: string; id: string } | undefined,
    limit: number | undefined,
  ): AuditEvent[] {
    const { where, params } = filterToSql(filter, cursor);
    const dir = filter.order === "asc" ? "ASC" : "DESC";
    const sql = `SELECT body FROM audit_events ${where} ORDER BY time ${dir}, id ${dir}${limit === undefined ? "" : " LIMIT ?"}`;
    const rows = this.#db
      .prepare(sql)
      .all(...params, ...(limit === undefined ? [] : [limit])) as Row[];
    return rows.map((r) => JSON.parse(r.body) as AuditEvent);
  }

  async query(filter?: AuditFilter): Promise<AuditEvent[]> {
    this.#check();
    const resolved = resolveFilter(filter);
    return this.#wrap("query", () =>
      this.#select(resolved, this.#cursor(resolved), resolved.limit),
    );
  }

  async *stream(filter?: AuditFilter): AsyncIterable<AuditEvent> {
    this.#check();
    const resolved = resolveFilter(filter);
    let cursor = this.#wrap("stream", () => this.#cursor(resolved));
    let remaining = resolved.limit;
    // Keyset pages on (time, id): constant memory, and rows written meanwhile never shift a page.
    while (remaining === undefined || remaining > 0) {
      this.#check();
      const size = Math.min(PAGE, remaining ?? PAGE);
      const page = this.#wrap("stream", () => this.#select(resolved, cursor, size));
      for (const e of page) yield e;
      if (page.length < size) return;
      const last = page[page.length - 1]!;
      cursor = { time: last.time, id: last.id };
      if (remaining !== undefined) remaining -= page.length;
    }
  }

  async get(id: string): Promise<AuditEvent | undefined> {
    this.#check();
    const row = this.#wrap(
      "get",
      () =>
        this.#db.prepare("SELECT body FROM audit_events WHERE id = ?").get(id) as Row | undefined,
    );
    return row ? (JSON.parse(row.body) as AuditEvent) : undefined;
  }

  async count(filter?: AuditFilter): Promise<number> {
    this.#check();
    const resolved = resolveFilter(filter);
    return this.#wrap("count", () => {
      const { where, params } = filterToSql(resolved, this.#cursor(resolved));
      if (resolved.limit === undefined) {
        return (
          this.#db.prepare(`SELECT count(*) AS n FROM audit_events ${where}`).get(...params) as {
            n: number;
          }
        ).n;
      }
      const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM audit_events ${where} LIMIT ?)`;
      return (this.#db.prepare(sql).get(...params, resolved.limit) as { n: number }).n;
    });
  }

  async prune(options: PruneOptions): Promise<number> {
    this.#check();
    this.#checkWritable("prune");
    const { before, keep } = resolvePrune(options);
    // The last deleted link of each chain, read in the same transaction as the deletion.
    const heads: PrunedChainHead[] = [];
    const deleted = this.#wrap("prune", () =>
      this.#db
        .transaction(() => {
          let n = 0;
          if (before !== undefined) {
            heads.push(...this.#headsWhere("time < ?", [before]));
            n += this.#db.prepare("DELETE FROM audit_events WHERE time < ?").run(before).changes;
          }
          if (keep !== undefined) n += this.#pruneKeep(keep, heads);
          return n;
        })
        .immediate(),
    );
    this.#notifyRetention(heads);
    return deleted;
  }

  // One head per chain (the highest, when a prune by time and by count both cut it).
  #notifyRetention(found: readonly PrunedChainHead[]): void {
    if (found.length === 0) return;
    const byChain = new Map<string, PrunedChainHead>();
    for (const h of found)
      if ((byChain.get(h.chainId)?.seq ?? 0) < h.seq) byChain.set(h.chainId, h);
    for (const listener of this.#retentionListeners) {
      try {
        listener([...byChain.values()]);
      } catch {
        // A listener's failure must not fail the deletion that already happened.
      }
    }
  }

  #pruneKeep(keep: number, heads?: PrunedChainHead[]): number {
    if (keep === 0) {
      heads?.push(...this.#headsWhere("1 = 1", []));
      return this.#db.prepare("DELETE FROM audit_events").run().changes;
    }
    const boundary = this.#db
      .prepare("SELECT time, id FROM audit_events ORDER BY time DESC, id DESC LIMIT 1 OFFSET ?")
      .get(keep - 1) as { time: string; id: string } | undefined;
    if (!boundary) return 0;
    const where = "time < ? OR (time = ? AND id < ?)";
    const params = [boundary.time, boundary.time, boundary.id];
    heads?.push(...this.#headsWhere(where, params));
    return this.#db.prepare(`DELETE FROM audit_events WHERE ${where}`).run(...params).changes;
  }

  // The highest link of each chain among the rows matching `where` (read before deleting them).
  #headsWhere(where: string, params: unknown[]): PrunedChainHead[] {
    const rows = this.#db
      .prepare(
        `SELECT chain_id AS chainId, max(chain_seq) AS seq FROM audit_events WHERE (${where}) AND chain_id IS NOT NULL GROUP BY chain_id`,
      )
      .all(...params) as { chainId: string; seq: number }[];
    const body = this.#db.prepare(
      "SELECT body FROM audit_events WHERE chain_id = ? AND chain_seq = ? LIMIT 1",
    );
    const heads: PrunedChainHead[] = [];
    for (const r of rows) {
      const row = body.get(r.chainId, r.seq) as { body: string } | undefined;
      const hash = row ? (JSON.parse(row.body) as AuditEvent).chain?.hash : undefined;
      if (hash) heads.push({ chainId: r.chainId, seq: r.seq, hash });
    }
    return heads;
  }

  /**
   * Every row as stored, for `verifyChain`: the body's bytes exactly (so text that is not valid
   * UTF-8 is seen) and every indexed column, in the `(time, id)` order of the columns, which is the
   * order every read returns. Keyset pages: constant memory.
   */
  async *storedRows(): AsyncIterable<StoredRow> {
    this.#check();
    const columns =
      "pk, id, time, type, actor, session_id, run_id, approval_id, risk_level, chain_id, chain_seq, CAST(body AS BLOB) AS body";
    const first = this.#db.prepare(
      `SELECT ${columns} FROM audit_events ORDER BY time, id LIMIT ${PAGE}`,
    );
    const next = this.#db.prepare(
      `SELECT ${columns} FROM audit_events WHERE (time, id) > (?, ?) ORDER BY time, id LIMIT ${PAGE}`,
    );
    let cursor: { time: string; id: string } | undefined;
    for (;;) {
      this.#check();
      const rows = this.#wrap(
        "read rows",
        () => (cursor ? next.all(cursor.time, cursor.id) : first.all()) as StoredSqliteRow[],
      );
      for (const r of rows) {
        yield {
          location: `row ${r.pk}`,
          text: r.body,
          columns: {
            id: r.id,
            time: r.time,
            type: r.type,
            actor: r.actor,
            sessionId: r.session_id,
            runId: r.run_id,
            approvalId: r.approval_id,
            riskLevel: r.risk_level,
            chainId: r.chain_id,
            chainSeq: r.chain_seq,
          },
        };
      }
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1]!;
      cursor = { time: last.time, id: last.id };
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

  /** Polls for rows added after the call (by any process) and passes the matching ones on. */
  subscribe(filter: AuditFilter, onEvent: (event: AuditEvent) => void): () => void {
    this.#check();
    const resolved = resolveFilter(filter);
    let last = (
      this.#db.prepare("SELECT coalesce(max(pk), 0) AS pk FROM audit_events").get() as {
        pk: number;
      }
    ).pk;
    const next = this.#db.prepare(
      "SELECT pk, body FROM audit_events WHERE pk > ? ORDER BY pk LIMIT 1000",
    );
    const timer = setInterval(() => {
      if (this.#closed) return;
      try {
        for (;;) {
          const rows = next.all(last) as { pk: number; body: string }[];
          for (const r of rows) {
            last = r.pk;
            const e = JSON.parse(r.body) as AuditEvent;
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

function toRow(e: AuditEvent): InsertRow {
  return [
    e.id,
    e.time,
    e.type,
    e.actor ?? null,
    e.sessionId ?? null,
    e.runId ?? null,
    typeof e.data.approvalId === "string" ? e.data.approvalId : null,
    e.risk === undefined ? null : RISK_LEVELS.indexOf(e.risk),
    e.chain?.id ?? null,
    e.chain?.seq ?? null,
    JSON.stringify(e),
  ];
}

interface StoredSqliteRow {
  pk: number;
  id: string;
  time: string;
  type: string;
  actor: string | null;
  session_id: string | null;
  run_id: string | null;
  approval_id: string | null;
  risk_level: number | null;
  chain_id: string | null;
  chain_seq: number | null;
  body: Uint8Array;
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
