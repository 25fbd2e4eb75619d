import type { FingerprintTable } from "./fingerprint-table.js";
import { checksum } from "./hashing.js";

/*
 * The bytes of a sidecar index (all numbers little-endian). A sidecar describes the first
 * `covered` bytes of one data file: a base, written whole, then a log of chunks appended after it.
 *
 * Base:
 *   header (128 bytes): magic "AUDITIX1", version, bucket bits b, the data file's inode, covered,
 *     the data file's mtime (ns) when written, entry count, sample count, a checksum of the last
 *     256 data bytes before `covered` (binds the sidecar to the file's content), checksums of the
 *     directory and of the samples, and a checksum of the header itself.
 *   directory: 2^b + 1 entry positions (bucket k holds entries [fanout[k], fanout[k+1])), then a
 *     checksum of each bucket's bytes, so a lookup checks exactly the bytes it reads.
 *   samples: the offset of every SAMPLE_EVERY-th event line, in file order (time → offset: the
 *     file is sorted by (time, id), so a binary search over them, probing the real lines, finds
 *     where a time or a cursor is).
 *   entries, sorted by fingerprint, as two sections: the fingerprints of the ids (u32 each, the
 *     top b bits naming the bucket), then the offsets of their lines (f64 each). Sections start
 *     at multiples of 8, so a writer reads them straight into typed arrays.
 * Log: chunks, each covering the data bytes right after the previous one (or after the base):
 *   header (40 bytes): magic, entry count, from, to, the data file's mtime (ns) after the write, a
 *   checksum of the last data bytes before `to`, the chunk's checksum; then its entries, in
 *   file order.
 */

export const HEADER_SIZE = 128;
export const ENTRY_SIZE = 12;
export const CHUNK_HEADER_SIZE = 40;
/** One sample offset every this many event lines. */
export const SAMPLE_EVERY = 128;
/** How many data bytes before a covered end are checksummed to bind a sidecar to its file. */
export const TAIL_BYTES = 256;

const MAGIC = Buffer.from("AUDITIX1", "latin1");
const VERSION = 1;
const CHUNK_MAGIC = 0x4b4e4843;
const TARGET_BUCKET = 256;
const MAX_BUCKET_BITS = 22;

/** What a sidecar's header says. */
export interface SidecarHeader {
  bucketBits: number;
  dataIno: bigint;
  covered: number;
  dataMtimeNs: bigint;
  entryCount: number;
  sampleCount: number;
  tailCheck: number;
  directoryCheck: number;
  samplesCheck: number;
}

/** Where each section of a sidecar's base starts, and where the base ends (the log begins). */
export interface SidecarLayout {
  directory: number;
  directorySize: number;
  samples: number;
  fps: number;
  offsets: number;
  end: number;
}

const pad8 = (n: number) => Math.ceil(n / 8) * 8;

export function layoutOf(h: Pick<SidecarHeader, "bucketBits" | "sampleCount" | "entryCount">) {
  const buckets = 2 ** h.bucketBits;
  const directorySize = (buckets + 1) * 4 + buckets * 4;
  const samples = HEADER_SIZE + pad8(directorySize);
  const fps = samples + h.sampleCount * 8;
  const offsets = fps + pad8(h.entryCount * 4);
  return {
    directory: HEADER_SIZE,
    directorySize,
    samples,
    fps,
    offsets,
    end: offsets + h.entryCount * 8,
  } satisfies SidecarLayout;
}

/** The bucket of a fingerprint under `bits` bucket bits. */
export function bucketOf(fp: number, bits: number): number {
  return bits === 0 ? 0 : fp >>> (32 - bits);
}

/** Decodes and checks a header; `undefined` when it is not a sound header of this version. */
export function decodeHeader(buf: Buffer): SidecarHeader | undefined {
  if (buf.length < HEADER_SIZE || !buf.subarray(0, 8).equals(MAGIC)) return undefined;
  if (buf.readUInt32LE(8) !== VERSION) return undefined;
  if (buf.readUInt32LE(124) !== checksum(buf, 0, 124)) return undefined;
  const h: SidecarHeader = {
    bucketBits: buf.readUInt32LE(12),
    dataIno: buf.readBigUInt64LE(16),
    covered: buf.readDoubleLE(24),
    dataMtimeNs: buf.readBigUInt64LE(32),
    entryCount: buf.readUInt32LE(40),
    sampleCount: buf.readUInt32LE(44),
    tailCheck: buf.readUInt32LE(48),
    directoryCheck: buf.readUInt32LE(52),
    samplesCheck: buf.readUInt32LE(56),
  };
  if (h.bucketBits > MAX_BUCKET_BITS || !Number.isSafeInteger(h.covered) || h.covered < 0) {
    return undefined;
  }
  return h;
}

/** The bucket directory: where each bucket's entries are, and each bucket's checksum. */
export interface Directory {
  fanout: Uint32Array;
  checks: Uint32Array;
}

