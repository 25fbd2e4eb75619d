import { open, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isProcessAlive } from "@audit/core";

/**
 * A lock shared by every process writing one directory: a `.lock` file created with O_EXCL that
 * holds the owner's pid. A lock left by a process that died is taken over. Held only for the
 * duration of one append, so waits are short.
 */
export class DirectoryLock {
  readonly path: string;
  #held = false;

  constructor(dir: string) {
    this.path = join(dir, ".lock");
  }

  /** Waits for the lock, up to `timeoutMs`. */
  async acquire(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let wait = 1;
    for (;;) {
      try {
        const fh = await open(this.path, "wx", 0o600);
        await fh.writeFile(String(process.pid));
        await fh.close();
        this.#held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const owner = Number((await readFile(this.path, "utf8").catch(() => "")).trim());
      // An empty file is a lock being created right now, unless it has been empty for seconds
      // (its creator died between creating and writing it); a dead owner's lock is broken.
      const age =
        Date.now() - ((await stat(this.path).catch(() => undefined))?.mtimeMs ?? Date.now());
      const abandoned = owner > 0 ? owner !== process.pid && !isProcessAlive(owner) : age > 5000;
      if (abandoned) {
        await unlink(this.path).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${this.path} (held by pid ${owner || "?"})`,
        );
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(20, wait * 2);
    }
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await unlink(this.path).catch(() => undefined);
  }
}
