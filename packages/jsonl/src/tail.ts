import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { AuditEvent } from "@audit/core";
import { compareEvents } from "@audit/core/store-kit";
import { eventOf } from "./line-format.js";
import { type FileLine, readLines } from "./lines.js";
import type { ReadMeter } from "./read-meter.js";

type Key = Pick<AuditEvent, "time" | "id">;

/** What a {@link FileFollower} needs from its store. */
export interface FollowerOptions {
  dir: string;
  /** Is this name one of the trail's data files? */
  isDataFile(name: string): boolean;
  /** The trail's data files now (regular files only), in read order. */
  list(): Promise<string[]>;
  /** The event of a line, or `undefined` (the store reports unreadable lines). */
  parse(line: FileLine, name: string): AuditEvent | undefined;
  /**
   * Where to start reading file `name` (now inode `ino`, rewritten) so that no event after `key`
   * is missed: 0 when in doubt.
   */
  seekAfter(name: string, key: Key, ino: bigint): Promise<number>;
  deliver(event: AuditEvent): void;
  onError(err: unknown): void;
  meter: ReadMeter;
  intervalMs: number;
}

interface Followed {
  ino: bigint;
  /** The end of the last complete line read: the next poll reads from here. */
  offset: number;
  /** The last event read from the file. */
  last: Key | undefined;
  /** After a rewrite: events up to this key were already seen and are skipped. */
  skipThrough: Key | undefined;
}

const LOOK_BACK = 64 * 1024;

/**
 * Follows the trail's files for `subscribe`: each poll stats every file and reads only the bytes
 * added since the last poll, so its cost does not grow with the files' size. A new file (a new day
 * or segment) is read from its start; a file a prune rewrote (another inode, or shorter) is read
 * from just after the last event seen in it; a last line still being written (or torn) is left for
 * a later poll, once its newline is there. Every new event is delivered once, in file order.
 */
export class FileFollower {
  readonly #o: FollowerOptions;
  readonly #files = new Map<string, Followed>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: FollowerOptions) {
    this.#o = options;
  }

  /**
   * Notes where every file ends now (synchronously, so that an event appended once `subscribe`
   * has returned is never missed); a line being written at this moment counts as new.
   */
  start(): void {
    let names: string[];
    try {
      names = readdirSync(this.#o.dir).filter((n) => this.#o.isDataFile(n));
    } catch {
      names = [];
    }
    for (const name of names) {
      try {
        const path = join(this.#o.dir, name);
        const st = statSync(path, { bigint: true });
        if (!st.isFile()) continue;
        this.#files.set(name, {
          ino: st.ino,
          ...endOf(path, Number(st.size)),
          skipThrough: undefined,
        });
      } catch {
        // Gone already: a file that comes back is new.
      }
    }
  }

  /** Polls every `intervalMs` until {@link stop}; the timer never holds the process open. */
  run(): void {
    const tick = () => {
      this.#timer = undefined;
      void this.poll()
        .catch((err: unknown) => this.#o.onError(err))
        .finally(() => {
          if (this.#stopped) return;
          this.#timer = setTimeout(tick, this.#o.intervalMs);
          this.#timer.unref();
        });
    };
    this.#timer = setTimeout(tick, this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One poll: delivers what was appended since the last one. */
  async poll(): Promise<void> {
    const names = await this.#o.list();
    const present = new Set(names);
    for (const name of [...this.#files.keys()]) if (!present.has(name)) this.#files.delete(name);
    for (const name of names) {
      if (this.#stopped) return;
      const path = join(this.#o.dir, name);
      const st = await stat(path, { bigint: true }).catch(() => undefined);
      if (!st) continue;
      const size = Number(st.size);
      let f = this.#files.get(name);
      if (!f) {
        f = { ino: st.ino, offset: 0, last: undefined, skipThrough: undefined };
        this.#files.set(name, f);
      } else if (f.ino !== st.ino || size < f.offset) {
        // Rewritten (a prune): what is after the last event seen is new.
        const offset = f.last ? await this.#o.seekAfter(name, f.last, st.ino) : 0;
        f = { ino: st.ino, offset, last: f.last, skipThrough: f.last };
        this.#files.set(name, f);
      }
      if (size > f.offset) await this.#read(name, path, f, size);
    }
  }

  async #read(name: string, path: string, f: Followed, size: number): Promise<void> {
    try {
      for await (const line of readLines(path, {
        start: f.offset,
        end: size,
        meter: this.#o.meter,
      })) {
        if (!line.complete) break;
        f.offset = line.offset + line.length + 1;
        const e = this.#o.parse(line, name);
        if (!e) continue;
        if (f.skipThrough) {
          if (compareEvents(e, f.skipThrough) <= 0) continue;
          f.skipThrough = undefined;
        }
        f.last = { time: e.time, id: e.id };
        if (this.#stopped) return;
        this.#o.deliver(e);
      }
    } catch (err) {
      // A file pruned away between the stat and the read: the next poll sees it gone.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

// Where the last complete line of a file ends, and the last event before it.
function endOf(path: string, size: number): { offset: number; last: Key | undefined } {
  if (size === 0) return { offset: 0, last: undefined };
  const from = Math.max(0, size - LOOK_BACK);
  const buf = Buffer.alloc(size - from);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  const nl = buf.lastIndexOf(0x0a);
  if (nl === -1) return { offset: from === 0 ? 0 : size, last: undefined };
  let last: Key | undefined;
  let end = nl;
  while (end > 0 && !last) {
    const start = buf.lastIndexOf(0x0a, end - 1) + 1;
    if (start === 0 && from > 0) break;
    const e = eventOf(buf.toString("utf8", start, end));
    if (e) last = { time: e.time, id: e.id };
    end = start - 1;
  }
  return { offset: from + nl + 1, last };
}