/** Decodes and checks the directory section (`bytes` is exactly that section). */
export function decodeDirectory(h: SidecarHeader, bytes: Buffer): Directory | undefined {
  if (checksum(bytes) !== h.directoryCheck) return undefined;
  const buckets = 2 ** h.bucketBits;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fanout = new Uint32Array(buckets + 1);
  const checks = new Uint32Array(buckets);
  for (let k = 0; k <= buckets; k++) fanout[k] = view.getUint32(k * 4, true);
  for (let k = 0; k < buckets; k++) checks[k] = view.getUint32((buckets + 1 + k) * 4, true);
  if (fanout[0] !== 0 || fanout[buckets] !== h.entryCount) return undefined;
  for (let k = 0; k < buckets; k++) if (fanout[k]! > fanout[k + 1]!) return undefined;
  return { fanout, checks };
}

/** Decodes and checks the samples section: increasing offsets inside the covered bytes. */
export function decodeSamples(h: SidecarHeader, bytes: Buffer): Float64Array | undefined {
  if (checksum(bytes) !== h.samplesCheck) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(h.sampleCount);
  let last = -1;
  for (let i = 0; i < h.sampleCount; i++) {
    const off = view.getFloat64(i * 8, true);
    if (!Number.isSafeInteger(off) || off <= last || off >= h.covered) return undefined;
    out[i] = off;
    last = off;
  }
  return out;
}

/** The checksum of one bucket: its fingerprints' bytes, then its offsets' bytes. */
export function bucketCheck(fps: Uint8Array, offsets: Uint8Array): number {
  return checksum(offsets, 0, offsets.length, checksum(fps));
}

/**
 * Checks one bucket's entries, `count` of them from `at` in `fps` and `offsets` (as read from the
 * sidecar): its checksum, that every fingerprint belongs to the bucket in sorted order, and that
 * every offset is inside the covered bytes.
 */
export function checkBucket(
  h: SidecarHeader,
  dir: Directory,
  bucket: number,
  fps: Uint32Array,
  offsets: Float64Array,
  at: number,
  count: number,
): boolean {
  const fpBytes = new Uint8Array(fps.buffer, fps.byteOffset + at * 4, count * 4);
  const offBytes = new Uint8Array(offsets.buffer, offsets.byteOffset + at * 8, count * 8);
  if (bucketCheck(fpBytes, offBytes) !== dir.checks[bucket]) return false;
  const bits = h.bucketBits;
  let last = -1;
  for (let i = at; i < at + count; i++) {
    const fp = fps[i]!;
    const off = offsets[i]!;
    if (fp < last || bucketOf(fp, bits) !== bucket) return false;
    if (!Number.isSafeInteger(off) || off < 0 || off >= h.covered) return false;
    last = fp;
  }
  return true;
}

/** What a new sidecar's base describes. */
export interface BaseContent {
  dataIno: bigint;
  covered: number;
  dataMtimeNs: bigint;
  tailCheck: number;
  table: FingerprintTable;
  samples: Float64Array;
}

/** The bytes of a whole sidecar with an empty log. */
export function encodeBase(c: BaseContent): Buffer {
  const n = c.table.size;
  const bucketBits =
    n <= TARGET_BUCKET ? 0 : Math.min(MAX_BUCKET_BITS, Math.ceil(Math.log2(n / TARGET_BUCKET)));
  const layout = layoutOf({ bucketBits, sampleCount: c.samples.length, entryCount: n });
  const buf = Buffer.alloc(layout.end);
  const buckets = 2 ** bucketBits;
  // The entries, through typed-array views (little-endian, as the format is).
  const fps = new Uint32Array(n);
  const offsets = new Float64Array(n);
  fps.set(c.table.fps);
  offsets.set(c.table.offsets);
  const fpBytes = littleEndian(fps);
  const offBytes = littleEndian(offsets);
  buf.set(fpBytes, layout.fps);
  buf.set(offBytes, layout.offsets);
  const fanout = new Uint32Array(buckets + 1);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const b = bucketOf(fps[i]!, bucketBits);
    while (k <= b) fanout[k++] = i;
  }
  while (k <= buckets) fanout[k++] = n;
  for (let b = 0; b <= buckets; b++) buf.writeUInt32LE(fanout[b]!, layout.directory + b * 4);
  for (let b = 0; b < buckets; b++) {
    const sum = bucketCheck(
      fpBytes.subarray(fanout[b]! * 4, fanout[b + 1]! * 4),
      offBytes.subarray(fanout[b]! * 8, fanout[b + 1]! * 8),
    );
    buf.writeUInt32LE(sum, layout.directory + (buckets + 1 + b) * 4);
  }
  for (let i = 0; i < c.samples.length; i++)
    buf.writeDoubleLE(c.samples[i]!, layout.samples + i * 8);
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(VERSION, 8);
  buf.writeUInt32LE(bucketBits, 12);
  buf.writeBigUInt64LE(c.dataIno, 16);
  buf.writeDoubleLE(c.covered, 24);
  buf.writeBigUInt64LE(c.dataMtimeNs, 32);
  buf.writeUInt32LE(n, 40);
  buf.writeUInt32LE(c.samples.length, 44);
  buf.writeUInt32LE(c.tailCheck, 48);
  buf.writeUInt32LE(checksum(buf, layout.directory, layout.directory + layout.directorySize), 52);
  buf.writeUInt32LE(checksum(buf, layout.samples, layout.fps), 56);
  buf.writeUInt32LE(checksum(buf, 0, 124), 124);
  return buf;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of a typed array, little-endian whatever the machine's byte order. */
