import { mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AuditClosedError,
  AuditConfigError,
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  type PrunedChainHead,
  type PruneOptions,
  type StoreCapabilities,
  type StoreDescription,
  StoreError,
} from "@audit/core";
import {
  assertValidBatch,
  type CursorKey,
  compareEvents,
  cursorOf,
  describeStore,
  eventMatches,
  eventText,
  keysetPages,
  parseProcessIdentity,
  processIdentity,
  type ResolvedFilter,
  resolveFilter,
  resolvePrune,
  sameProcessAlive,
} from "@audit/core/store-kit";

/** Options of {@link JsonFileStore}. */
export interface JsonFileStoreOptions {
  /** The directory that holds `events.json`; created when missing. */
  dir: string;
}

/** One stored event: its key, the text written to the file, and the parsed event for filtering. */
interface Entry {
  time: string;
  id: string;
  text: string;
  event: AuditEvent;
}

interface Subscriber {
  filter: ResolvedFilter;
  onEvent: (event: AuditEvent) => void;
}

const FILE = "events.json";
const LOCK = "events.lock";
const ID = "jsonfile";

/**
 * The whole trail in one JSON file, `events.json` in a directory: an array with one event per
 * line, rewritten atomically (a temporary file, fsync, rename) on every change and held in memory,
 * sorted by `(time, id)`, while the store is open. One store at a time may use a directory: a
 * lock file names the process holding it and a second store is refused, so `multiProcess` is
 * false. Live tail is in-process: subscribers hear about events this store wrote. Every write
 * rewrites the file, so it suits small trails: it is an example of an adapter, not a backend.
 */
export class JsonFileStore implements AuditStore {
  readonly id = ID;
  readonly capabilities: StoreCapabilities = {
    persistent: true,
    multiProcess: false,
    subscribe: true,
  };
  /** The directory the trail is in. */
  readonly dir: string;

  // Replaced, never changed in place: a stream keeps reading the array it started on safely.
  #entries: readonly Entry[] = [];
  #byId = new Map<string, Entry>();
  #opened: Promise<void> | undefined;
  #locked = false;
  // Writes run one after another, so two appends never rewrite the file at once.
  #writes: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #subscribers = new Set<Subscriber>();
  readonly #retention = new Set<(heads: readonly PrunedChainHead[]) => void>();

  constructor(options: JsonFileStoreOptions) {
    if (typeof options?.dir !== "string" || options.dir.length === 0) {
      throw new AuditConfigError(`[${ID}] the store needs a directory: new JsonFileStore({ dir })`);
    }
    this.dir = options.dir;
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.#check();
    // Before anything is written: a batch with one bad event writes none of it.
    assertValidBatch(events);
    await this.#open();
    await this.#exclusive(async () => {
      const added: Entry[] = [];
      const batch = new Set<string>();
      for (const e of events) {
        // Idempotent on id: the first copy wins, a later one is skipped, never overwritten.
        if (this.#byId.has(e.id) || batch.has(e.id)) continue;
        batch.add(e.id);
        // The exact bytes the chain hash was computed from, when the event was sealed here.
        const text = eventText(e);
        added.push({ time: e.time, id: e.id, text, event: JSON.parse(text) as AuditEvent });
      }
      if (added.length === 0) return;
      const next = [...this.#entries, ...added].sort(compareEvents);
      await this.#write(next);
      this.#entries = next;
      for (const entry of added) this.#byId.set(entry.id, entry);
      this.#notify(added);
    });
  }

  async query(filter: AuditFilter = {}): Promise<AuditEvent[]> {
    const out: AuditEvent[] = [];
    for await (const e of this.stream(filter)) out.push(e);
    return out;
  }

  async *stream(filter: AuditFilter = {}): AsyncGenerator<AuditEvent> {
    this.#check();
    const resolved = resolveFilter(filter);
    await this.#open();
    const start = await cursorOf(resolved.after, (id) => this.#byId.get(id));
    yield* keysetPages((cursor, size) => this.#page(resolved, cursor, size), {
      start,
      limit: resolved.limit,
      check: () => this.#check(),
    });
  }

