import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { processIdentity, sameProcessAlive } from "@audit/core/store-kit";

/**
 * A lock shared by every process writing one directory. Contract:
 * - Creation is atomic and never leaves an empty lock: the holder's identity is written to a
 *   private temporary file first, which is then hard-linked to `.lock` (link fails if it exists).
 * - A lock whose holder is dead is taken over within one retry, even when its pid now belongs to
 *   an unrelated live process (a container restarted as PID 1 again): the identity recorded is the
 *   pid with the process's start time and boot id, which PID reuse cannot fake.
 * - Two live writers never both hold it: a takeover renames the stale lock aside and checks that
 *   what it moved is the stale lock it judged (not a fresh one someone else just made), putting a
 *   fresh one back otherwise, and every holder checks the lock still names it before it writes.
 * Held only for the duration of one append or one prune step, so waits are short.
 */
export class DirectoryLock {
  readonly path: string;
  readonly #dir: string;
  #token: string | undefined;

  constructor(dir: string) {
    this.#dir = dir;
    this.path = join(dir, ".lock");
  }

  /** Waits for the lock, up to `timeoutMs`. */
  async acquire(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const token = `${processIdentity()}\n${randomBytes(8).toString("hex")}\n`;
    const tmp = join(this.#dir, `.lock.${randomBytes(6).toString("hex")}.tmp`);
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(token);
      await fh.sync();
    } finally {
      await fh.close();
    }
    let wait = 1;
    try {
      for (;;) {
        try {
          await link(tmp, this.path);
          this.#token = token;
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
        const held = await readFile(this.path, "utf8").catch(() => undefined);
        if (held !== undefined && (await this.#abandoned(held))) {
          await this.#takeOver(held);
          continue;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${this.path} (held by ${(held ?? "?").split("\n")[0]})`,
          );
        }
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(20, wait * 2);
      }
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async #abandoned(held: string): Promise<boolean> {
    const holder = held.split("\n")[0] ?? "";
    if (holder.length > 0 && held.endsWith("\n")) return !sameProcessAlive(holder);
    // Not one of ours (an older format, or damage): abandoned once it has not changed for seconds.
    const age =
      Date.now() - ((await stat(this.path).catch(() => undefined))?.mtimeMs ?? Date.now());
    return age > 5000;
  }

  // Moves the stale lock aside; if what was moved is not the lock judged stale, puts it back.
  async #takeOver(stale: string): Promise<void> {
    const aside = join(this.#dir, `.lock.${randomBytes(6).toString("hex")}.stale`);
    try {
      await rename(this.path, aside);
    } catch {
      return;
    }
    const moved = await readFile(aside, "utf8").catch(() => undefined);
    if (moved !== stale) await link(aside, this.path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
  }

  /** True while the lock file still names this holder (checked before every write). */
  async stillHeld(): Promise<boolean> {
    if (this.#token === undefined) return false;
    return (await readFile(this.path, "utf8").catch(() => undefined)) === this.#token;
  }

  async release(): Promise<void> {
    const token = this.#token;
    if (token === undefined) return;
    this.#token = undefined;
    // Only remove the lock if it is still ours.
    if ((await readFile(this.path, "utf8").catch(() => undefined)) === token) {
      await unlink(this.path).catch(() => undefined);
    }
  }
}
