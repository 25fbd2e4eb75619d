import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { FingerprintTable } from "./fingerprint-table.js";
import { checksum } from "./hashing.js";
import { type ReadMeter, readAt } from "./read-meter.js";
import {
  bucketOf,
  type DecodedLog,
  type Directory,
  decodeBucket,
  decodeDirectory,
  decodeHeader,
  decodeLog,
  decodeSamples,
  ENTRY_SIZE,
  HEADER_SIZE,
  layoutOf,
  type SidecarHeader,
  type SidecarLayout,
  TAIL_BYTES,
} from "./sidecar-format.js";
import { StaleIndexError } from "./stale-index.js";

/** What is known of a data file when its sidecar is opened. */
export interface DataFileStat {
  ino: bigint;
  size: number;
  mtimeNs: bigint;
  uid: number;
}

/** Where findings about sidecars go (each key reported once). */
export type Warn = (key: string, message: string) => void;

/** The sidecar of data file `name`: hidden, next to it. */
export function sidecarName(name: string): string {
  return `.${name}.idx`;
}

const FIRST_READ = 64 * 1024;

/** A checksum of the data bytes just before `end`: what a sidecar records to bind itself to them. */
export async function tailCheckAt(
  fh: FileHandle,
  end: number,
  meter: ReadMeter | undefined,
): Promise<number> {
  const start = Math.max(0, end - TAIL_BYTES);
  const buf = Buffer.alloc(end - start);
  const got = await readAt(fh, buf, 0, buf.length, start, meter);
  // Fewer bytes than asked: the file is shorter than the sidecar believes.
  return got === buf.length ? checksum(buf) : -1;
}

/**
 * A sidecar opened and checked against its data file: its header, bucket directory and log are
 * read; its buckets, samples and entries are read when used, each checked by its checksum.
 */
export class OpenedSidecar {
  readonly path: string;
  readonly header: SidecarHeader;
  readonly layout: SidecarLayout;
  readonly directory: Directory;
  readonly log: DecodedLog;
  /** The sidecar file's inode and size when opened. */
  readonly ino: bigint;
  readonly size: number;
  readonly #meter: ReadMeter;

  constructor(fields: {
    path: string;
    header: SidecarHeader;
    layout: SidecarLayout;
    directory: Directory;
    log: DecodedLog;
    ino: bigint;
    size: number;
    meter: ReadMeter;
  }) {
    this.path = fields.path;
    this.header = fields.header;
    this.layout = fields.layout;
    this.directory = fields.directory;
    this.log = fields.log;
    this.ino = fields.ino;
    this.size = fields.size;
    this.#meter = fields.meter;
  }

  /** True when bytes after the last sound chunk were found (a chunk torn by a crash). */
  get logTorn(): boolean {
    return this.layout.end + this.log.used < this.size;
  }

  // The same file as opened, or StaleIndexError: a sidecar replaced meanwhile is not mixed in.
  async #withFile<T>(fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      throw new StaleIndexError(`${this.path} went away`);
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (st.ino !== this.ino) throw new StaleIndexError(`${this.path} was replaced`);
      return await fn(fh);
    } finally {
      await fh.close();
    }
  }

  /** Offsets of the base's entries with fingerprint `fp` (reads one bucket). */
  async lookup(fps: readonly number[], out: Map<number, number[]>): Promise<void> {
    const bits = this.header.bucketBits;
    const byBucket = new Map<number, number[]>();
    for (const fp of fps) {
      const b = bucketOf(fp, bits);
      const list = byBucket.get(b) ?? [];
      list.push(fp);
      byBucket.set(b, list);
    }
    await this.#withFile(async (fh) => {
      for (const [bucket, wanted] of byBucket) {
        const start = this.directory.fanout[bucket]!;
        const end = this.directory.fanout[bucket + 1]!;
        if (start === end) continue;
        const bytes = Buffer.alloc((end - start) * ENTRY_SIZE);
        const got = await readAt(
          fh,
          bytes,
          0,
          bytes.length,
          this.layout.entries + start * ENTRY_SIZE,
          this.#meter,
        );
        const into = {
          fps: new Uint32Array(end - start),
          offsets: new Float64Array(end - start),
          at: 0,
        };
        if (
          got !== bytes.length ||
          !decodeBucket(this.header, this.directory, bucket, bytes, into)
        ) {
          throw new StaleIndexError(`${this.path}: bucket ${bucket} is damaged`);
        }
        const set = new Set(wanted);
        for (let i = 0; i < into.at; i++) {
          const fp = into.fps[i]!;
          if (!set.has(fp)) continue;
          const list = out.get(fp) ?? [];
          list.push(into.offsets[i]!);
          out.set(fp, list);
        }
      }
    });
  }

  /** The base's sample offsets. */
  async samples(): Promise<Float64Array> {
    return this.#withFile(async (fh) => {
      const bytes = Buffer.alloc(this.layout.entries - this.layout.samples);
      const got = await readAt(fh, bytes, 0, bytes.length, this.layout.samples, this.#meter);
      const samples = got === bytes.length ? decodeSamples(this.header, bytes) : undefined;
      if (!samples) throw new StaleIndexError(`${this.path}: the samples are damaged`);
      return samples;
    });
  }

  /** Every entry of the base, each bucket checked. */
  async table(): Promise<FingerprintTable> {
    return this.#withFile(async (fh) => {
      const n = this.header.entryCount;
      const bytes = Buffer.alloc(n * ENTRY_SIZE);
      const got = await readAt(fh, bytes, 0, bytes.length, this.layout.entries, this.#meter);
      if (got !== bytes.length) throw new StaleIndexError(`${this.path} is cut short`);
      const into = { fps: new Uint32Array(n), offsets: new Float64Array(n), at: 0 };
      const buckets = this.directory.checks.length;
      for (let b = 0; b < buckets; b++) {
        const start = this.directory.fanout[b]! * ENTRY_SIZE;
        const end = this.directory.fanout[b + 1]! * ENTRY_SIZE;
        if (!decodeBucket(this.header, this.directory, b, bytes.subarray(start, end), into)) {
          throw new StaleIndexError(`${this.path}: bucket ${b} is damaged`);
        }
      }
      return new FingerprintTable(into.fps, into.offsets);
    });
  }
}