  async get(id: string): Promise<AuditEvent | undefined> {
    this.#check();
    await this.#open();
    const entry = this.#byId.get(id);
    return entry && copy(entry);
  }

  async count(filter: AuditFilter = {}): Promise<number> {
    this.#check();
    const resolved = resolveFilter(filter);
    await this.#open();
    const start = await cursorOf(resolved.after, (id) => this.#byId.get(id));
    let n = 0;
    for (const _ of this.#matching(this.#entries, resolved, start)) {
      if (resolved.limit !== undefined && n >= resolved.limit) break;
      n++;
    }
    return n;
  }

  async prune(options: PruneOptions): Promise<number> {
    this.#check();
    const { before, keep } = resolvePrune(options);
    await this.#open();
    return this.#exclusive(async () => {
      const entries = this.#entries;
      let cut = before === undefined ? 0 : lowerBound(entries, { time: before, id: "" });
      if (keep !== undefined) cut = Math.max(cut, entries.length - keep);
      if (cut === 0) return 0;
      const removed = entries.slice(0, cut);
      const next = entries.slice(cut);
      await this.#write(next);
      this.#entries = next;
      for (const entry of removed) this.#byId.delete(entry.id);
      this.#reportRetention(removed);
      return cut;
    });
  }

  /** Calls `onEvent` with each event this store writes from now on that matches `filter`. */
  subscribe(filter: AuditFilter, onEvent: (event: AuditEvent) => void): () => void {
    this.#check();
    const subscriber = { filter: resolveFilter(filter), onEvent };
    this.#subscribers.add(subscriber);
    return () => {
      this.#subscribers.delete(subscriber);
    };
  }

  /** Called after each prune with the last deleted link of every chain that lost events. */
  onRetention(listener: (heads: readonly PrunedChainHead[]) => void): () => void {
    this.#retention.add(listener);
    return () => {
      this.#retention.delete(listener);
    };
  }

  describe(): StoreDescription {
    return describeStore(this, this.dir, false);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribers.clear();
    this.#retention.clear();
    // A write or an opening in flight finishes first; then the directory is free again.
    await this.#opened?.catch(() => undefined);
    await this.#writes.catch(() => undefined);
    if (this.#locked) {
      this.#locked = false;
      await rm(join(this.dir, LOCK), { force: true });
    }
  }

  #check(): void {
    if (this.#closed) throw new AuditClosedError(`[${ID}] the store for ${this.dir} is closed`);
  }

  #open(): Promise<void> {
    this.#opened ??= (async () => {
      try {
        await mkdir(this.dir, { recursive: true });
      } catch (err) {
        throw new StoreError(ID, `cannot create the directory ${this.dir}`, { cause: err });
      }
      await this.#lock();
      this.#entries = await this.#read();
      for (const entry of this.#entries) this.#byId.set(entry.id, entry);
    })();
    return this.#opened;
  }

  // The lock file holds the identity of the process using the directory; a lock left by a process
  // that is gone is taken over. (Two processes taking over one stale lock at the same instant are
  // not told apart: fine for an example, not for a production store.)
  async #lock(): Promise<void> {
    const path = join(this.dir, LOCK);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, processIdentity(), { flag: "wx" });
        this.#locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new StoreError(ID, `cannot lock ${this.dir}`, { cause: err });
        }
      }
      const holder = await readFile(path, "utf8").catch(() => "");
      if (holder && sameProcessAlive(holder)) {
        const pid = parseProcessIdentity(holder)?.pid;
        const who = pid === process.pid ? "another store in this process" : `process ${pid}`;
        throw new StoreError(
          ID,
          `${this.dir} is in use by ${who}; one store at a time may use a directory ` +
            "(capabilities.multiProcess is false): close the other store first",
        );
      }
      await rm(path, { force: true });
    }
    throw new StoreError(ID, `cannot lock ${this.dir}: another store keeps taking it`);
  }

  async #read(): Promise<Entry[]> {
    const path = join(this.dir, FILE);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new StoreError(ID, `cannot read ${path}`, { cause: err });
    }
    // "[", one event per line (each but the last followed by a comma), "]".
    const lines = text.split("\n");
    if (lines[0] !== "[" || lines.at(-2) !== "]" || lines.at(-1) !== "") {
      throw new StoreError(ID, `${path} is not a trail this store wrote; nothing was changed`);
    }
    return lines.slice(1, -2).map((line, i, all) => {
      const eventText = i < all.length - 1 ? line.replace(/,$/, "") : line;
      let event: AuditEvent;
      try {
        event = JSON.parse(eventText) as AuditEvent;
      } catch (err) {
        throw new StoreError(ID, `${path} line ${i + 2} is not JSON; nothing was changed`, {
          cause: err,
        });
      }
      return { time: event.time, id: event.id, text: eventText, event };
    });
  }

  // Atomic: a crash leaves either the old file or the new one, never half of one.
  async #write(entries: readonly Entry[]): Promise<void> {
    const path = join(this.dir, FILE);
    const temporary = `${path}.${process.pid}.tmp`;
    const body = `[\n${entries.map((e) => e.text).join(",\n")}${entries.length ? "\n" : ""}]\n`;
    try {
      const file = await open(temporary, "w");
      try {
        await file.writeFile(body);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
      const dir = await open(this.dir, "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      await rm(temporary, { force: true });
      throw new StoreError(ID, `cannot write ${path}; the batch was not stored`, { cause: err });
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(() => {
      this.#check();
      return fn();
    });
    this.#writes = run.catch(() => undefined);
    return run;
  }

  // Up to `size` matches after `cursor`, read from the current entries, so a page always continues
  // where the last one ended even when events were added or pruned in between.
  #page(filter: ResolvedFilter, cursor: CursorKey | undefined, size: number): AuditEvent[] {
    const page: AuditEvent[] = [];
    for (const entry of this.#matching(this.#entries, filter, cursor)) {
      page.push(copy(entry));
      if (page.length === size) break;
    }
    return page;
  }

  *#matching(
    entries: readonly Entry[],
    filter: ResolvedFilter,
    cursor: CursorKey | undefined,
  ): Generator<Entry> {
    if (filter.order === "desc") {
      const from = cursor ? lowerBound(entries, cursor) - 1 : entries.length - 1;
      for (let i = from; i >= 0; i--)
        if (eventMatches(filter, entries[i]!.event)) yield entries[i]!;
    } else {
      let from = cursor ? lowerBound(entries, cursor) : 0;
      if (cursor && entries[from]?.id === cursor.id) from++;
      for (let i = from; i < entries.length; i++)
        if (eventMatches(filter, entries[i]!.event)) yield entries[i]!;
    }
  }

  #notify(added: readonly Entry[]): void {
    for (const entry of added) {
      for (const s of this.#subscribers) {
        if (!eventMatches(s.filter, entry.event)) continue;
        try {
          s.onEvent(copy(entry));
        } catch {
          // A subscriber's failure is its own: the events are stored, and the others still hear.
        }
      }
    }
  }

  #reportRetention(removed: readonly Entry[]): void {
    const heads = new Map<string, PrunedChainHead>();
    for (const { event } of removed) {
      const chain = event.chain;
      if (chain && (heads.get(chain.id)?.seq ?? 0) < chain.seq)
        heads.set(chain.id, { chainId: chain.id, seq: chain.seq, hash: chain.hash });
    }
    if (heads.size === 0) return;
    for (const listener of this.#retention) {
      try {
        listener([...heads.values()]);
      } catch {
        // The prune already happened; a listener's failure must not undo it.
      }
    }
  }
}

/** A fresh copy of a stored event: what the caller gets can be changed without touching the store. */
function copy(entry: Entry): AuditEvent {
  return JSON.parse(entry.text) as AuditEvent;
}

/** The index of the first entry at or after `key` in `(time, id)` order. */
function lowerBound(entries: readonly Entry[], key: CursorKey): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareEvents(entries[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
