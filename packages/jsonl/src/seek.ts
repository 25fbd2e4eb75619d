import { constants } from "node:fs";
import type { AuditEvent } from "@audit/core";
import type { FileIndex } from "./day-index.js";
import { readLineAt } from "./line-at.js";
import { eventOf } from "./line-format.js";
import type { ReadMeter } from "./read-meter.js";
import { withFd } from "./sidecar-file.js";
import { StaleIndexError } from "./stale-index.js";

type Key = Pick<AuditEvent, "time" | "id">;

/*
 * A file is sorted by (time, id), so where a time or a cursor falls is found by binary search
 * over the index's sample offsets, reading the real line at each probe: the index only says where
 * lines start, the file says what they hold (a sample that is not a line start, or not an event,
 * is a stale index). Reading then starts at most one sample interval early; the caller's filter
 * skips those lines.
 */

/**
 * Where to start reading forwards so that no line for which `before` is false is missed:
 * `before(key)` must be true for a prefix of the file (lines entirely before the wanted range).
 */
export function seekForward(
  ix: FileIndex,
  before: (key: Key) => boolean,
  meter: ReadMeter,
): number {
  const first = firstWhere(ix, (k) => !before(k), meter);
  if (first.index === 0) return 0;
  return first.samples.at(first.index - 1);
}

/**
 * Where to start reading backwards (an end offset) so that no line for which `after` is false
 * is missed: `after(key)` must be true for a suffix of the file. `undefined`: from the end.
 */
export function seekBackward(
  ix: FileIndex,
  after: (key: Key) => boolean,
  meter: ReadMeter,
): number | undefined {
  const first = firstWhere(ix, after, meter);
  return first.index < first.samples.count ? first.samples.at(first.index) : undefined;
}

// The first sample whose line satisfies `pred` (a predicate true for a suffix of the samples).
function firstWhere(ix: FileIndex, pred: (key: Key) => boolean, meter: ReadMeter) {
  const samples = ix.samples();
  let lo = 0;
  let hi = samples.count;
  if (hi === 0) return { samples, index: 0 };
  try {
    withFd(ix.path, constants.O_RDONLY, (fd) => {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const offset = samples.at(mid);
        const bytes = readLineAt(fd, offset, ix.covered, meter);
        const e = bytes && eventOf(bytes.toString("utf8"));
        if (!e) throw new StaleIndexError(`${ix.path}: no event line at sample offset ${offset}`);
        if (pred(e)) hi = mid;
        else lo = mid + 1;
      }
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new StaleIndexError(`${ix.path} went away`);
    }
    throw err;
  }
  return { samples, index: lo };
}
