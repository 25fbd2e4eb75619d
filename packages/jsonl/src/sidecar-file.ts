import { randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { FingerprintTable } from "./fingerprint-table.js";
import { checksum } from "./hashing.js";
import { type ReadMeter, readAtSync } from "./read-meter.js";
import {
  bucketOf,
  checkBucket,
  type DecodedLog,
  type Directory,
  decodeDirectory,
  decodeHeader,
  decodeLog,
  decodeSamples,
  fromLittleEndian,
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

// The header and, for files of up to some thousands of events, the bucket directory.
const FIRST_READ = 4096;

/**
 * A checksum of the data bytes just before `end` in open file `fd`: what a sidecar records to
 * bind itself to them. -1 when the file is shorter than `end`.
 */
export function tailCheckAt(fd: number, end: number, meter: ReadMeter | undefined): number {
  const start = Math.max(0, end - TAIL_BYTES);
  const buf = Buffer.allocUnsafe(end - start);
  const got = readAtSync(fd, buf, 0, buf.length, start, meter);
  return got === buf.length ? checksum(buf) : -1;
}

/** Runs `fn` on file `path` opened with `flags` (never through a link), then closes it. */
export function withFd<T>(path: string, flags: number, fn: (fd: number) => T): T {
  const fd = openSync(path, flags | constants.O_NOFOLLOW);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
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
  #withFile<T>(fn: (fd: number) => T): T {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      throw new StaleIndexError(`${this.path} went away`);
    }
    try {
      if (fstatSync(fd, { bigint: true }).ino !== this.ino) {
        throw new StaleIndexError(`${this.path} was replaced`);
      }
      return fn(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Adds to `out` the offsets of the base's entries with these fingerprints (one bucket each). */
  lookup(fps: readonly number[], out: Map<number, number[]>): void {
    const bits = this.header.bucketBits;
    const byBucket = new Map<number, Set<number>>();
    for (const fp of fps) {
      const b = bucketOf(fp, bits);
      const set = byBucket.get(b) ?? new Set();
      set.add(fp);
      byBucket.set(b, set);
    }
    this.#withFile((fd) => {
      for (const [bucket, wanted] of byBucket) {
        const at = this.directory.fanout[bucket]!;
        const count = this.directory.fanout[bucket + 1]! - at;
        if (count === 0) continue;
        const { fps: bfps, offsets } = this.#read(fd, at, count);
        if (!checkBucket(this.header, this.directory, bucket, bfps, offsets, 0, count)) {
          throw new StaleIndexError(`${this.path}: bucket ${bucket} is damaged`);
        }
        for (let i = 0; i < count; i++) {
          const fp = bfps[i]!;
          if (!wanted.has(fp)) continue;
          const list = out.get(fp) ?? [];
          list.push(offsets[i]!);
          out.set(fp, list);
        }
      }
    });
  }

  // Entries [at, at + count), read straight into typed arrays.
  #read(fd: number, at: number, count: number): { fps: Uint32Array; offsets: Float64Array } {
    const fps = new Uint32Array(count);
    const offsets = new Float64Array(count);
    const a = readAtSync(
      fd,
      new Uint8Array(fps.buffer),
      0,
      count * 4,
      this.layout.fps + at * 4,
      this.#meter,
    );
    const b = readAtSync(
      fd,
      new Uint8Array(offsets.buffer),
      0,
      count * 8,
      this.layout.offsets + at * 8,
      this.#meter,
    );
    if (a !== count * 4 || b !== count * 8) throw new StaleIndexError(`${this.path} is cut short`);
    return { fps: fromLittleEndian(fps), offsets: fromLittleEndian(offsets) };
  }

  /** The base's sample offsets. */
  samples(): Float64Array {
    return this.#withFile((fd) => {
      const bytes = Buffer.allocUnsafe(this.layout.fps - this.layout.samples);
      const got = readAtSync(fd, bytes, 0, bytes.length, this.layout.samples, this.#meter);
      const samples = got === bytes.length ? decodeSamples(this.header, bytes) : undefined;
      if (!samples) throw new StaleIndexError(`${this.path}: the samples are damaged`);
      return samples;
    });
  }

  /** Every entry of the base, each bucket checked. */
  table(): FingerprintTable {
    return this.#withFile((fd) => {
      const { fps, offsets } = this.#read(fd, 0, this.header.entryCount);
      const fanout = this.directory.fanout;
      for (let b = 0; b < this.directory.checks.length; b++) {
        const at = fanout[b]!;
        if (!checkBucket(this.header, this.directory, b, fps, offsets, at, fanout[b + 1]! - at)) {
          throw new StaleIndexError(`${this.path}: bucket ${b} is damaged`);
        }
      }
      return new FingerprintTable(fps, offsets);
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
export function openSidecar(
  dir: string,
  name: string,
  data: DataFileStat,
  dataFd: number,
  meter: ReadMeter,
  warn: Warn,
): OpenedSidecar | undefined {
  const path = join(dir, sidecarName(name));
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
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
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile() || Number(st.uid) !== data.uid || (Number(st.mode) & 0o022) !== 0) {
      warn(
        `idx-foreign:${name}`,
        `[audit] [jsonl] ${path} is not a private regular file of the trail's owner: it is ignored and the index is rebuilt from ${name}`,
      );
      return undefined;
    }
    const size = Number(st.size);
    const first = Buffer.allocUnsafe(Math.min(size, FIRST_READ));
    const got = readAtSync(fd, first, 0, first.length, 0, meter);
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
    const dirEnd = layout.directory + layout.directorySize;
    if (dirEnd <= got) dirBytes = first.subarray(layout.directory, dirEnd);
    else {
      dirBytes = Buffer.allocUnsafe(layout.directorySize);
      readAtSync(fd, dirBytes, 0, dirBytes.length, layout.directory, meter);
    }
    const directory = decodeDirectory(header, dirBytes);
    if (!directory) return damaged();
    const logBytes = Buffer.allocUnsafe(size - layout.end);
    if (logBytes.length > 0) readAtSync(fd, logBytes, 0, logBytes.length, layout.end, meter);
    const log = decodeLog(logBytes, header.covered, data.size);
    const expected = log.last ? log.last.tailCheck : header.tailCheck;
    const mtime = log.last ? log.last.dataMtimeNs : header.dataMtimeNs;
    if (tailCheckAt(dataFd, log.covered, meter) !== expected) return undefined;
    // Nothing appended after the index, yet the file was modified: edited in place.
    if (data.size === log.covered && data.mtimeNs !== mtime) return undefined;
    return new OpenedSidecar({ path, header, layout, directory, log, ino: st.ino, size, meter });
  } finally {
    closeSync(fd);
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
