import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { AuditEvent } from "./event.js";
import { uuidv7 } from "./ids.js";
import { assertValidEvent } from "./validate.js";

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

const SPOOL_SUFFIX = ".jsonl";
const CLAIM_MARK = ".replaying-";

/**
 * True while a process with this pid exists (signal 0 probes without signalling; EPERM means it
 * exists under another user). Used to tell a lock or claim left by a dead process.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The local safety net for events the store could not take: append-only JSONL files in one
 * directory, written synchronously and fsynced, so that an event handed to the spool survives a
 * crash. Several processes may share a directory: each writes its own files, and a file is
 * claimed for replay by renaming it, which only one process can win.
 */
export class Spool {
  readonly dir: string;
  #fd: number | undefined;
  #file: string | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Appends events as one write followed by fsync. Throws if the disk refuses. */
  write(events: readonly AuditEvent[]): void {
    if (events.length === 0) return;
    if (this.#fd === undefined) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      // The name sorts by creation time, so replay goes oldest first.
      this.#file = join(this.dir, `spool-${uuidv7()}-${process.pid}${SPOOL_SUFFIX}`);
      this.#fd = openSync(this.#file, "a", 0o600);
    }
    let text = "";
    for (const e of events) text += JSON.stringify(e) + "\n";
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) off += writeSync(this.#fd, buf, off, buf.length - off);
    fsyncSync(this.#fd);
  }

  /** Stops appending to the current file so it can be claimed; the next write starts a new one. */
  rotate(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
      this.#file = undefined;
    }
  }

  /** True when the directory holds spool files waiting for replay (from any process). */
  hasPending(): boolean {
    return this.#pendingNames().length > 0;
  }

  #pendingNames(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => n.startsWith("spool-")).sort();
  }

  /**
   * Claims every file waiting for replay: closed files, and files left claimed by a process that
   * has died. The file this spool is writing is rotated first so it can be claimed too.
   */
  claim(): ClaimedSpoolFile[] {
    this.rotate();
    const claimed: ClaimedSpoolFile[] = [];
    for (const name of this.#pendingNames()) {
      let originalName = name;
      const mark = name.indexOf(CLAIM_MARK);
      if (mark >= 0) {
        const pid = Number(name.slice(mark + CLAIM_MARK.length).split("-")[0]);
        if (isProcessAlive(pid)) continue;
        originalName = name.slice(0, mark);
      } else if (!name.endsWith(SPOOL_SUFFIX)) continue;
      const target = join(
        this.dir,
        `${originalName}${CLAIM_MARK}${process.pid}-${uuidv7().slice(-12)}`,
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

  /** Reads a claimed file. Lines that do not parse as events are counted, never thrown. */
  read(file: ClaimedSpoolFile): SpoolReadResult {
    const text = readFileSync(file.path, "utf8");
    return parseSpoolText(text);
  }

  /** Deletes a claimed file whose events are safely in the store. */
  done(file: ClaimedSpoolFile): void {
    try {
      unlinkSync(file.path);
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

/** Parses spool (or any audit JSONL) text, skipping and counting lines that are not events. */
export function parseSpoolText(text: string): SpoolReadResult {
  const events: AuditEvent[] = [];
  let badLines = 0;
  for (const line of text.split("\n")) {
    if (line.length === 0) continue;
    try {
      const e = JSON.parse(line) as unknown;
      assertValidEvent(e);
      events.push(e);
    } catch {
      badLines++;
    }
  }
  return { events, badLines };
}
