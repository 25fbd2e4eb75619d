import { readFileSync } from "node:fs";

/**
 * Who holds a lock or a spool claim, in a form that PID reuse cannot fake: the pid, the process's
 * start time (clock ticks since boot, from /proc) and the boot id. In a container a restarted
 * application often gets the same pid again (PID 1); its start time differs, so the dead holder's
 * lock is still recognised as abandoned. Where /proc is missing, only the pid is known.
 */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot, or undefined where it cannot be read. */
  start: string | undefined;
  /** The first 8 hex digits of the boot id, or undefined. */
  boot: string | undefined;
}

let own: string | undefined;
let bootId: string | undefined | null = null;

function readBoot(): string | undefined {
  if (bootId === null) {
    try {
      bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8")
        .replace(/-/g, "")
        .slice(0, 8);
    } catch {
      bootId = undefined;
    }
  }
  return bootId;
}

/** The start time of a process in clock ticks since boot, or undefined when unknown or gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

/** This process's identity as a file-name-safe string: `pid.start.boot`, or `pid` alone. */
export function processIdentity(): string {
  if (own === undefined) {
    const start = processStartTime(process.pid);
    const boot = readBoot();
    own = start !== undefined && boot ? `${process.pid}.${start}.${boot}` : String(process.pid);
  }
  return own;
}

/** Parses an identity written by {@link processIdentity} (or a bare pid from older files). */
export function parseProcessIdentity(text: string): ProcessIdentity | undefined {
  const m = /^(\d+)(?:\.(\d+)\.([0-9a-f]+))?/.exec(text.trim());
  if (!m) return undefined;
  return { pid: Number(m[1]), start: m[2], boot: m[3] };
}

/**
 * True while a process with this pid exists (signal 0 probes without signalling; EPERM means it
 * exists under another user).
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
 * True when the process an identity names is still running: same pid, and — where the identity
 * carries them — the same start time and boot. A pid now used by another process answers false.
 */
export function sameProcessAlive(identity: string): boolean {
  const id = parseProcessIdentity(identity);
  if (!id || id.pid <= 0) return false;
  if (id.start === undefined || id.boot === undefined) return isProcessAlive(id.pid);
  const boot = readBoot();
  if (boot !== undefined && boot !== id.boot) return false;
  const start = processStartTime(id.pid);
  if (start === undefined) {
    // No /proc entry: gone, unless /proc is not readable here at all.
    return processStartTime(process.pid) === undefined ? isProcessAlive(id.pid) : false;
  }
  return start === id.start;
}
