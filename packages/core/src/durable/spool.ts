import {
  closeSync,
  constants,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { SpoolError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import { uuidv7 } from "../ids.js";
import { assertValidEvent } from "../validate.js";
import { isDiskFull } from "./failure.js";
import { processIdentity, sameProcessAlive } from "./process-identity.js";

/** What reading one spool file found. */
export interface SpoolReadResult {
  events: AuditEvent[];
  /** Lines that were not a valid event (a torn last line after a crash, or damage). */
  badLines: number;
}

/** A spool file claimed for replay. Delete it once its events are in the store, or release it. */
export interface ClaimedSpoolFile {
  path: string;
  /** The name it had before it was claimed; `release` restores it. */
  originalName: string;
}

/** Options of {@link Spool}. */
export interface SpoolOptions {
  /**
   * The most bytes of spool files the directory may hold. Past it, `write` refuses with a
   * {@link SpoolError} (the events are reported lost) rather than fill the disk.
   * @default 536870912 (512 MiB)
   */
  maxBytes?: number;
}

const SPOOL_SUFFIX = ".jsonl";
const CLAIM_MARK = ".replaying-";

/**
 * The local safety net for events the store could not take: append-only JSONL files in one
 * directory, written synchronously and fsynced, so that an event handed to the spool survives a
 * crash. Contract: `write` returns only once every line it wrote is whole and durable; when the
 * disk refuses part of a write, the file is cut back to its last whole line and `write` throws, so
 * a torn line never fuses with the next one and nothing is acknowledged that is not on disk.
 * Several processes may share a directory: each writes its own files, and a file is claimed for
 * replay by renaming it, which only one process can win. Events a store refuses for their content
 * go to quarantine files beside them, which are kept for inspection and never replayed.
 */
export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  #fd: number | undefined;
  #file: string | undefined;
  #offset = 0;
  #bytes: number | undefined;

  constructor(dir: string, options: SpoolOptions = {}) {
    this.dir = dir;
    this.maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
  }

  /**
   * Appends events as one write followed by fsync.
   * @throws {SpoolError} when the spool is over `maxBytes`, or the disk refuses (ENOSPC, EFBIG, EIO);
   *   then none of these events is in the spool.
   */
  write(events: readonly AuditEvent[]): void {
    if (events.length === 0) return;
    let text = "";
    for (const e of events) text += `${JSON.stringify(e)}\n`;
    const buf = Buffer.from(text);
    if (this.bytes() + buf.length > this.maxBytes) {
      throw new SpoolError(
        `the spool at ${this.dir} is full (${this.bytes()} of ${this.maxBytes} bytes); ${events.length} events could not be kept`,
      );
    }
    try {
      this.#open();
      writeWhole(this.#fd!, buf);
      fsyncSync(this.#fd!);
    } catch (err) {
      this.#cutBack();
      throw new SpoolError(
        `cannot write ${events.length} events to the spool at ${this.dir} (${(err as Error).message})${isDiskFull(err) ? ": the disk is full" : ""}`,
        { cause: err },
      );
    }
    this.#offset += buf.length;
    this.#bytes = this.bytes() + buf.length;
  }

  #open(): void {
    if (this.#fd !== undefined) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // The name sorts by creation time, so replay goes oldest first; the writer's identity in it
    // lets a later process tell a file whose writer has died.
    this.#file = join(this.dir, `spool-${uuidv7()}-${processIdentity()}${SPOOL_SUFFIX}`);
    this.#fd = openSync(
      this.#file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND,
      0o600,
    );
    this.#offset = 0;
  }

  // After a failed write: remove the partial line, or give the file up if even that fails (a new
  // file is started next time, and replay skips the torn last line of this one).
  #cutBack(): void {
    if (this.#fd === undefined) return;
    try {
      ftruncateSync(this.#fd, this.#offset);
      fsyncSync(this.#fd);
    } catch {
      this.rotate();
    }
  }

  /**
   * Keeps an event the store refused, with the reason, in a quarantine file that is never replayed.
   * @throws {SpoolError} when the disk refuses.
   */
  quarantine(event: AuditEvent, reason: string, storeId: string): void {
    const line = `${JSON.stringify({ quarantinedAt: new Date().toISOString(), storeId, reason, event })}\n`;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const fd = openSync(join(this.dir, "quarantine.jsonl"), "a", 0o600);
      try {
        writeWhole(fd, Buffer.from(line));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw new SpoolError(`cannot quarantine event ${event.id} in ${this.dir}`, { cause: err });
    }
  }

  /** Stops appending to the current file so it can be claimed; the next write starts a new one. */
  rotate(): void {
    if (this.#fd !== undefined) {
      try {
        closeSync(this.#fd);
      } catch {
        // Already unusable: the next write opens a new file.
      }
      this.#fd = undefined;
      this.#file = undefined;
      this.#offset = 0;
    }
  }

  /** Bytes of spool files in the directory, from any process (measured once, then tracked). */
  bytes(): number {
    if (this.#bytes === undefined) {
      let total = 0;
      for (const name of this.#names()) total += fileSize(join(this.dir, name));
      this.#bytes = total;
    }
    return this.#bytes;
  }

  /**
   * Reads the directory: spool files waiting for replay (from any process), their bytes and
   * events, and the events kept in quarantine. Reads every file: for diagnostics, not hot paths.
   */
  inspect(): { files: number; bytes: number; events: number; quarantined: number } {
    let bytes = 0;
    let events = 0;
    const names = this.#names();
    for (const name of names) {
      const path = join(this.dir, name);
      bytes += fileSize(path);
      try {
        events += parseSpoolText(readFileSync(path, "utf8")).events.length;
      } catch {
        // Unreadable: counted in bytes only.
      }
    }
    let quarantined = 0;
    try {
      quarantined = readFileSync(join(this.dir, "quarantine.jsonl"), "utf8")
        .split("\n")
        .filter((l) => l.length > 0).length;
    } catch {
      quarantined = 0;
    }
    return { files: names.length, bytes, events, quarantined };
  }

  /** True when the directory holds spool files waiting for replay (from any process). */
  hasPending(): boolean {
    return this.#names().length > 0;
  }

  // Regular files named like spool files; anything else (a stray directory, a link) is ignored.
  #names(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => n.startsWith("spool-") && isRegularFile(join(this.dir, n))).sort();
  }

  /**
   * Claims every file waiting for replay: closed files, and files left claimed by a process that
   * has died. The file this spool is writing is rotated first so it can be claimed too.
   */
  claim(): ClaimedSpoolFile[] {
    this.rotate();
    this.#bytes = undefined;
    const claimed: ClaimedSpoolFile[] = [];
    for (const name of this.#names()) {
      let originalName = name;
      const mark = name.indexOf(CLAIM_MARK);
      if (mark >= 0) {
        const owner = name.slice(mark + CLAIM_MARK.length).split("~")[0] ?? "";
        if (sameProcessAlive(owner)) continue;
        originalName = name.slice(0, mark);
      } else if (!name.endsWith(SPOOL_SUFFIX)) continue;
      const target = join(
        this.dir,
        `${originalName}${CLAIM_MARK}${processIdentity()}~${uuidv7().slice(-12)}`,
      );
      try {
        renameSync(join(this.dir, name), target);
        claimed.push({ path: target, originalName });
      } catch {
        // Another process claimed it first.
      }
    }
    return claimed;
  }

  /**
   * Reads a claimed file a bounded piece at a time: batches of at most `maxEvents` events, each
   * parsed from at most about 1 MiB, so a replay that finds the store still down stops after its
   * first batch instead of parsing a file of millions of events on the event loop (where no
   * timer, close bound included, could fire). Lines that do not parse as events are counted.
   * Return the iterator (or finish it) to close the file.
   */
  *readBatches(file: ClaimedSpoolFile, maxEvents: number): Generator<SpoolReadResult> {
    let fd: number;
    try {
      fd = openSync(file.path, "r");
    } catch (err) {
      throw new SpoolError(`cannot read spool file ${file.originalName}`, { cause: err });
    }
    try {
      const chunk = Buffer.allocUnsafe(READ_CHUNK);
      let carry: Buffer | undefined;
      let position = 0;
      let batch: SpoolReadResult = { events: [], badLines: 0 };
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, chunk, 0, READ_CHUNK, position);
        } catch (err) {
          throw new SpoolError(`cannot read spool file ${file.originalName}`, { cause: err });
        }
        position += n;
        const data: Buffer = carry
          ? Buffer.concat([carry, chunk.subarray(0, n)])
          : chunk.subarray(0, n);
        const end = n === 0 ? data.length : data.lastIndexOf(0x0a) + 1;
        // Whole lines only; the rest waits for the next piece (or is the torn last line).
        const lines = data.subarray(0, end).toString("utf8").split("\n");
        carry = end < data.length ? Buffer.from(data.subarray(end)) : undefined;
        for (const line of lines) {
          if (line.length === 0) continue;
          parseLine(line, batch);
          if (batch.events.length >= maxEvents) {
            yield batch;
            batch = { events: [], badLines: 0 };
          }
        }
        if (n === 0) break;
      }
      if (batch.events.length > 0 || batch.badLines > 0) yield batch;
    } finally {
      closeSync(fd);
    }
  }

  /** Deletes a claimed file whose events are safely in the store. */
  done(file: ClaimedSpoolFile): void {
    const size = fileSize(file.path);
    try {
      unlinkSync(file.path);
      if (this.#bytes !== undefined) this.#bytes = Math.max(0, this.#bytes - size);
    } catch {
      // Already gone: nothing left to replay.
    }
  }

  /** Gives a claimed file back, for a later replay. */
  release(file: ClaimedSpoolFile): void {
    try {
      renameSync(file.path, join(this.dir, file.originalName));
    } catch {
      // Left claimed: a later claim recovers it once this process has exited.
    }
  }

  /** Closes the current file. */
  close(): void {
    this.rotate();
  }
}

function writeWhole(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Parses spool (or any audit JSONL) text, skipping and counting lines that are not events. */
export function parseSpoolText(text: string): SpoolReadResult {
  const result: SpoolReadResult = { events: [], badLines: 0 };
  for (const line of text.split("\n")) if (line.length > 0) parseLine(line, result);
  return result;
}

function parseLine(line: string, into: SpoolReadResult): void {
  try {
    const e = JSON.parse(line) as unknown;
    assertValidEvent(e);
    into.events.push(e);
  } catch {
    into.badLines++;
  }
}

const READ_CHUNK = 1 << 20;
