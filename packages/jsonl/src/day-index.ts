import { constants } from "node:fs";
import { join } from "node:path";
import { FingerprintTable } from "./fingerprint-table.js";
import { checksum, fingerprint } from "./hashing.js";
import { eventOf } from "./line-format.js";
import { readLines } from "./lines.js";
import type { ReadMeter } from "./read-meter.js";
import {
  type DataFileStat,
  type OpenedSidecar,
  openSidecar,
  type SidecarOnDisk,
  tailCheckAt,
  type Warn,
  withFd,
} from "./sidecar-file.js";
import { type BaseContent, SAMPLE_EVERY, TAIL_BYTES } from "./sidecar-format.js";
import { StaleIndexError } from "./stale-index.js";

/** What an index needs from its store. */
export interface IndexContext {
  dir: string;
  meter: ReadMeter;
  warn: Warn;
}

/** The sidecar on disk as this process last saw it: where a writer's next chunk goes. */
export interface SidecarState extends SidecarOnDisk {
  /** Data bytes it covers (base and log). */
  covered: number;
  /** Bytes of its base; the log follows. */
  baseBytes: number;
  /** Bytes of its log. */
  logBytes: number;
}

/** Sample offsets in file order, for {@link seekForward} and {@link seekBackward}. */
export interface Samples {
  count: number;
  at(i: number): number;
}

// Index entries in file order, in growable typed arrays.
class Entries {
  fps: Uint32Array;
  offsets: Float64Array;
  count: number;

  constructor(
    fps: Uint32Array = new Uint32Array(64),
    offsets: Float64Array = new Float64Array(64),
    count = 0,
  ) {
    this.fps = fps;
    this.offsets = offsets;
    this.count = count;
  }

  push(fp: number, offset: number): void {
    if (this.count === this.fps.length) {
      const fps = new Uint32Array(Math.max(64, this.count * 2));
      const offsets = new Float64Array(Math.max(64, this.count * 2));
      fps.set(this.fps);
      offsets.set(this.offsets);
      this.fps = fps;
      this.offsets = offsets;
    }
    this.fps[this.count] = fp;
    this.offsets[this.count] = offset;
    this.count++;
  }

  // One pass, whatever the number of fingerprints wanted.
  lookup(wanted: Set<number>, out: Map<number, number[]>): void {
    const fps = this.fps;
    if (wanted.size === 1) {
      const [fp] = wanted as Set<number> & Iterable<number>;
      for (let i = 0; i < this.count; i++) {
        if (fps[i] !== fp) continue;
        const list = out.get(fp!) ?? [];
        list.push(this.offsets[i]!);
        out.set(fp!, list);
      }
      return;
    }
    for (let i = 0; i < this.count; i++) {
      const fp = fps[i]!;
      if (!wanted.has(fp)) continue;
      const list = out.get(fp) ?? [];
      list.push(this.offsets[i]!);
      out.set(fp, list);
    }
  }