/**
 * Opens the sidecar of data file `name` and checks it against the file: a regular file (never
 * through a link) owned by the file's owner and writable by no one else, a sound header, made
 * for this inode, covering no more than the file holds, the checksum of the data bytes before
 * the covered end as recorded, and — when nothing was appended after it — the file's mtime as
 * recorded. `undefined` when there is none or it does not describe the file; damaged or planted
 * ones are reported through `warn`.
 */
export async function openSidecar(
  dir: string,
  name: string,
  data: DataFileStat,
  dataFh: FileHandle,
  meter: ReadMeter,
  warn: Warn,
): Promise<OpenedSidecar | undefined> {
  const path = join(dir, sidecarName(name));
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") {
      warn(
        `idx-link:${name}`,
        `[audit] [jsonl] ${path} is a symbolic link: it is ignored (the index is rebuilt from ${name}) and a writer replaces it`,
      );
    }
    return undefined;
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile() || Number(st.uid) !== data.uid || (Number(st.mode) & 0o022) !== 0) {
      warn(
        `idx-foreign:${name}`,
        `[audit] [jsonl] ${path} is not a private regular file of the trail's owner: it is ignored and the index is rebuilt from ${name}`,
      );
      return undefined;
    }
    const size = Number(st.size);
    const first = Buffer.alloc(Math.min(size, FIRST_READ));
    const got = await readAt(fh, first, 0, first.length, 0, meter);
    const header = got >= HEADER_SIZE ? decodeHeader(first) : undefined;
    const damaged = () => {
      warn(
        `idx-damaged:${name}:${size}`,
        `[audit] [jsonl] ${path} is damaged: it is ignored and the index is rebuilt from ${name}`,
      );
      return undefined;
    };
    if (!header) return damaged();
    const layout = layoutOf(header);
    if (layout.end > size) return damaged();
    // Made for another file, or for more bytes than this one has: stale, not damaged.
    if (header.dataIno !== data.ino || header.covered > data.size) return undefined;
    let dirBytes: Buffer;
    if (layout.samples <= got) dirBytes = first.subarray(layout.directory, layout.samples);
    else {
      dirBytes = Buffer.alloc(layout.directorySize);
      await readAt(fh, dirBytes, 0, dirBytes.length, layout.directory, meter);
    }
    const directory = decodeDirectory(header, dirBytes);
    if (!directory) return damaged();
    const logBytes = Buffer.alloc(size - layout.end);
    if (logBytes.length > 0) await readAt(fh, logBytes, 0, logBytes.length, layout.end, meter);
    const log = decodeLog(logBytes, header.covered, data.size);
    const last = log.chunks[log.chunks.length - 1];
    const expected = last ? last.tailCheck : header.tailCheck;
    const mtime = last ? last.dataMtimeNs : header.dataMtimeNs;
    if ((await tailCheckAt(dataFh, log.covered, meter)) !== expected) return undefined;
    // Nothing appended after the index, yet the file was modified: edited in place.
    if (data.size === log.covered && data.mtimeNs !== mtime) return undefined;
    return new OpenedSidecar({ path, header, layout, directory, log, ino: st.ino, size, meter });
  } finally {
    await fh.close();
  }
}

/** The sidecar's inode and size after a write. */
export interface SidecarOnDisk {
  ino: bigint;
  size: number;
}

/**
 * Writes a whole sidecar: to a temporary file created exclusively (mode 0600, never through a
 * link), then renamed over the old one, so readers see the old sidecar or the new one, whole. A
 * link planted under the sidecar's name is replaced, not followed.
 */
export async function writeSidecar(
  dir: string,
  name: string,
  bytes: Buffer,
): Promise<SidecarOnDisk> {
  const path = join(dir, sidecarName(name));
  const tmp = join(
    dir,
    `${sidecarName(name)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
  );
  const fh = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  let ino: bigint;
  try {
    let off = 0;
    while (off < bytes.length) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
    ino = (await fh.stat({ bigint: true })).ino;
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return { ino, size: bytes.length };
}

/**
 * Appends a log chunk to the sidecar, only if it is still the file `expected` describes (same
 * inode and size: no other writer changed it since). Returns the new state, or `undefined` when
 * the sidecar is not as expected (the caller writes it whole instead).
 */
export async function appendToSidecar(
  dir: string,
  name: string,
  expected: SidecarOnDisk,
  chunk: Buffer,
): Promise<SidecarOnDisk | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(
      join(dir, sidecarName(name)),
      constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW,
    );
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile() || st.ino !== expected.ino || Number(st.size) !== expected.size) {
      return undefined;
    }
    let off = 0;
    while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
    return { ino: expected.ino, size: expected.size + chunk.length };
  } finally {
    await fh.close();
  }
}

/** Removes the sidecar of data file `name` (after its file was deleted). */
export async function removeSidecar(dir: string, name: string): Promise<void> {
  await unlink(join(dir, sidecarName(name))).catch(() => undefined);
}
