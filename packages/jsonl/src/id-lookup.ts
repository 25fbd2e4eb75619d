import { constants } from "node:fs";
import type { AuditEvent } from "@audit/core";
import type { FileIndex } from "./day-index.js";
import { fingerprint } from "./hashing.js";
import { readLineAt } from "./line-at.js";
import { eventOf } from "./line-format.js";
import type { ReadMeter } from "./read-meter.js";
import { withFd } from "./sidecar-file.js";
import { StaleIndexError } from "./stale-index.js";

/*
 * Ids are found by fingerprint, and every candidate is confirmed by reading the line at its
 * offset: the line must start there, be an event, and carry an id with that fingerprint — or
 * the index is stale (StaleIndexError) and nothing it said is used. So an index can make a lookup
 * slower, never wrong: an id is "stored" only when its line was read, and a wrong entry is
 * detected rather than believed.
 */

/** An event and where its line is in its file (from `offset` to `end`, after its newline). */
export interface Located {
  event: AuditEvent;
  offset: number;
  end: number;
}

/** The event with this id in the indexed file, and where its line is; or `undefined`. */
export function findInFile(ix: FileIndex, id: string, meter: ReadMeter): Located | undefined {
  const fp = fingerprint(id);
  const offsets = ix.lookup([fp]).get(fp);
  if (!offsets) return undefined;
  return withFile(ix, (fd) => {
    for (const offset of offsets.sort((a, b) => a - b)) {
      const line = confirmed(fd, ix, offset, fp, meter);
      if (line.event.id === id) return line;
    }
    return undefined;
  });
}

/** Which of `ids` the indexed file already holds. */
export function storedIds(ix: FileIndex, ids: readonly string[], meter: ReadMeter): Set<string> {
  const fps = ids.map(fingerprint);
  const candidates = ix.lookup(fps);
  const found = new Set<string>();
  if (candidates.size === 0) return found;
  withFile(ix, (fd) => {
    const read = new Map<number, string>();
    for (let i = 0; i < ids.length; i++) {
      const offsets = candidates.get(fps[i]!);
      if (!offsets) continue;
      for (const offset of offsets) {
        let id = read.get(offset);
        if (id === undefined) {
          id = confirmed(fd, ix, offset, fps[i]!, meter).event.id;
          read.set(offset, id);
        }
        if (id === ids[i]) {
          found.add(id);
          break;
        }
      }
    }
  });
  return found;
}

function withFile<T>(ix: FileIndex, fn: (fd: number) => T): T {
  try {
    return withFd(ix.path, constants.O_RDONLY, fn);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new StaleIndexError(`${ix.path} went away`);
    }
    throw err;
  }
}

function confirmed(
  fd: number,
  ix: FileIndex,
  offset: number,
  fp: number,
  meter: ReadMeter,
): Located {
  const bytes = readLineAt(fd, offset, ix.covered, meter);
  const e = bytes && eventOf(bytes.toString("utf8"));
  if (!e || fingerprint(e.id) !== fp) {
    throw new StaleIndexError(
      `${ix.path}: the index entry at byte ${offset} does not match the file`,
    );
  }
  return { event: e, offset, end: offset + bytes.length + 1 };
}