export function littleEndian(a: Uint32Array | Float64Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = Uint8Array.from(bytes);
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < copy.length; i += w) copy.subarray(i, i + w).reverse();
  return copy;
}

/** Turns little-endian bytes just read into a typed array in the machine's order (in place). */
export function fromLittleEndian<T extends Uint32Array | Float64Array>(a: T): T {
  if (LITTLE_ENDIAN) return a;
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += w) bytes.subarray(i, i + w).reverse();
  return a;
}

/** One chunk of the log: the entries of the data bytes [from, to). */
export interface Chunk {
  from: number;
  to: number;
  dataMtimeNs: bigint;
  tailCheck: number;
  fps: Uint32Array;
  offsets: Float64Array;
}

/** The bytes of one log chunk. */
export function encodeChunk(c: Chunk): Buffer {
  const n = c.fps.length;
  const buf = Buffer.alloc(CHUNK_HEADER_SIZE + n * ENTRY_SIZE);
  buf.writeUInt32LE(CHUNK_MAGIC, 0);
  buf.writeUInt32LE(n, 4);
  buf.writeDoubleLE(c.from, 8);
  buf.writeDoubleLE(c.to, 16);
  buf.writeBigUInt64LE(c.dataMtimeNs, 24);
  buf.writeUInt32LE(c.tailCheck, 32);
  for (let i = 0; i < n; i++) {
    buf.writeUInt32LE(c.fps[i]!, CHUNK_HEADER_SIZE + i * ENTRY_SIZE);
    buf.writeDoubleLE(c.offsets[i]!, CHUNK_HEADER_SIZE + i * ENTRY_SIZE + 4);
  }
  buf.writeUInt32LE(chunkCheck(buf, 0, buf.length), 36);
  return buf;
}

function chunkCheck(buf: Buffer, start: number, end: number): number {
  return checksum(buf, start + CHUNK_HEADER_SIZE, end, checksum(buf, start, start + 36));
}

/** The log's sound chunks, their entries gathered in file order. */
export interface DecodedLog {
  fps: Uint32Array;
  offsets: Float64Array;
  /** Entries in `fps` and `offsets`. */
  count: number;
  /** Bytes of the log that are sound chunks; anything after is torn or damaged. */
  used: number;
  /** Where the last sound chunk ends in the data file (`from` when there is none). */
  covered: number;
  /** The data file's mtime and end checksum the last sound chunk recorded. */
  last: { dataMtimeNs: bigint; tailCheck: number } | undefined;
}

/**
 * Decodes the log's chunks from `bytes`, the first starting at data offset `from`. Stops at the
 * first chunk that is cut short, damaged, not contiguous, out of order or past `dataSize`.
 */
export function decodeLog(bytes: Buffer, from: number, dataSize: number): DecodedLog {
  const capacity = Math.floor(bytes.length / ENTRY_SIZE);
  const fps = new Uint32Array(capacity);
  const offsets = new Float64Array(capacity);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  let p = 0;
  let covered = from;
  let last: DecodedLog["last"];
  while (bytes.length - p >= CHUNK_HEADER_SIZE) {
    if (view.getUint32(p, true) !== CHUNK_MAGIC) break;
    const n = view.getUint32(p + 4, true);
    const size = CHUNK_HEADER_SIZE + n * ENTRY_SIZE;
    if (bytes.length - p < size) break;
    if (view.getUint32(p + 36, true) !== chunkCheck(bytes, p, p + size)) break;
    const start = view.getFloat64(p + 8, true);
    const to = view.getFloat64(p + 16, true);
    if (start !== covered || !(to >= start) || to > dataSize) break;
    let prev = start - 1;
    let sound = true;
    for (let i = 0, q = p + CHUNK_HEADER_SIZE; i < n; i++, q += ENTRY_SIZE) {
      const off = view.getFloat64(q + 4, true);
      if (!Number.isSafeInteger(off) || off <= prev || off >= to) {
        sound = false;
        break;
      }
      fps[count + i] = view.getUint32(q, true);
      offsets[count + i] = off;
      prev = off;
    }
    if (!sound) break;
    count += n;
    covered = to;
    last = {
      dataMtimeNs: view.getBigUint64(p + 24, true),
      tailCheck: view.getUint32(p + 32, true),
    };
    p += size;
  }
  return { fps, offsets, count, used: p, covered, last };
}
