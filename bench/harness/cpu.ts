// CPU time per thread, so a cost moved off `record()` onto a flush, a worker or libuv's pool is
// still counted. Linux only: /proc/self/task/<tid>/schedstat gives each thread's time on a CPU in
// nanoseconds (the main thread's tid is the process id); elsewhere only the process total exists.
import { readdirSync, readFileSync } from "node:fs";

const TASKS = "/proc/self/task";
const TICK_NS = 1e7; // /proc/<pid>/stat counts in clock ticks of 10 ms (USER_HZ = 100)

function threadNs(tid: string): number | undefined {
  try {
    const first = readFileSync(`${TASKS}/${tid}/schedstat`, "utf8").split(" ")[0];
    const ns = Number(first);
    if (Number.isFinite(ns)) return ns;
  } catch {
    // fall through to the coarser counter
  }
  try {
    // Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
    const fields = readFileSync(`${TASKS}/${tid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * TICK_NS : undefined;
  } catch {
    return undefined; // the thread ended between listing and reading
  }
}

/** CPU nanoseconds of every live thread of this process, by thread id; undefined off Linux. */
export function threadTimes(): Map<string, number> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(TASKS);
  } catch {
    return undefined;
  }
  const times = new Map<string, number>();
  for (const tid of tids) {
    const ns = threadNs(tid);
    if (ns !== undefined) times.set(tid, ns);
  }
  return times;
}

/** Where the CPU time of a piece of work went, in milliseconds. */
export interface CpuSplit {
  wallMs: number;
  /** The main thread (the agent's event loop). Undefined where threads cannot be told apart. */
  mainMs: number | undefined;
  /** Every other thread: worker threads, libuv's pool, V8's helper threads (GC, compiler). */
  otherMs: number | undefined;
  /** The whole process (getrusage), threads that ended during the work included. */
  totalMs: number;
}

/**
 * Runs `fn` and measures its wall time and CPU time, split between the main thread and the rest.
 * Threads started during `fn` count from zero; a thread that ends during `fn` is missing from the
 * split (but not from `totalMs`), so end threads after measuring.
 */
export async function measureCpu(fn: () => Promise<void>): Promise<CpuSplit> {
  const main = String(process.pid);
  const before = threadTimes();
  const usage = process.cpuUsage();
  const t = performance.now();
  await fn();
  const wallMs = performance.now() - t;
  const used = process.cpuUsage(usage);
  const after = threadTimes();
  const totalMs = (used.user + used.system) / 1000;
  if (!before || !after?.has(main)) {
    return { wallMs, mainMs: undefined, otherMs: undefined, totalMs };
  }
  let mainNs = 0;
  let otherNs = 0;
  for (const [tid, ns] of after) {
    const d = ns - (before.get(tid) ?? 0);
    if (tid === main) mainNs += d;
    else otherNs += d;
  }
  return { wallMs, mainMs: mainNs / 1e6, otherMs: otherNs / 1e6, totalMs };
}
