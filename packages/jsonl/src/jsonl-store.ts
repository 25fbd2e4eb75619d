import { constants, type Dirent } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  AuditClosedError,
  AuditConfigError,
  AuditError,
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  assertValidBatch,
  assertValidEvent,
  compareEvents,
  cursorNotFound,
  describeError,
  eventMatches,
  isAfterCursor,
  type PrunedChainHead,
  type PruneOptions,
  type ResolvedFilter,
  resolveFilter,
  resolvePrune,
  type StoreCapabilities,
  type StoredRow,
  StoreError,
  uuidv7Time,
} from "@audit/core";
import {
  type FileLine,
  type FileLineBytes,
  readLineBytes,
  readLines,
  readLinesBackward,
} from "./lines.js";
import { DirectoryLock } from "./lock.js";

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
}

type Key = Pick<AuditEvent, "time" | "id">;

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
 */
export class JsonlStore implements AuditStore {
  readonly id = "jsonl";
  readonly capabilities: StoreCapabilities = {
    persistent: true,
    multiProcess: true,
    subscribe: false,
  };
  readonly dir: string;

  readonly #daily: boolean;
  readonly #maxBytes: number | undefined;
  readonly #fsync: "never" | "batch" | "always";
  readonly #lockTimeoutMs: number;
  readonly #onWarning: ((message: string) => void) | undefined;
  readonly #lock: DirectoryLock;
  readonly #readOnly: boolean;
  // What this process knows of each file and of the ids in each partition it has written to.
  readonly #segments = new Map<string, SegmentState>();
  readonly #ids = new Map<string, Set<string>>();
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
    this.#onWarning = options.onWarning;
    this.#readOnly = options.readOnly === true;
    this.#lock = new DirectoryLock(this.dir);
  }

  /** Unreadable lines met while reading so far (each counted once). */
  get badLines(): number {
    return this.#badLines;
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
      names = await readdir(this.dir, { withFileTypes: true });
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

  async *#events(file: string, order: "asc" | "desc"): AsyncGenerator<AuditEvent> {
    const path = join(this.dir, file);
    let lines: AsyncGenerator<FileLine>;
    try {
      lines = order === "asc" ? readLines(path) : readLinesBackward(path);
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

  // Every event of a partition in order: a k-way merge of its (each sorted) segment files.
  async *#mergePartition(files: string[], order: "asc" | "desc"): AsyncGenerator<AuditEvent> {
    const sign = order === "asc" ? 1 : -1;
    const heads: { it: AsyncGenerator<AuditEvent>; e: AuditEvent }[] = [];
    for (const f of files) {
      const it = this.#events(f, order);
      const r = await it.next();
      if (!r.done) heads.push({ it, e: r.value });
    }
    try {
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

  async *#scan(filter: ResolvedFilter): AsyncGenerator<AuditEvent> {
    const cursor = filter.after === undefined ? undefined : await this.#key(filter.after);
    const segments = await this.#list();
    const partitions = new Map<string, string[]>();
    for (const s of segments) {
      const list = partitions.get(s.partition) ?? [];
      list.push(s.name);
      partitions.set(s.partition, list);
    }
    const names = [...partitions.keys()].sort();
    if (filter.order === "desc") names.reverse();
    for (const p of names) {
      if (p !== SINGLE) {
        // Day partitions outside [since, until) or before the cursor hold nothing to return.
        if (filter.since !== undefined && p < filter.since.slice(0, 10)) continue;
        if (filter.until !== undefined && p > filter.until.slice(0, 10)) continue;
        if (cursor && filter.order === "asc" && p < cursor.time.slice(0, 10)) continue;
        if (cursor && filter.order === "desc" && p > cursor.time.slice(0, 10)) continue;
      }
      for await (const e of this.#mergePartition(partitions.get(p)!, filter.order)) {
        if (cursor && !isAfterCursor(e, cursor, filter.order)) continue;
        if (eventMatches(filter, e)) yield e;
      }
    }
  }

  async #key(id: string): Promise<Key> {
    const e = await this.#find(id);
    if (!e) throw cursorNotFound(id);
    return { time: e.time, id: e.id };
  }

  async #find(id: string): Promise<AuditEvent | undefined> {
    const ms = uuidv7Time(id);
    const segments = await this.#list();
    // A UUIDv7 names its day: look there first, then everywhere (an import may carry another time).
    if (ms !== undefined && this.#daily) {
      const day = new Date(ms).toISOString().slice(0, 10);
      for (const s of segments.filter((x) => x.partition === day)) {
        for await (const e of this.#events(s.name, "asc")) if (e.id === id) return e;
      }
    }
    for (const s of segments) {
      for await (const e of this.#events(s.name, "asc")) if (e.id === id) return e;
    }
    return undefined;
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

  // Brings this process's view of a file up to date by reading only what was added since.
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
      for await (const line of readLinesBackward(path)) {
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

  async #idsOf(partition: string, segments: Segment[]): Promise<Set<string>> {
    let ids = this.#ids.get(partition);
    const files = segments.filter((s) => s.partition === partition);
    if (!ids) {
      ids = new Set();
      for (const s of files) {
        for await (const e of this.#events(s.name, "asc")) ids.add(e.id);
        await this.#refresh(s.name);
      }
      this.#ids.set(partition, ids);
      return ids;
    }
    // Another process may have appended since: read just the new bytes of each file. A file that
    // shrank or was replaced (a prune rewrote it) is read again from the start.
    for (const s of files) {
      const known = this.#segments.get(s.name);
      const info = await stat(join(this.dir, s.name)).catch(() => undefined);
      if (!info) continue;
      if (!known || info.ino !== known.ino || info.size < known.size) {
        this.#ids.delete(partition);
        for (const f of files) this.#segments.delete(f.name);
        return this.#idsOf(partition, segments);
      }
      const before = known.size;
      const now = info.size;
      if (now === before) continue;
      const fh = await open(join(this.dir, s.name), "r");
      try {
        const buf = Buffer.alloc(now - before);
        await fh.read(buf, 0, buf.length, before);
        for (const line of buf.toString("utf8").split("\n")) {
          try {
            const id = (JSON.parse(line) as { id?: unknown }).id;
            if (typeof id === "string") ids.add(id);
          } catch {
            // A torn or foreign line holds no id to remember.
          }
        }
      } finally {
        await fh.close();
      }
      await this.#refresh(s.name);
    }
    return ids;
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
    const ids = await this.#idsOf(partition, segments);
    // Two writers may stamp the same id a moment apart across midnight (two resolvers of one
    // approval): the neighbouring days' ids count too, so an id is stored once.
    const neighbours: Set<string>[] = [];
    if (partition !== SINGLE) {
      for (const day of adjacentDays(partition)) {
        if (segments.some((s) => s.partition === day))
          neighbours.push(await this.#idsOf(day, segments));
      }
    }
    const fresh: AuditEvent[] = [];
    const seen = new Set<string>();
    for (const e of events) {
      if (ids.has(e.id) || seen.has(e.id) || neighbours.some((n) => n.has(e.id))) continue;
      seen.add(e.id);
      fresh.push(e);
    }
    if (fresh.length === 0) return;
    fresh.sort(compareEvents);
    const first = fresh[0]!;
    const files = segments.filter((s) => s.partition === partition);
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
    for (const e of fresh) text += JSON.stringify(e) + "\n";
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
    try {
      // One write of the whole batch: with O_APPEND and the lock, nothing can land in between.
      let off = 0;
      while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
      if (this.#fsync !== "never") await fh.sync();
    } finally {
      await fh.close();
    }
    if (created && this.#fsync === "always") await syncDir(this.dir);
    const last = fresh[fresh.length - 1]!;
    const ino = (await stat(path).catch(() => undefined))?.ino ?? 0;
    this.#segments.set(target.name, {
      ino,
      size: state.size + buf.length,
      last: { time: last.time, id: last.id },
      endsWithNewline: true,
    });
    for (const e of fresh) ids.add(e.id);
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
    return this.#find(id);
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
        } else {
          const tmp = join(this.dir, `.${s.name}.${process.pid}.tmp`);
          // A file or link already under the temporary name is removed, then the name is created
          // exclusively: a planted link cannot redirect the rewrite.
          await unlink(tmp).catch(() => undefined);
          const fh = await open(tmp, "wx", 0o600);
          try {
            let text = "";
            for await (const e of this.#events(s.name, "asc")) {
              if (compareEvents(e, boundary) < 0) continue;
              text += JSON.stringify(e) + "\n";
              if (text.length > 1 << 20) {
                await fh.write(text);
                text = "";
              }
            }
            await fh.write(text);
            if (this.#fsync !== "never") await fh.sync();
          } finally {
            await fh.close();
          }
          await rename(tmp, path);
        }
        deleted += old;
        this.#segments.delete(s.name);
        this.#ids.delete(s.partition);
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
          const it = readLineBytes(join(this.dir, name));
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
    await this.#tail;
  }
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
