import { type FileHandle, open } from "node:fs/promises";
import type { AuditEvent } from "@audit/core";
import type { FileIndex } from "./day-index.js";
import { fingerprint } from "./hashing.js";
import { readLineAt } from "./line-at.js";
import { eventOf } from "./line-format.js";
import type { ReadMeter } from "./read-meter.js";
import { StaleIndexError } from "./stale-index.js";

/*
 * Ids are found by fingerprint, and every candidate is confirmed by reading the line at its
 * offset: the line must start there, be an event, and carry an id with that fingerprint — or
 * the index is stale (StaleIndexError) and nothing it said is used. So an index can make a lookup
 * slower, never wrong: an id is "stored" only when its line was read, and a wrong entry is
 * detected rather than believed.
 */

/** The event with this id in the indexed file, or `undefined`. */
export async function findInFile(
  ix: FileIndex,
  id: string,
  meter: ReadMeter,
): Promise<AuditEvent | undefined> {
  const fp = fingerprint(id);
  const offsets = (await ix.lookup([fp])).get(fp);
  if (!offsets) return undefined;
  return withFile(ix, async (fh) => {
    for (const offset of offsets.sort((a, b) => a - b)) {
      const e = await confirmed(fh, ix, offset, fp, meter);
      if (e.id === id) return e;
    }
    return undefined;
  });
}

/** Which of `ids` the indexed file already holds. */
export async function storedIds(
  ix: FileIndex,
  ids: readonly string[],
  meter: ReadMeter,
): Promise<Set<string>> {
  const fps = ids.map(fingerprint);
  const candidates = await ix.lookup(fps);
  const found = new Set<string>();
  if (candidates.size === 0) return found;
  await withFile(ix, async (fh) => {
    const read = new Map<number, string>();
    for (let i = 0; i < ids.length; i++) {
      const offsets = candidates.get(fps[i]!);
      if (!offsets) continue;
      for (const offset of offsets) {
        let id = read.get(offset);
        if (id === undefined) {
          id = (await confirmed(fh, ix, offset, fps[i]!, meter)).id;
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

async function withFile<T>(ix: FileIndex, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
  let fh: FileHandle;
  try {
    fh = await open(ix.path, "r");
  } catch {
    throw new StaleIndexError(`${ix.path} went away`);
  }
  try {
    return await fn(fh);
  } finally {
    await fh.close();
  }
}

async function confirmed(
  fh: FileHandle,
  ix: FileIndex,
  offset: number,
  fp: number,
  meter: ReadMeter,
): Promise<AuditEvent> {
  const bytes = await readLineAt(fh, offset, ix.covered, meter);
  const e = bytes && eventOf(bytes.toString("utf8"));
  if (!e || fingerprint(e.id) !== fp) {
    throw new StaleIndexError(
      `${ix.path}: the index entry at byte ${offset} does not match the file`,
    );
  }
  return e;
}
