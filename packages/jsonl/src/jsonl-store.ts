import { constants, type Dirent, lstatSync, readdirSync } from "node:fs";
import { mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
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
  uuidv7Time,
} from "@audit/core";
import {
  assertValidBatch,
  assertValidEvent,
  compareEvents,
  cursorNotFound,
  eventMatches,
  isAfterCursor,
  type ResolvedFilter,
  resolveFilter,
  resolvePrune,
} from "@audit/core/store-kit";
import { FileIndex, type IndexContext } from "./day-index.js";
import { FingerprintTable } from "./fingerprint-table.js";
import { fingerprint } from "./hashing.js";
import { findInFile, type Located, storedIds } from "./id-lookup.js";
import { persistIndex } from "./index-persist.js";
import { lineOf } from "./line-format.js";
import {
  type FileLine,
  type FileLineBytes,
  readLineBytes,
  readLines,
  readLinesBackward,
} from "./lines.js";
import { DirectoryLock } from "./lock.js";
import { ReadMeter } from "./read-meter.js";
import { seekBackward, seekForward } from "./seek.js";
import { type DataFileStat, removeSidecar, tailCheckAt, writeSidecar } from "./sidecar-file.js";
import { encodeBase, SAMPLE_EVERY } from "./sidecar-format.js";
import { StaleIndexError } from "./stale-index.js";
import { FileFollower } from "./tail.js";

/** How events are split into files. */
export type JsonlRotation = "daily" | "single" | { maxBytes: number; daily?: boolean };

/** Options of {@link JsonlStore}. */
export interface JsonlStoreOptions {
  /** The directory that holds the files; created (mode 0700) if missing. */
  dir: string;
  /**
   * `"daily"`: one file per UTC day of the events' time. `"single"`: one file. `{ maxBytes }`: a
   * new file when the current one passes `maxBytes` (per day too with `daily: true`).
   * @default "daily"
   */
  rotation?: JsonlRotation;
  /**
   * `"never"`: leave flushing to the OS. `"batch"`: fsync the file after every appended batch.
   * `"always"`: also fsync the directory when a file is created, so the file itself survives a
   * power cut.
   * @default "batch"
   */
  fsync?: "never" | "batch" | "always";
  /**
   * How long an append waits for another process's lock.
   * @default 10000
   */
  lockTimeoutMs?: number;
  /** Receives a message for each unreadable line found while reading (torn or damaged). */
  onWarning?: (message: string) => void;
  /**
   * Open an existing trail for reading only (`audit verify` does): the directory is never created,
   * a missing one is a `StoreError`, and appends and prunes are refused.
   * @default false
   */
  readOnly?: boolean;
  /**
   * How often `subscribe` looks for new lines. Each look costs a directory listing and a `stat`
   * per file, plus reading only the bytes added since the last one.
   * @default 250
   */
  pollIntervalMs?: number;
}

type Key = Pick<AuditEvent, "time" | "id">;

/** A cursor's event; `file` (its inode, and the line's place in it) when an index found it. */
interface Cursor extends Located {
  file: string | undefined;
  ino: bigint;
}

/** Where to read a file from: offsets found in inode `ino`. */
interface Range {
  start?: number;
  end?: number;
  ino?: bigint;
}

interface Segment {
  name: string;
  partition: string;
  seq: number;
}

interface SegmentState {
  /** The file's inode: a prune rewrites a file under the same name, with a new inode. */
  ino: number;
  size: number;
  last: Key | undefined;
  endsWithNewline: boolean;
}

const FILE_PATTERN = /^audit(?:-(\d{4}-\d{2}-\d{2}))?(?:\.(\d+))?\.jsonl$/;
const SINGLE = "all";

function fileName(partition: string, seq: number): string {
  const base = partition === SINGLE ? "audit" : `audit-${partition}`;
  return seq === 0 ? `${base}.jsonl` : `${base}.${seq}.jsonl`;
}

/**
 * The audit trail as JSON Lines files in one directory. Every file is kept sorted by `(time, id)`
 * — a batch that would land before a file's last event starts a new segment instead — so reads
 * merge the files of a partition line by line in constant memory, in either direction. Appends
 * from several processes are serialised by a lock file and written with one O_APPEND write each,
 * so lines never interleave or tear; a line torn by a crash is terminated by the next writer and
 * skipped (and reported) by readers.
 *
 * Each file has a sidecar index (`.<file>.idx`): fingerprints of ids with their lines' offsets,
 * and sample offsets by time. `get`, cursors and the writer's duplicate check go through it; it is
 * a cache, checked against the file and rebuilt from it whenever it does not describe it, and an
 * entry is believed only once the line it points to has been read.
 */
export class JsonlStore implements AuditStore {
  readonly id = "jsonl";
  readonly capabilities: StoreCapabilities = {
    persistent: true,
    multiProcess: true,
    subscribe: true,
  };
  readonly dir: string;