  // The first entry at or after `offset`.
  indexOf(offset: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

// Beyond this many entries after the base, a reader folds them into an in-memory table.
const COMPACT_AT = 65_536;

/**
 * The index of one data file: for each event line, a fingerprint of its id and the line's
 * offset, plus sample offsets for seeking by time. It is made of a base — the sidecar's, read
 * bucket by bucket from disk, or a table in memory — and the entries after it (the sidecar's log,
 * then lines parsed from the file itself). It covers the file up to `covered`, the end of the
 * last complete line it has seen; it never trusts an entry without the caller reading the line.
 */
export class FileIndex {
  readonly name: string;
  readonly path: string;
  readonly dataIno: bigint;
  /** Bytes of the file indexed: the end of the last complete line seen. */
  covered = 0;
  /** The sidecar on disk as last seen; `undefined` when there is no usable one (a writer writes it whole). */
  onDisk: SidecarState | undefined;
  readonly #ctx: IndexContext;
  #sidecar: OpenedSidecar | undefined;
  #table: FingerprintTable | undefined;
  #baseSamples: Float64Array | undefined;
  #baseCount = 0;
  #baseCovered = 0;
  #extra = new Entries();
  #seen = { size: -1, mtimeNs: -1n };
  #coveredCheck = 0;

  private constructor(ctx: IndexContext, name: string, dataIno: bigint) {
    this.#ctx = ctx;
    this.name = name;
    this.path = join(ctx.dir, name);
    this.dataIno = dataIno;
  }

  /**
   * The index of data file `name`: from its sidecar when one describes the file, else built by
   * reading the whole file. The base stays on disk, each lookup reading the buckets it needs,
   * until a lookup needs many of them (a writer's large batch). Throws ENOENT when the file went
   * away.
   */
  static async open(ctx: IndexContext, name: string, data: DataFileStat): Promise<FileIndex> {
    const path = join(ctx.dir, name);
    const side = withFd(path, constants.O_RDONLY, (fd) =>
      openSidecar(ctx.dir, name, data, fd, ctx.meter, ctx.warn),
    );
    if (side) {
      const ix = new FileIndex(ctx, name, data.ino);
      ix.#sidecar = side;
      ix.#baseCount = side.header.entryCount;
      ix.#baseCovered = side.header.covered;
      ix.#extra = new Entries(side.log.fps, side.log.offsets, side.log.count);
      ix.covered = side.log.covered;
      ix.onDisk = side.logTorn
        ? undefined
        : {
            ino: side.ino,
            size: side.size,
            covered: side.log.covered,
            baseBytes: side.layout.end,
            logBytes: side.log.used,
          };
      try {
        await ix.#catchUp(data);
        return ix;
      } catch (err) {
        if (!(err instanceof StaleIndexError)) throw err;
      }
    }
    return FileIndex.build(ctx, name, data);
  }

  /** The index built from the file alone, ignoring any sidecar. */
  static async build(ctx: IndexContext, name: string, data: DataFileStat): Promise<FileIndex> {
    const ix = new FileIndex(ctx, name, data.ino);
    ix.#table = FingerprintTable.empty;
    ix.#baseSamples = new Float64Array(0);
    await ix.#catchUp(data);
    ix.compact();
    return ix;
  }

  /** Entries in the index. */
  get size(): number {
    return this.#baseCount + this.#extra.count;
  }

  /** Where the base ends: entries after it are held in file order. */
  get baseCovered(): number {
    return this.#baseCovered;
  }

  /** True when the index was last brought up to the file at this size. */
  isAt(size: number): boolean {
    return this.#seen.size === size;
  }

  /** A checksum of the 256 bytes before `covered`, as read when they were indexed. */
  get coveredCheck(): number {
    return this.#coveredCheck;
  }

  /**
   * Brings the index up to the file's current state, reading only bytes added since. Returns
   * false when the file is no longer the one indexed (another inode, shorter, or its indexed bytes
   * changed): the caller opens a new index.
   */
  async refresh(data: DataFileStat): Promise<boolean> {
    if (data.ino !== this.dataIno || data.size < this.covered) return false;
    if (data.size === this.#seen.size) {
      // Same size, yet modified: edited in place, not appended to.
      return data.mtimeNs === this.#seen.mtimeNs;
    }
    let same: boolean;
    try {
      same = withFd(
        this.path,
        constants.O_RDONLY,
        (fd) => tailCheckAt(fd, this.covered, this.#ctx.meter) === this.#coveredCheck,
      );
    } catch {
      return false;
    }
    if (!same) return false;
    await this.#catchUp(data);
    return true;
  }

  // Indexes the complete lines after `covered`.
  async #catchUp(data: DataFileStat): Promise<void> {
    if (data.size > this.covered) {
      const lines = readLines(this.path, {
        start: this.covered,
        end: data.size,
        meter: this.#ctx.meter,
      });
      for await (const line of lines) {
        if (!line.complete) break;
        const e = eventOf(line.text);
        if (e) this.#extra.push(fingerprint(e.id), line.offset);
        this.covered = line.offset + line.length + 1;
      }
    }
    this.#seen = { size: data.size, mtimeNs: data.mtimeNs };
    this.#coveredCheck = withFd(this.path, constants.O_RDONLY, (fd) =>
      tailCheckAt(fd, this.covered, this.#ctx.meter),
    );
    if (this.#extra.count > Math.max(COMPACT_AT, this.#baseCount / 8)) this.compact();
  }

  /**
   * Records lines this process just appended under the lock: `entries` in file order, the file
   * now as `data` says, `written` the bytes of the write (their end binds the sidecar to them).
   */
  async recordAppend(
    entries: readonly { fp: number; offset: number }[],
    data: DataFileStat,
    written: Buffer,
  ): Promise<void> {
    for (const e of entries) this.#extra.push(e.fp, e.offset);
    this.covered = data.size;
    this.#seen = { size: data.size, mtimeNs: data.mtimeNs };
    if (written.length >= TAIL_BYTES || written.length === data.size) {
      this.#coveredCheck = checksum(written, Math.max(0, written.length - TAIL_BYTES));
      return;
    }
    this.#coveredCheck = withFd(this.path, constants.O_RDONLY, (fd) =>
      tailCheckAt(fd, data.size, this.#ctx.meter),
    );
  }

  /** Loads the whole base into memory (each bucket checked); a writer works from memory. */
  toMemory(): void {
    const side = this.#sidecar;
    if (!side) return;
    const table = side.table();
    this.#baseSamples ??= side.samples();
    this.#table = table;
    this.#sidecar = undefined;
  }

  /** Folds the entries after the base into the base, in memory. */
  compact(): void {
    this.toMemory();
    const extra = this.#extra;
    if (extra.count === 0) {
      this.#baseCovered = this.covered;
      return;
    }
    const base = this.#table ?? FingerprintTable.empty;
    const table = base.merge(
      extra.fps.subarray(0, extra.count),
      extra.offsets.subarray(0, extra.count),
    );
    const old = this.#baseSamples ?? new Float64Array(0);
    const picked: number[] = [];
    for (let i = 0; i < extra.count; i++) {
      if ((this.#baseCount + i) % SAMPLE_EVERY === 0) picked.push(extra.offsets[i]!);
    }
    const samples = new Float64Array(old.length + picked.length);
    samples.set(old);
    samples.set(picked, old.length);
    this.#table = table;
    this.#baseSamples = samples;
    this.#baseCount = table.size;
    this.#baseCovered = this.covered;
    this.#extra = new Entries();
  }

  /** Offsets of the entries whose fingerprint is one of `fps`, by fingerprint. */
  lookup(fps: readonly number[]): Map<number, number[]> {
    const out = new Map<number, number[]>();
    const wanted = new Set(fps);
    // Reading a quarter of the buckets one by one costs more than reading them all at once.
    if (this.#sidecar && wanted.size > this.#sidecar.directory.checks.length / 4) this.toMemory();
    if (this.#table) {
      for (const fp of wanted) {
        const list: number[] = [];
        this.#table.lookup(fp, list);
        if (list.length > 0) out.set(fp, list);
      }
    } else if (this.#sidecar) {
      this.#sidecar.lookup([...wanted], out);
    }
    this.#extra.lookup(wanted, out);
    return out;
  }

  /** Sample offsets over the whole index, in file order. */
  samples(): Samples {
    if (!this.#baseSamples && this.#sidecar) this.#baseSamples = this.#sidecar.samples();
    const base = this.#baseSamples ?? new Float64Array(0);
    const extra = this.#extra;
    return {
      count: base.length + extra.count,
      at: (i) => (i < base.length ? base[i]! : extra.offsets[i - base.length]!),
    };
  }

  /** The entries after the base from `offset` on, in file order (a writer's next log chunk). */
  entriesFrom(offset: number): { fps: Uint32Array; offsets: Float64Array } {
    const i = this.#extra.indexOf(offset);
    return {
      fps: this.#extra.fps.slice(i, this.#extra.count),
      offsets: this.#extra.offsets.slice(i, this.#extra.count),
    };
  }

  /** Everything, as a sidecar base (folds the entries after the base in first). */
  baseContent(data: DataFileStat): BaseContent {
    this.compact();
    return {
      dataIno: this.dataIno,
      covered: this.covered,
      dataMtimeNs: data.mtimeNs,
      tailCheck: this.#coveredCheck,
      table: this.#table!,
      samples: this.#baseSamples!,
    };
  }
}
