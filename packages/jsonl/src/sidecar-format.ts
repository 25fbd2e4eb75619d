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
 *   entries: 12 bytes each, a fingerprint of the id (u32) and the line's offset (f64), sorted by
 *     fingerprint; the top b bits of a fingerprint name its bucket.
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
  entries: number;
  end: number;
}

export function layoutOf(h: Pick<SidecarHeader, "bucketBits" | "sampleCount" | "entryCount">) {
  const buckets = 2 ** h.bucketBits;
  const directorySize = (buckets + 1) * 4 + buckets * 4;
  const samples = HEADER_SIZE + directorySize;
  const entries = samples + h.sampleCount * 8;
  return {
    directory: HEADER_SIZE,
    directorySize,
    samples,
    entries,
    end: entries + h.entryCount * ENTRY_SIZE,
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
  const fanout = new Uint32Array(buckets + 1);
  const checks = new Uint32Array(buckets);
  for (let k = 0; k <= buckets; k++) fanout[k] = bytes.readUInt32LE(k * 4);
  for (let k = 0; k < buckets; k++) checks[k] = bytes.readUInt32LE((buckets + 1 + k) * 4);
  if (fanout[0] !== 0 || fanout[buckets] !== h.entryCount) return undefined;
  for (let k = 0; k < buckets; k++) if (fanout[k]! > fanout[k + 1]!) return undefined;
  return { fanout, checks };
}

/** Decodes and checks the samples section: increasing offsets inside the covered bytes. */
export function decodeSamples(h: SidecarHeader, bytes: Buffer): Float64Array | undefined {
  if (checksum(bytes) !== h.samplesCheck) return undefined;
  const out = new Float64Array(h.sampleCount);
  let last = -1;
  for (let i = 0; i < h.sampleCount; i++) {
    const off = bytes.readDoubleLE(i * 8);
    if (!Number.isSafeInteger(off) || off <= last || off >= h.covered) return undefined;
    out[i] = off;
    last = off;
  }
  return out;
}

/**
 * Decodes and checks one bucket's entries (`bytes`): its checksum, that every fingerprint belongs
 * to the bucket in sorted order, and that every offset is inside the covered bytes.
 */
export function decodeBucket(
  h: SidecarHeader,
  dir: Directory,
  bucket: number,
  bytes: Buffer,
  into: { fps: Uint32Array; offsets: Float64Array; at: number },
): boolean {
  if (checksum(bytes) !== dir.checks[bucket]) return false;
  let last = -1;
  for (let p = 0; p < bytes.length; p += ENTRY_SIZE) {
    const fp = bytes.readUInt32LE(p);
    const off = bytes.readDoubleLE(p + 4);
    if (fp < last || bucketOf(fp, h.bucketBits) !== bucket) return false;
    if (!Number.isSafeInteger(off) || off < 0 || off >= h.covered) return false;
    into.fps[into.at] = fp;
    into.offsets[into.at] = off;
    into.at++;
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
  // Entries, and the first entry of each bucket.
  const fanout = new Uint32Array(buckets + 1);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const fp = c.table.fps[i]!;
    const b = bucketOf(fp, bucketBits);
    while (k <= b) fanout[k++] = i;
    buf.writeUInt32LE(fp, layout.entries + i * ENTRY_SIZE);
    buf.writeDoubleLE(c.table.offsets[i]!, layout.entries + i * ENTRY_SIZE + 4);
  }
  while (k <= buckets) fanout[k++] = n;
  for (let b = 0; b <= buckets; b++) buf.writeUInt32LE(fanout[b]!, layout.directory + b * 4);
  for (let b = 0; b < buckets; b++) {
    const sum = checksum(
      buf,
      layout.entries + fanout[b]! * ENTRY_SIZE,
      layout.entries + fanout[b + 1]! * ENTRY_SIZE,
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
  buf.writeUInt32LE(checksum(buf, layout.directory, layout.samples), 52);
  buf.writeUInt32LE(checksum(buf, layout.samples, layout.entries), 56);
  buf.writeUInt32LE(checksum(buf, 0, 124), 124);
  return buf;
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
  buf.writeUInt32LE(chunkCheck(buf), 36);
  return buf;
}

function chunkCheck(buf: Buffer): number {
  return checksum(buf, CHUNK_HEADER_SIZE, buf.length, checksum(buf, 0, 36));
}

/** The chunks found in log bytes, and how many bytes of the log they are. */
export interface DecodedLog {
  chunks: Chunk[];
  /** Bytes of `bytes` that are sound chunks; anything after is torn or damaged. */
  used: number;
  /** Where the last sound chunk ends in the data file (`from` when there is none). */
  covered: number;
}

/**
 * Decodes the log's chunks from `bytes`, the first starting at data offset `from`. Stops at the
 * first chunk that is cut short, damaged, not contiguous, out of order or past `dataSize`.
 */
export function decodeLog(bytes: Buffer, from: number, dataSize: number): DecodedLog {
  const chunks: Chunk[] = [];
  let p = 0;
  let covered = from;
  while (bytes.length - p >= CHUNK_HEADER_SIZE) {
    if (bytes.readUInt32LE(p) !== CHUNK_MAGIC) break;
    const n = bytes.readUInt32LE(p + 4);
    const size = CHUNK_HEADER_SIZE + n * ENTRY_SIZE;
    if (bytes.length - p < size) break;
    const chunk = bytes.subarray(p, p + size);
    if (chunk.readUInt32LE(36) !== chunkCheck(chunk)) break;
    const start = chunk.readDoubleLE(8);
    const to = chunk.readDoubleLE(16);
    if (start !== covered || !(to >= start) || to > dataSize) break;
    const fps = new Uint32Array(n);
    const offsets = new Float64Array(n);
    let last = start - 1;
    let sound = true;
    for (let i = 0; i < n; i++) {
      const off = chunk.readDoubleLE(CHUNK_HEADER_SIZE + i * ENTRY_SIZE + 4);
      if (!Number.isSafeInteger(off) || off <= last || off >= to) {
        sound = false;
        break;
      }
      fps[i] = chunk.readUInt32LE(CHUNK_HEADER_SIZE + i * ENTRY_SIZE);
      offsets[i] = off;
      last = off;
    }
    if (!sound) break;
    chunks.push({
      from: start,
      to,
      dataMtimeNs: chunk.readBigUInt64LE(24),
      tailCheck: chunk.readUInt32LE(32),
      fps,
      offsets,
    });
    covered = to;
    p += size;
  }
  return { chunks, used: p, covered };
}