  readonly #daily: boolean;
  readonly #maxBytes: number | undefined;
  readonly #fsync: "never" | "batch" | "always";
  readonly #lockTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #onWarning: ((message: string) => void) | undefined;
  readonly #lock: DirectoryLock;
  readonly #readOnly: boolean;
  readonly #meter = new ReadMeter();
  readonly #ctx: IndexContext;
  // What this process knows of each file, and the index of each file it has looked up.
  readonly #segments = new Map<string, SegmentState>();
  readonly #indexes = new Map<string, FileIndex>();
  // Files whose index was built from the file (no usable sidecar): the next append saves them.
  readonly #unsaved = new Set<string>();
  readonly #followers = new Set<FileFollower>();
  readonly #reported = new Set<string>();
  readonly #retentionListeners = new Set<(heads: readonly PrunedChainHead[]) => void>();
  #badLines = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(options: JsonlStoreOptions) {
    if (!options || typeof options.dir !== "string" || options.dir.length === 0) {
      throw new AuditConfigError(
        '[audit] [jsonl] a directory is required, e.g. new JsonlStore({ dir: "./audit-logs" })',
      );
    }
    this.dir = options.dir;
    const rotation = options.rotation ?? "daily";
    if (rotation === "daily") this.#daily = true;
    else if (rotation === "single") this.#daily = false;
    else if (
      typeof rotation === "object" &&
      Number.isInteger(rotation.maxBytes) &&
      rotation.maxBytes > 0
    ) {
      this.#daily = rotation.daily ?? false;
      this.#maxBytes = rotation.maxBytes;
    } else {
      throw new AuditConfigError(
        '[audit] [jsonl] rotation must be "daily", "single" or { maxBytes }',
      );
    }
    this.#fsync = options.fsync ?? "batch";
    if (!["never", "batch", "always"].includes(this.#fsync)) {
      throw new AuditConfigError('[audit] [jsonl] fsync must be "never", "batch" or "always"');
    }
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 250;
    if (!Number.isInteger(this.#pollIntervalMs) || this.#pollIntervalMs < 1) {
      throw new AuditConfigError("[audit] [jsonl] pollIntervalMs must be a whole number of ms ≥ 1");
    }
    this.#onWarning = options.onWarning;
    this.#readOnly = options.readOnly === true;
    this.#lock = new DirectoryLock(this.dir);
    this.#ctx = {
      dir: this.dir,
      meter: this.#meter,
      warn: (key, message) => this.#warnOnce(key, message),
    };
  }

  /** Unreadable lines met while reading so far (each counted once). */
  get badLines(): number {
    return this.#badLines;
  }

  /**
   * Bytes this instance has read from the trail's files and sidecars so far: what a lookup, a
   * page or a live-tail poll cost, in a number that does not depend on the machine's speed.
   */
  get bytesRead(): number {
    return this.#meter.bytes;
  }

  #check(): void {
    if (this.#closed) throw new AuditClosedError("[audit] [jsonl] the store is closed");
  }

