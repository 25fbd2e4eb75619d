import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import type { FileIndex, IndexContext, SidecarState } from "./day-index.js";
import { readAt } from "./read-meter.js";
import {
  appendToSidecar,
  type DataFileStat,
  openSidecar,
  sidecarName,
  withFd,
  writeSidecar,
} from "./sidecar-file.js";
import { decodeLog, encodeBase, encodeChunk } from "./sidecar-format.js";

// The log is folded into a new base before it would pass this share of the base (or this floor):
// the whole sidecar is rewritten about every 1/64 of growth, so rewriting costs a constant factor
// of the appends, while a cold reader reads a log of at most 1/64 of the base (190 KB for a
// million events) besides the one bucket it needs.
const LOG_SHARE = 64;
const LOG_FLOOR = 64 * 1024;

/**
 * Brings the sidecar of an index's file up to what the index covers. Called by a writer under the
 * lock, after its append: normally one chunk appended to the log (the entries since the sidecar's
 * end); the whole sidecar rewritten when there is none, it is torn, damaged or another's, or its
 * log has grown past its share. `data` is the file as the append left it.
 */
export async function persistIndex(
  ctx: IndexContext,
  ix: FileIndex,
  data: DataFileStat,
): Promise<void> {
  const disk = ix.onDisk && (await syncedState(ctx, ix, ix.onDisk, data));
  if (disk && disk.covered >= ix.baseCovered && disk.covered <= ix.covered) {
    if (disk.covered === ix.covered) {
      ix.onDisk = disk;
      return;
    }
    const { fps, offsets } = ix.entriesFrom(disk.covered);
    const chunk = encodeChunk({
      from: disk.covered,
      to: ix.covered,
      dataMtimeNs: data.mtimeNs,
      tailCheck: ix.coveredCheck,
      fps,
      offsets,
    });
    const roomy = disk.logBytes + chunk.length <= Math.max(LOG_FLOOR, disk.baseBytes / LOG_SHARE);
    const written = roomy && (await appendToSidecar(ctx.dir, ix.name, disk, chunk));
    if (written) {
      ix.onDisk = {
        ...written,
        covered: ix.covered,
        baseBytes: disk.baseBytes,
        logBytes: disk.logBytes + chunk.length,
      };
      return;
    }
  }
  const bytes = encodeBase(await ix.baseContent(data));
  const written = await writeSidecar(ctx.dir, ix.name, bytes);
  ix.onDisk = { ...written, covered: ix.covered, baseBytes: bytes.length, logBytes: 0 };
}

// The sidecar as it is now on disk, read from what this process last saw: chunks other writers
// appended since are read (only those bytes); a sidecar another writer rewrote is opened and
// checked again. `undefined`: none usable, write it whole.
async function syncedState(
  ctx: IndexContext,
  ix: FileIndex,
  known: SidecarState,
  data: DataFileStat,
): Promise<SidecarState | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(join(ctx.dir, sidecarName(ix.name)), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat({ bigint: true });
    const size = Number(st.size);
    if (!st.isFile()) return undefined;
    if (st.ino === known.ino) {
      if (size === known.size) return known;
      if (size < known.size) return undefined;
      const bytes = Buffer.alloc(size - known.size);
      await readAt(fh, bytes, 0, bytes.length, known.size, ctx.meter);
      const log = decodeLog(bytes, known.covered, data.size);
      if (log.used !== bytes.length) return undefined;
      return { ...known, size, covered: log.covered, logBytes: known.logBytes + log.used };
    }
  } finally {
    await fh.close();
  }
  const side = withFd(ix.path, constants.O_RDONLY, (fd) =>
    openSidecar(ctx.dir, ix.name, data, fd, ctx.meter, ctx.warn),
  );
  if (!side || side.logTorn) return undefined;
  return {
    ino: side.ino,
    size: side.size,
    covered: side.log.covered,
    baseBytes: side.layout.end,
    logBytes: side.log.used,
  };
}
