import { type ReadMeter, readAtSync } from "./read-meter.js";

const FIRST_READ = 1024;
const NEWLINE = 0x0a;

/**
 * The complete line that starts at byte `offset` of open file `fd`, without its newline — or
 * `undefined` when no complete line starts there before `limit` (the byte before it is not a
 * newline, or the line is not ended by `limit`). Reads about one line: this is how an index entry
 * is checked against the file it describes.
 */
export function readLineAt(
  fd: number,
  offset: number,
  limit: number,
  meter: ReadMeter | undefined,
): Buffer | undefined {
  if (offset < 0 || offset >= limit) return undefined;
  // One byte before the line, to see that a line really starts at `offset`.
  const from = offset === 0 ? 0 : offset - 1;
  const skip = offset - from;
  let size = Math.min(FIRST_READ, limit - from);
  let buf = Buffer.allocUnsafe(size);
  let got = readAtSync(fd, buf, 0, size, from, meter);
  if (skip === 1 && (got < 1 || buf[0] !== NEWLINE)) return undefined;
  let searched = skip;
  for (;;) {
    const nl = buf.indexOf(NEWLINE, searched);
    if (nl !== -1 && nl < got) return buf.subarray(skip, nl);
    if (got < size || from + got >= limit) return undefined;
    // A long line: read on, doubling the buffer.
    searched = got;
    size = Math.min(size * 2, limit - from);
    const bigger = Buffer.allocUnsafe(size);
    buf.copy(bigger, 0, 0, got);
    buf = bigger;
    got += readAtSync(fd, buf, got, size - got, from + got, meter);
  }
}
