import { closeSync, fstatSync, openSync, read } from "node:fs";
import { type ReadMeter, readAtSync } from "./read-meter.js";

/** One line of a file, and whether it ended with a newline (the last line of a torn write does not). */
export interface FileLine {
  text: string;
  complete: boolean;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  /** The line's length in bytes, without its newline. */
  length: number;
}

/** Where to read and what to count. */
export interface LineRange {
  /** First byte to read (a line start). @default 0 */
  start?: number;
  /** Read up to this byte, exclusive; a line not ended before it is incomplete. @default the file's size */
  end?: number;
  /**
   * The inode `start` and `end` were found in: if the file under the path is now another one (a
   * prune rewrote it meanwhile), they are ignored and the whole file is read.
   */
  ino?: bigint;
  meter?: ReadMeter;
}

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * Reads a file's lines from `start` on, in fixed-size chunks: memory stays constant whatever the
 * file's size. Lines are split on bytes, so a multi-byte character is never cut.
 */
export function readLines(path: string, range: LineRange = {}): AsyncGenerator<FileLine> {
  return scanLines(path, range, (piece, complete, _line, offset) => ({
    text: piece.toString("utf8"),
    complete,
    offset,
    length: piece.length,
  }));
}

/** One line's bytes exactly as stored, with its 1-based line number. */
export interface FileLineBytes {
  bytes: Buffer;
  complete: boolean;
  line: number;
}

/** Like {@link readLines}, but gives each line's bytes undecoded (what verification checks). */
export function readLineBytes(path: string, meter?: ReadMeter): AsyncGenerator<FileLineBytes> {
  return scanLines(path, { meter }, (piece, complete, line) => ({
    bytes: Buffer.from(piece),
    complete,
    line,
  }));
}

/**
 * Reads chunks of an open file: the first synchronously — a lookup or a page usually needs no
 * more, and a synchronous read from the page cache costs less than a round trip through libuv's
 * thread pool — the rest asynchronously, so a long scan leaves the event loop free between chunks.
 */
class ChunkReader {
  readonly fd: number;
  readonly #meter: ReadMeter | undefined;
  #first = true;

  constructor(path: string, meter: ReadMeter | undefined) {
    this.fd = openSync(path, "r");
    this.#meter = meter;
  }

  /** False when the file opened is not inode `ino`. */
  is(ino: bigint | undefined): boolean {
    return ino === undefined || fstatSync(this.fd, { bigint: true }).ino === ino;
  }

  async read(buf: Buffer, length: number, position: number): Promise<number> {
    if (this.#first) {
      this.#first = false;
      return readAtSync(this.fd, buf, 0, length, position, this.#meter);
    }
    const n = await new Promise<number>((resolve, reject) =>
      read(this.fd, buf, 0, length, position, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
    this.#meter?.count(n);
    return n;
  }

  close(): void {
    closeSync(this.fd);
  }
}

// `make` gets a view of the line that is only valid during the call.
async function* scanLines<T>(
  path: string,
  range: LineRange,
  make: (piece: Buffer, complete: boolean, line: number, offset: number) => T,
): AsyncGenerator<T> {
  const file = new ChunkReader(path, range.meter);
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const same = file.is(range.ino);
    const end = (same && range.end) || Number.POSITIVE_INFINITY;
    let carry: Buffer[] = [];
    let carryStart = same ? (range.start ?? 0) : 0;
    let position = carryStart;
    let line = 0;
    while (position < end) {
      const want = Math.min(CHUNK, end - position);
      const bytesRead = await file.read(buf, want, position);
      if (bytesRead === 0) break;
      const chunkStart = position;
      position += bytesRead;
      let start = 0;
      for (
        let i = buf.indexOf(NEWLINE, 0);
        i !== -1 && i < bytesRead;
        i = buf.indexOf(NEWLINE, i + 1)
      ) {
        const piece = buf.subarray(start, i);
        const whole = carry.length > 0 ? Buffer.concat([...carry, piece]) : piece;
        const offset = carry.length > 0 ? carryStart : chunkStart + start;
        carry = [];
        start = i + 1;
        line++;
        if (whole.length > 0) yield make(whole, true, line, offset);
      }
      if (start < bytesRead) {
        if (carry.length === 0) carryStart = chunkStart + start;
        carry.push(Buffer.from(buf.subarray(start, bytesRead)));
      }
    }
    if (carry.length > 0) yield make(Buffer.concat(carry), false, line + 1, carryStart);
  } finally {
    file.close();
  }
}

/**
 * Reads a file's lines from `end` (default: its size) backwards, in fixed-size chunks. With
 * `end` at a line start, reading begins with the line before it.
 */
export async function* readLinesBackward(
  path: string,
  range: { end?: number; ino?: bigint; meter?: ReadMeter } = {},
): AsyncGenerator<FileLine> {
  const file = new ChunkReader(path, range.meter);
  try {
    const size = fstatSync(file.fd).size;
    let position = file.is(range.ino) ? Math.min(size, range.end ?? size) : size;
    let carry: Buffer[] = [];
    let first = true;
    const buf = Buffer.allocUnsafe(CHUNK);
    while (position > 0) {
      const length = Math.min(CHUNK, position);
      position -= length;
      await file.read(buf, length, position);
      let end = length;
      for (
        let i = buf.lastIndexOf(NEWLINE, length - 1);
        i !== -1;
        i = i > 0 ? buf.lastIndexOf(NEWLINE, i - 1) : -1
      ) {
        const piece = buf.subarray(i + 1, end);
        const bytes = carry.length > 0 ? Buffer.concat([piece, ...carry]) : piece;
        carry = [];
        end = i;
        // The bytes after the file's last newline are a line cut short.
        if (bytes.length > 0) {
          yield {
            text: bytes.toString("utf8"),
            complete: !first,
            offset: position + i + 1,
            length: bytes.length,
          };
        }
        first = false;
      }
      if (end > 0) carry.unshift(Buffer.from(buf.subarray(0, end)));
    }
    if (carry.length > 0) {
      const bytes = Buffer.concat(carry);
      if (bytes.length > 0) {
        yield { text: bytes.toString("utf8"), complete: !first, offset: 0, length: bytes.length };
      }
    }
  } finally {
    file.close();
  }
}