  #warnOnce(key: string, message: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#onWarning?.(message);
  }

  #prepare(): Promise<void> {
    this.#ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 })
      .then(async () => {
        const mode = (await stat(this.dir)).mode;
        // Anyone who may write the directory may plant files or links in it.
        if ((mode & 0o022) !== 0) {
          this.#warnOnce(
            "dir-mode",
            `[audit] [jsonl] ${this.dir} is group- or world-writable (mode ${(mode & 0o777).toString(8)}): others could plant files or links in the trail; chmod 700 it`,
          );
        }
      })
      .catch((err: unknown) => {
        this.#ready = undefined;
        throw new StoreError(
          "jsonl",
          `cannot create ${this.dir} (${describeError(err)}); check the path and permissions`,
          {
            cause: err,
          },
        );
      });
    return this.#ready;
  }

  #partitionOf(time: string): string {
    return this.#daily ? time.slice(0, 10) : SINGLE;
  }

  async #list(): Promise<Segment[]> {
    let names: Dirent[];
    try {
      // Synchronous: a listing is a single short system call, cheaper than a thread-pool trip.
      names = readdirSync(this.dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        if (!this.#readOnly) return [];
        throw new StoreError(
          "jsonl",
          `${this.dir} does not exist: there is no trail to read there (check the path)`,
          { code: "AUDIT_STORE_MISSING", cause: err },
        );
      }
      throw new StoreError("jsonl", `cannot read ${this.dir}: ${describeError(err)}`, {
        cause: err,
      });
    }
    const out: Segment[] = [];
    for (const entry of names) {
      const name = entry.name;
      const m = FILE_PATTERN.exec(name);
      if (!m) continue;
      // A link planted in the directory could point a writer or a reader at any file: refused.
      if (!entry.isFile()) {
        this.#warnOnce(
          `link:${name}`,
          `[audit] [jsonl] ${this.dir}/${name} is not a regular file (a symbolic link?); it is ignored and never written through`,
        );
        continue;
      }
      out.push({ name, partition: m[1] ?? SINGLE, seq: m[2] === undefined ? 0 : Number(m[2]) });
    }
    return out.sort((a, b) =>
      a.partition === b.partition ? a.seq - b.seq : a.partition < b.partition ? -1 : 1,
    );
  }

  #parse(line: FileLine, file: string): AuditEvent | undefined {
    try {
      if (!line.complete) throw new Error("incomplete");
      const e = JSON.parse(line.text) as unknown;
      assertValidEvent(e);
      return e;
    } catch {
      const key = `${file}\u0000${line.text.length}\u0000${line.text.slice(0, 64)}`;
      if (!this.#reported.has(key)) {
        this.#reported.add(key);
        this.#badLines++;
        this.#onWarning?.(
          line.complete
            ? `[audit] [jsonl] ${file}: skipped a line that is not an audit event (${line.text.length} bytes)`
            : `[audit] [jsonl] ${file}: skipped a torn last line (${line.text.length} bytes; a write cut short by a crash, or still in progress)`,
        );
      }
      return undefined;
    }
  }

  // The events of one file in order; forwards from byte `start`, or backwards from byte `end`.
  async *#events(
    file: string,
    order: "asc" | "desc",
    range: Range = {},
  ): AsyncGenerator<AuditEvent> {
    const path = join(this.dir, file);
    let lines: AsyncGenerator<FileLine>;
    try {
      lines =
        order === "asc"
          ? readLines(path, { ...range, end: undefined, meter: this.#meter })
          : readLinesBackward(path, { ...range, meter: this.#meter });
      for await (const line of lines) {
        const e = this.#parse(line, file);
        if (e) yield e;
      }
    } catch (err) {
      // A file pruned away by another process while we read it simply ends.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
  }

  // Every event of a partition in order: a k-way merge of its (each sorted) segment files, each
  // read from where the bound (`seek`) says its first wanted line may be — or, in the cursor's
  // own file, right after (or before) the cursor's line.
  async *#mergePartition(
    files: string[],
    order: "asc" | "desc",
    seek: ((key: Key) => boolean) | undefined,
    cursorAt: Cursor | undefined,
  ): AsyncGenerator<AuditEvent> {
    const sign = order === "asc" ? 1 : -1;
    const heads: { it: AsyncGenerator<AuditEvent>; e: AuditEvent }[] = [];
    try {
      for (const f of files) {
        let range: Range = {};
        if (cursorAt?.file === f) {
          const ino = cursorAt.ino;
          range = order === "asc" ? { start: cursorAt.end, ino } : { end: cursorAt.offset, ino };
        } else if (seek) {
          range = await this.#seek(f, order, seek);
        }
        const it = this.#events(f, order, range);
        const r = await it.next();
        if (!r.done) heads.push({ it, e: r.value });
      }
      yield* this.#mergeHeads(heads, sign);
    } finally {
      // A reader that stops early (a limit, a found id) closes every file, not just the current one.
      await Promise.all(heads.map((h) => h.it.return(undefined)));
    }
  }

  async *#mergeHeads(
    heads: { it: AsyncGenerator<AuditEvent>; e: AuditEvent }[],
    sign: number,
  ): AsyncGenerator<AuditEvent> {
    let lastId: string | undefined;
    while (heads.length > 0) {
      let best = 0;
      for (let i = 1; i < heads.length; i++) {
        if (sign * compareEvents(heads[i]!.e, heads[best]!.e) < 0) best = i;
      }
      const head = heads[best]!;
      // An id written twice (e.g. by a process that crashed between write and acknowledgement)
      // sorts next to itself: the first one read wins.
      if (head.e.id !== lastId) {
        lastId = head.e.id;
        yield head.e;
      }
      const r = await head.it.next();
      if (r.done) heads.splice(best, 1);
      else head.e = r.value;
    }
  }

  // Where to start reading a file: asc, the first byte where lines `outside` (a prefix) may end;
  // desc, the byte before which lines `outside` (a suffix) may begin. Through the file's index;
  // from the whole file when there is none to trust.
  async #seek(name: string, order: "asc" | "desc", outside: (key: Key) => boolean): Promise<Range> {
    return this.#withIndex(
      name,
      async (ix) =>
        order === "asc"
          ? { start: seekForward(ix, outside, this.#meter), ino: ix.dataIno }
          : { end: seekBackward(ix, outside, this.#meter), ino: ix.dataIno },
      async () => ({}),
    );
  }

  async *#scan(filter: ResolvedFilter): AsyncGenerator<AuditEvent> {
    const cursorAt = filter.after === undefined ? undefined : await this.#key(filter.after);
    const cursor = cursorAt && { time: cursorAt.event.time, id: cursorAt.event.id };
    const segments = await this.#list();
    const partitions = new Map<string, string[]>();
    for (const s of segments) {
      const list = partitions.get(s.partition) ?? [];
      list.push(s.name);
      partitions.set(s.partition, list);
    }
    const names = [...partitions.keys()].sort();
    const asc = filter.order === "asc";
    if (!asc) names.reverse();
    // Lines before the range (asc) or after it (desc): skipped by seeking where they end.
    const bound = asc ? filter.since : filter.until;
    const outside = (k: Key): boolean =>
      (cursor !== undefined &&
        (asc ? compareEvents(k, cursor) <= 0 : compareEvents(k, cursor) >= 0)) ||
      (bound !== undefined && (asc ? k.time < bound : k.time >= bound));
    const boundDays = [cursor?.time, bound]
      .filter((t) => t !== undefined)
      .map((t) => t.slice(0, 10));
    for (const p of names) {
      if (p !== SINGLE) {
        // Day partitions outside [since, until) or before the cursor hold nothing to return.
        if (filter.since !== undefined && p < filter.since.slice(0, 10)) continue;
        if (filter.until !== undefined && p > filter.until.slice(0, 10)) continue;
        if (cursor && asc && p < cursor.time.slice(0, 10)) continue;
        if (cursor && !asc && p > cursor.time.slice(0, 10)) continue;
      }
      const seek = p === SINGLE || boundDays.includes(p) ? outside : undefined;
      const merged = this.#mergePartition(partitions.get(p)!, filter.order, seek, cursorAt);
      for await (const e of merged) {
        // In order, so past the far end of the range nothing more can match.
        if (asc && filter.until !== undefined && e.time >= filter.until) return;
        if (!asc && filter.since !== undefined && e.time < filter.since) return;
        if (cursor && !isAfterCursor(e, cursor, filter.order)) continue;
        if (eventMatches(filter, e)) yield e;
      }
    }
  }

  async #key(id: string): Promise<Cursor> {
    const found = await this.#find(id);
    if (!found) throw cursorNotFound(id);
    return found;
  }

  // The event with this id, and — when an index found it — its file and where its line is.
  async #find(id: string): Promise<Cursor | undefined> {
    const ms = uuidv7Time(id);
    let segments = await this.#list();
    // A UUIDv7 names its day: look there first, then everywhere (an import may carry another time).
    if (ms !== undefined && this.#daily) {
      const day = new Date(ms).toISOString().slice(0, 10);
      segments = [
        ...segments.filter((x) => x.partition === day),
        ...segments.filter((x) => x.partition !== day),
      ];
    }
    for (const s of segments) {
      const found = await this.#withIndex<Cursor | undefined>(
        s.name,
        async (ix) => {
          const at = findInFile(ix, id, this.#meter);
          return at && { ...at, file: s.name, ino: ix.dataIno };
        },
        async () => {
          for await (const e of this.#events(s.name, "asc")) {
            if (e.id === id) return { event: e, file: undefined, ino: 0n, offset: 0, end: 0 };
          }
          return undefined;
        },
      );
      if (found) return found;
    }
    return undefined;
  }

  // ---- indexes

  /**
   * Runs `use` with the index of file `name`, brought up to date. An index found stale while in
   * use (StaleIndexError) is dropped and built again from the file; if that one fails too,
   * `fallback` answers from the file itself. A file that went away gives `fallback`'s answer.
   */
  async #withIndex<T>(
    name: string,
    use: (ix: FileIndex) => Promise<T>,
    fallback: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let ix: FileIndex | undefined;
      try {
        ix = await this.#index(name, attempt > 0);
      } catch (err) {
        if (!(err instanceof StaleIndexError)) throw err;
        this.#indexes.delete(name);
        continue;
      }
      if (!ix) return fallback();
      try {
        return await use(ix);
      } catch (err) {
        if (!(err instanceof StaleIndexError)) throw err;
        this.#indexes.delete(name);
        this.#warnOnce(
          `idx-stale:${name}`,
          `[audit] [jsonl] the index of ${name} does not match the file (${err.message}): rebuilt from the file`,
        );
      }
    }
    return fallback();
  }

  async #index(name: string, rebuild: boolean): Promise<FileIndex | undefined> {
    const data = await dataStat(join(this.dir, name));
    if (!data) {
      this.#indexes.delete(name);
      return undefined;
    }
    let ix = rebuild ? undefined : this.#indexes.get(name);
    if (ix && !(await ix.refresh(data))) ix = undefined;
    try {
      if (!ix) {
        ix = rebuild
          ? await FileIndex.build(this.#ctx, name, data)
          : await FileIndex.open(this.#ctx, name, data);
        if (!ix.onDisk && !this.#readOnly) this.#unsaved.add(name);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    // Most recently used last; the oldest indexes are dropped beyond a bound.
    this.#indexes.delete(name);
    this.#indexes.set(name, ix);
    if (this.#indexes.size > MAX_INDEXES) {
      const oldest = this.#indexes.keys().next().value;
      if (oldest !== undefined) this.#indexes.delete(oldest);
    }
    return ix;
  }

  // Saves (under the lock) the sidecars of indexes that had to be built from their files.
  async #saveUnsaved(): Promise<void> {
    for (const name of [...this.#unsaved]) {
      this.#unsaved.delete(name);
      const data = await dataStat(join(this.dir, name));
      const ix = this.#indexes.get(name);
      if (!data || !ix || !(await ix.refresh(data))) continue;
      await this.#persist(ix, data);
    }
  }

  async #persist(ix: FileIndex, data: DataFileStat): Promise<void> {
    try {
      await persistIndex(this.#ctx, ix, data);
    } catch (err) {
      // The events are written; only the cache could not be: reads stay right, just slower.
      ix.onDisk = undefined;
      this.#warnOnce(
        `idx-write:${ix.name}`,
        `[audit] [jsonl] cannot write the index of ${ix.name} (${describeError(err)}); reads stay correct but read the file instead`,
      );
    }
  }

  async #withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#readOnly) {
      throw new StoreError("jsonl", `${this.dir} was opened read-only; nothing is written`);
    }
    // In-process callers queue here; other processes queue on the lock file.
    const run = this.#tail.then(async () => {
      await this.#prepare();
      try {
        await this.#lock.acquire(this.#lockTimeoutMs);
      } catch (err) {
        throw new StoreError("jsonl", `cannot lock ${this.dir}: ${describeError(err)}`, {
          cause: err,
        });
      }
      try {
        return await fn();
      } finally {
        await this.#lock.release();
      }
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  // Brings this process's view of a file up to date: its size, and its last event.
  async #refresh(name: string): Promise<SegmentState> {
    const path = join(this.dir, name);
    const info = await stat(path).catch(() => undefined);
    const size = info?.size ?? 0;
    const ino = info?.ino ?? 0;
    let known = this.#segments.get(name);
    if (known && (known.ino !== ino || known.size > size)) known = undefined;
    if (known && known.size === size) return known;
    const state: SegmentState = { ino, size, last: known?.last, endsWithNewline: true };
    if (size > 0) {
      const fh = await open(path, "r");
      try {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        state.endsWithNewline = last[0] === 0x0a;
      } finally {
        await fh.close();
      }
      for await (const line of readLinesBackward(path, { meter: this.#meter })) {
        if (!line.complete) continue;
        try {
          const e = JSON.parse(line.text) as AuditEvent;
          state.last = { time: e.time, id: e.id };
          break;
        } catch {
          // Keep looking for the last good line.
        }
      }
    }
    this.#segments.set(name, state);
    return state;
  }

  // Which of `ids` file `name` holds: through its index.
  async #storedIn(name: string, ids: readonly string[]): Promise<Set<string>> {
    return this.#withIndex(
      name,
      async (ix) => storedIds(ix, ids, this.#meter),
      async () => {
        const wanted = new Set(ids);
        const found = new Set<string>();
        for await (const e of this.#events(name, "asc")) if (wanted.has(e.id)) found.add(e.id);
        return found;
      },
    );
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.#check();
    assertValidBatch(events);
    if (events.length === 0) return;
    const byPartition = new Map<string, AuditEvent[]>();
    for (const e of events) {
      const p = this.#partitionOf(e.time);
      const list = byPartition.get(p) ?? [];
      list.push(e);
      byPartition.set(p, list);
    }
    await this.#withLock(async () => {
      try {
        const segments = await this.#list();
        for (const [partition, list] of byPartition)
          await this.#appendPartition(partition, list, segments);
        await this.#saveUnsaved();
      } catch (err) {
        if (err instanceof AuditError) throw err;
        throw new StoreError("jsonl", `append failed in ${this.dir}: ${describeError(err)}`, {
          cause: err,
        });
      }
    });
  }

  async #appendPartition(
    partition: string,
    events: AuditEvent[],
    segments: Segment[],
  ): Promise<void> {
    const files = segments.filter((s) => s.partition === partition);
    // Two writers may stamp the same id a moment apart across midnight (two resolvers of one
    // approval): the neighbouring days' files count too, so an id is stored once.
    const related = [...files];
    if (partition !== SINGLE) {
      for (const day of adjacentDays(partition))
        related.push(...segments.filter((s) => s.partition === day));
    }
    let fresh: AuditEvent[] = [];
    const seen = new Set<string>();
    for (const e of events) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      fresh.push(e);
    }
    for (const s of related) {
      const stored = await this.#storedIn(
        s.name,
        fresh.map((e) => e.id),
      );
      if (stored.size > 0) fresh = fresh.filter((e) => !stored.has(e.id));
      if (fresh.length === 0) return;
    }
    fresh.sort(compareEvents);
    const first = fresh[0]!;
    // The newest segment this batch can extend without breaking its order (and within size).
    let target: Segment | undefined;
    for (let i = files.length - 1; i >= 0 && !target; i--) {
      const s = files[i]!;
      const state = await this.#refresh(s.name);
      const inOrder = state.last === undefined || compareEvents(state.last, first) < 0;
      const roomy = this.#maxBytes === undefined || state.size < this.#maxBytes;
      if (inOrder && roomy) target = s;
      if (i === files.length - 1 && this.#maxBytes !== undefined && !roomy) break;
    }
    let created = false;
    if (!target) {
      const seq = files.length === 0 ? 0 : Math.max(...files.map((s) => s.seq)) + 1;
      target = { name: fileName(partition, seq), partition, seq };
      segments.push(target);
      created = true;
    }
    const path = join(this.dir, target.name);
    const state = created
      ? { ino: 0, size: 0, last: undefined, endsWithNewline: true }
      : await this.#refresh(target.name);
    if (!(await this.#lock.stillHeld())) {
      throw new StoreError(
        "jsonl",
        `lost the lock of ${this.dir} before writing; the write is retried`,
      );
    }
    let text = state.endsWithNewline ? "" : "\n";
    // Where each line lands: the index learns them without reading them back.
    let offset = state.size + text.length;
    const entries: { fp: number; offset: number }[] = [];
    for (const e of fresh) {
      const line = lineOf(e);
      entries.push({ fp: fingerprint(e.id), offset });
      offset += Buffer.byteLength(line);
      text += line;
    }
    const buf = Buffer.from(text);
    // O_NOFOLLOW: a symbolic link planted under a segment's name is refused, never written through.
    const fh = await open(
      path,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o600,
    ).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ELOOP") {
        throw new StoreError(
          "jsonl",
          `${path} is a symbolic link: refusing to write through it (remove it, then retry)`,
          { cause: err },
        );
      }
      throw err;
    });
    let after: DataFileStat;
    try {
      // One write of the whole batch: with O_APPEND and the lock, nothing can land in between.
      let off = 0;
      while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
      if (this.#fsync !== "never") await fh.sync();
      after = statOf(await fh.stat({ bigint: true }));
    } finally {
      await fh.close();
    }
    if (created && this.#fsync === "always") await syncDir(this.dir);
    const last = fresh[fresh.length - 1]!;
    this.#segments.set(target.name, {
      ino: Number(after.ino),
      size: state.size + buf.length,
      last: { time: last.time, id: last.id },
      endsWithNewline: true,
    });
    await this.#indexAppend(target.name, state.size, after, entries, buf);
  }

  // Tells the file's index (and its sidecar) about lines just appended.
  async #indexAppend(
    name: string,
    before: number,
    after: DataFileStat,
    entries: { fp: number; offset: number }[],
    written: Buffer,
  ): Promise<void> {
    let ix = this.#indexes.get(name);
    if (
      ix &&
      ix.dataIno === after.ino &&
      ix.isAt(before) &&
      after.size === before + written.length
    ) {
      await ix.recordAppend(entries, after, written);
    } else {
      ix = await this.#index(name, false).catch(() => undefined);
      if (!ix) return;
    }
    this.#unsaved.delete(name);
    await this.#persist(ix, after);
  }

  async query(filter?: AuditFilter): Promise<AuditEvent[]> {
    this.#check();
    const resolved = resolveFilter(filter);
    const out: AuditEvent[] = [];
    if (resolved.limit === 0) return out;
    for await (const e of this.#scan(resolved)) {
      out.push(e);
      if (resolved.limit !== undefined && out.length >= resolved.limit) break;
    }
    return out;
  }

  async *stream(filter?: AuditFilter): AsyncIterable<AuditEvent> {
    this.#check();
    const resolved = resolveFilter(filter);
    if (resolved.limit === 0) return;
    let n = 0;
    for await (const e of this.#scan(resolved)) {
      this.#check();
      yield e;
      if (resolved.limit !== undefined && ++n >= resolved.limit) return;
    }
  }

  async get(id: string): Promise<AuditEvent | undefined> {
    this.#check();
    return (await this.#find(id))?.event;
  }

  async count(filter?: AuditFilter): Promise<number> {
    this.#check();
    const resolved = resolveFilter(filter);
    let n = 0;
    if (resolved.limit === 0) return 0;
    for await (const _ of this.#scan(resolved)) {
      if (resolved.limit !== undefined && n >= resolved.limit) break;
      n++;
    }
    return n;
  }

  /**
   * Calls `onEvent` for every matching event appended after this call returns, by any process:
   * each file is polled (`pollIntervalMs`) for the bytes added since the last poll, so a poll's
   * cost does not grow with the trail. New files, files rewritten by a prune and a last line
   * completed later are handled; each event is delivered once, in order within its file.
   * `since`/`until` and the other conditions filter; `order`, `limit` and `after` do not apply.
   * Returns the function that stops it; `close()` stops them all.
   */
  subscribe(filter: AuditFilter, onEvent: (event: AuditEvent) => void): () => void {
    this.#check();
    const wanted = resolveFilter(filter);
    const follower = new FileFollower({
      dir: this.dir,
      isDataFile: (name) => FILE_PATTERN.test(name),
      list: async () => (await this.#list()).map((s) => s.name),
      parse: (line, name) => this.#parse(line, name),
      seekAfter: async (name, key, ino) => {
        const range = await this.#seek(name, "asc", (k) => compareEvents(k, key) <= 0);
        return range.ino === ino ? (range.start ?? 0) : 0;
      },
      deliver: (e) => {
        if (!eventMatches(wanted, e)) return;
        try {
          onEvent(e);
        } catch {
          // A subscriber's exception must not stop the others, or the polling.
        }
      },
      onError: (err) =>
        this.#warnOnce(
          `tail:${describeError(err)}`,
          `[audit] [jsonl] following ${this.dir}: ${describeError(err)}; still trying`,
        ),
      meter: this.#meter,
      intervalMs: this.#pollIntervalMs,
    });
    follower.start();
    follower.run();
    this.#followers.add(follower);
    return () => {
      follower.stop();
      this.#followers.delete(follower);
    };
  }

  /**
   * Deletes old events: whole files whose events are all older than the cut, and rewrites (to a
   * temporary file, then renamed over the old one) the files the cut goes through.
   */
  async prune(options: PruneOptions): Promise<number> {
    this.#check();
    const { before, keep } = resolvePrune(options);
    return this.#withLock(async () => {
      // The cut is found under the lock, so writers cannot move it while it is applied.
      const boundary = await this.#pruneCut(before, keep);
      let deleted = 0;
      // The last deleted link of each chain, found in the same pass that deletes, so the auditor
      // can anchor what remains even when writers in other processes move on meanwhile.
      const heads = new Map<string, PrunedChainHead>();
      for (const s of await this.#list()) {
        const path = join(this.dir, s.name);
        let total = 0;
        let old = 0;
        for await (const e of this.#events(s.name, "asc")) {
          total++;
          if (compareEvents(e, boundary) < 0) {
            old++;
            const c = e.chain;
            if (c && (heads.get(c.id)?.seq ?? 0) < c.seq) {
              heads.set(c.id, { chainId: c.id, seq: c.seq, hash: c.hash });
            }
          }
        }
        if (old === 0) continue;
        if (old === total) {
          await unlink(path);
          await removeSidecar(this.dir, s.name);
        } else {
          await this.#rewrite(s.name, boundary);
        }
        deleted += old;
        this.#segments.delete(s.name);
        this.#indexes.delete(s.name);
        this.#unsaved.delete(s.name);
      }
      if (heads.size > 0) {
        for (const listener of this.#retentionListeners) {
          try {
            listener([...heads.values()]);
          } catch {
            // A listener's failure must not fail the prune that already happened.
          }
        }
      }
      return deleted;
    });
  }

  // Rewrites a file without its events before `boundary`, and writes its new sidecar from the
  // lines as they are written (no second read).
  async #rewrite(name: string, boundary: Key): Promise<void> {
    const path = join(this.dir, name);
    const tmp = join(this.dir, `.${name}.${process.pid}.tmp`);
    // A file or link already under the temporary name is removed, then the name is created
    // exclusively: a planted link cannot redirect the rewrite.
    await unlink(tmp).catch(() => undefined);
    const fh = await open(tmp, "wx+", 0o600);
    const fps: number[] = [];
    const offsets: number[] = [];
    let size = 0;
    let after: DataFileStat;
    let tailCheck: number;
    try {
      let text = "";
      for await (const e of this.#events(name, "asc")) {
        if (compareEvents(e, boundary) < 0) continue;
        const line = lineOf(e);
        fps.push(fingerprint(e.id));
        offsets.push(size);
        size += Buffer.byteLength(line);
        text += line;
        if (text.length > 1 << 20) {
          await fh.write(text);
          text = "";
        }
      }
      await fh.write(text);
      if (this.#fsync !== "never") await fh.sync();
      after = statOf(await fh.stat({ bigint: true }));
      tailCheck = tailCheckAt(fh.fd, size, this.#meter);
    } finally {
      await fh.close();
    }
    try {
      const samples = Float64Array.from(offsets.filter((_, i) => i % SAMPLE_EVERY === 0));
      const table = FingerprintTable.sort(Uint32Array.from(fps), Float64Array.from(offsets));
      const bytes = encodeBase({
        dataIno: after.ino,
        covered: size,
        dataMtimeNs: after.mtimeNs,
        tailCheck,
        table,
        samples,
      });
      await writeSidecar(this.dir, name, bytes);
    } catch (err) {
      // Only the cache: readers rebuild it from the file.
      this.#warnOnce(
        `idx-write:${name}`,
        `[audit] [jsonl] cannot write the index of ${name} (${describeError(err)}); reads stay correct but read the file instead`,
      );
    }
    await rename(tmp, path);
  }

  /**
   * Called after a prune with the last deleted link of every chain that lost events, found in the
   * same pass that deleted them (the auditor writes the prune checkpoints from it).
   */
  onRetention(listener: (heads: readonly PrunedChainHead[]) => void): () => void {
    this.#retentionListeners.add(listener);
    return () => this.#retentionListeners.delete(listener);
  }

  async #pruneCut(before: string | undefined, keep: number | undefined): Promise<Key> {
    let cut: Key | undefined = before === undefined ? undefined : { time: before, id: "" };
    if (keep !== undefined) {
      // The keep-th newest event is the oldest one kept.
      let n = 0;
      let oldestKept: Key | undefined;
      for await (const e of this.#scan(resolveFilter({ order: "desc" }))) {
        if (++n === keep) {
          oldestKept = { time: e.time, id: e.id };
          break;
        }
      }
      const keepCut: Key =
        keep === 0 ? { time: "\uffff", id: "" } : (oldestKept ?? { time: "", id: "" });
      if (!cut || compareEvents(keepCut, cut) > 0) cut = keepCut;
    }
    return cut!;
  }

  /**
   * Every line as stored, for `verifyChain`: its bytes exactly, torn and unreadable lines
   * included, each partition's files merged by `(time, id)` the way reads merge them — so a line
   * moved inside a file comes out of order, as a reader would see it. No columns: files have none.
   */
  async *storedRows(): AsyncIterable<StoredRow> {
    this.#check();
    const segments = await this.#list();
    const partitions = new Map<string, string[]>();
    for (const s of segments) {
      const list = partitions.get(s.partition) ?? [];
      list.push(s.name);
      partitions.set(s.partition, list);
    }
    for (const p of [...partitions.keys()].sort()) {
      const heads: RawHead[] = [];
      try {
        for (const name of partitions.get(p)!) {
          const it = readLineBytes(join(this.dir, name), this.#meter);
          const head = await nextRaw(name, it);
          if (head) heads.push(head);
        }
        while (heads.length > 0) {
          // A line with no readable key goes out as soon as it is a head: it has no place to wait for.
          let best = 0;
          for (let i = 1; i < heads.length && heads[best]!.key; i++) {
            const k = heads[i]!.key;
            if (!k || compareEvents(k, heads[best]!.key!) < 0) best = i;
          }
          const head = heads[best]!;
          this.#check();
          yield { location: `${head.file} line ${head.line.line}`, text: head.line.bytes };
          const next = await nextRaw(head.file, head.it);
          if (next) heads[best] = next;
          else heads.splice(best, 1);
        }
      } catch (err) {
        if (err instanceof AuditError) throw err;
        throw new StoreError("jsonl", `cannot read ${this.dir}: ${describeError(err)}`, {
          cause: err,
        });
      } finally {
        await Promise.all(heads.map((h) => h.it.return(undefined)));
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of this.#followers) f.stop();
    this.#followers.clear();
    await this.#tail;
    this.#indexes.clear();
  }
}

// Indexes kept per store instance: enough for years of daily files, since a `get` of an id that
// names no day (an approval's resolution) looks in every file. One costs its bucket directory and
// log (tens of KB for a day of a million events), or 12 bytes an event once a large batch loaded
// its whole base.
const MAX_INDEXES = 1024;

async function dataStat(path: string): Promise<DataFileStat | undefined> {
  try {
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    return st?.isFile() ? statOf(st) : undefined;
  } catch {
    return undefined;
  }
}

function statOf(st: { ino: bigint; size: bigint; mtimeNs: bigint; uid: bigint }): DataFileStat {
  return { ino: st.ino, size: Number(st.size), mtimeNs: st.mtimeNs, uid: Number(st.uid) };
}

interface RawHead {
  file: string;
  it: AsyncGenerator<FileLineBytes>;
  line: FileLineBytes;
  key: Key | undefined;
}

async function nextRaw(
  file: string,
  it: AsyncGenerator<FileLineBytes>,
): Promise<RawHead | undefined> {
  const r = await it.next();
  if (r.done) return undefined;
  let key: Key | undefined;
  try {
    const e = JSON.parse(r.value.bytes.toString("utf8")) as Partial<AuditEvent>;
    if (typeof e.time === "string" && typeof e.id === "string") key = { time: e.time, id: e.id };
  } catch {
    // Unreadable: verification reports it.
  }
  return { file, it, line: r.value, key };
}

function adjacentDays(day: string): string[] {
  const ms = Date.parse(`${day}T00:00:00.000Z`);
  if (Number.isNaN(ms)) return [];
  const d = 86_400_000;
  return [new Date(ms - d).toISOString().slice(0, 10), new Date(ms + d).toISOString().slice(0, 10)];
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
