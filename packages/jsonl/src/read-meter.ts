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
  if (meter) {
    meter.reads++;
    meter.bytes += bytesRead;
  }
  return bytesRead;
}
