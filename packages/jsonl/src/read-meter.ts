import { readSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";

/**
 * Counts what a store reads from its files (data and sidecars): how many reads and how many
 * bytes. Deterministic, unlike time, so tests can assert that a lookup or a poll stays small.
 */
export class ReadMeter {
  /** Bytes read. */
  bytes = 0;
  /** Read calls made. */
  reads = 0;

  count(bytes: number): void {
    this.reads++;
    this.bytes += bytes;
  }
}

/** `fh.read` that also counts into `meter`. Returns the number of bytes read. */
export async function readAt(
  fh: FileHandle,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
  meter: ReadMeter | undefined,
): Promise<number> {
  const { bytesRead } = await fh.read(buffer, offset, length, position);
  meter?.count(bytesRead);
  return bytesRead;
}

/**
 * A positioned read on a file descriptor, synchronous, counted into `meter`. Index lookups read a
 * few kilobytes this way: from the page cache that takes microseconds, less than the round trip
 * through libuv's thread pool that an asynchronous read costs (which, on a busy machine, is what
 * dominates a lookup made of a handful of small reads).
 */
export function readAtSync(
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
  meter: ReadMeter | undefined,
): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buffer, offset + got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  meter?.count(got);
  return got;
}
