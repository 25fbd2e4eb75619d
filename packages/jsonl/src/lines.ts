import { open } from "node:fs/promises";

/** One line of a file, and whether it ended with a newline (the last line of a torn write does not). */
export interface FileLine {
  text: string;
  complete: boolean;
}

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * Reads a file's lines from the start, in fixed-size chunks: memory stays constant whatever the
 * file's size. Lines are split on bytes, so a multi-byte character is never cut.
 */
export function readLines(path: string): AsyncGenerator<FileLine> {
  return scanLines(path, (piece, complete) => ({ text: piece.toString("utf8"), complete }));
}

/** One line's bytes exactly as stored, with its 1-based line number. */
export interface FileLineBytes {
  bytes: Buffer;
  complete: boolean;
  line: number;
}

/** Like {@link readLines}, but gives each line's bytes undecoded (what verification checks). */
export function readLineBytes(path: string): AsyncGenerator<FileLineBytes> {
  return scanLines(path, (piece, complete, line) => ({
    bytes: Buffer.from(piece),
    complete,
    line,
  }));
}

// `make` gets a view of the line that is only valid during the call.
async function* scanLines<T>(
  path: string,
  make: (piece: Buffer, complete: boolean, line: number) => T,
): AsyncGenerator<T> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer[] = [];
    let position = 0;
    let line = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      let start = 0;
      for (
        let i = buf.indexOf(NEWLINE, 0);
        i !== -1 && i < bytesRead;
        i = buf.indexOf(NEWLINE, i + 1)
      ) {
        const piece = buf.subarray(start, i);
        const whole = carry.length > 0 ? Buffer.concat([...carry, piece]) : piece;
        carry = [];
        start = i + 1;
        line++;
        if (whole.length > 0) yield make(whole, true, line);
      }
      if (start < bytesRead) carry.push(Buffer.from(buf.subarray(start, bytesRead)));
    }
    if (carry.length > 0) yield make(Buffer.concat(carry), false, line + 1);
  } finally {
    await fh.close();
  }
}

/** Reads a file's lines from the end backwards, in fixed-size chunks. */
export async function* readLinesBackward(path: string): AsyncGenerator<FileLine> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    let position = size;
    let carry: Buffer[] = [];
    let first = true;
    const buf = Buffer.allocUnsafe(CHUNK);
    while (position > 0) {
      const length = Math.min(CHUNK, position);
      position -= length;
      await fh.read(buf, 0, length, position);
      let end = length;
      for (
        let i = buf.lastIndexOf(NEWLINE, length - 1);
        i !== -1;
        i = i > 0 ? buf.lastIndexOf(NEWLINE, i - 1) : -1
      ) {
        const piece = buf.subarray(i + 1, end);
        const text =
          carry.length > 0
            ? Buffer.concat([piece, ...carry]).toString("utf8")
            : piece.toString("utf8");
        carry = [];
        end = i;
        // The bytes after the file's last newline are a line cut short.
        if (text.length > 0) yield { text, complete: !first };
        first = false;
      }
      if (end > 0) carry.unshift(Buffer.from(buf.subarray(0, end)));
    }
    if (carry.length > 0) {
      const text = Buffer.concat(carry).toString("utf8");
      if (text.length > 0) yield { text, complete: !first };
    }
  } finally {
    await fh.close();
  }
}
