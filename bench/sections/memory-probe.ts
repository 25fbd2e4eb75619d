// One memory measurement in a process of its own, so that nothing an earlier measurement left
// behind (a stalled append holds its batch for ever) is freed or counted in this one.
//
//   node --expose-gc --import tsx bench/sections/memory-probe.ts <variant> <spool dir> <events>
//
// Prints one JSON line: heap growth after recording, heap still held after close(), time per
// record(), and where the events went.
import { Auditor, type AuditStore } from "@audit/core";
import { seeded, smallInput } from "../lib.js";

/** What one probe measured. */
export interface ProbeResult {
  growthMb: number;
  afterCloseMb: number | undefined;
  recordUs: number;
  maxQueued: number;
  spooled: number;
  dropped: number;
}

function stalledStore(): AuditStore {
  return {
    id: "stalled",
    capabilities: { persistent: false, multiProcess: false, subscribe: false },
    append: () => new Promise<void>(() => {}),
    query: async () => [],
    stream: async function* () {},
    get: async () => undefined,
    count: async () => 0,
    prune: async () => 0,
    close: async () => {},
  };
}

async function heapMb(): Promise<number> {
  globalThis.gc?.();
  await new Promise((r) => setImmediate(r));
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1e6;
}

async function probe(variant: string, spool: string, n: number): Promise<ProbeResult> {
  if (typeof globalThis.gc !== "function") throw new Error("run with --expose-gc");
  const rand = seeded(5);
  const inputs = Array.from({ length: 1000 }, (_, i) => smallInput(rand, i));
  const before = await heapMb();
  if (variant === "unbounded") {
    const buffer: object[] = [];
    const t = performance.now();
    for (let i = 0; i < n; i++)
      buffer.push({ ...inputs[i % 1000], id: String(i), time: new Date().toISOString() });
    const recordUs = ((performance.now() - t) * 1000) / n;
    const growthMb = (await heapMb()) - before;
    return {
      growthMb,
      afterCloseMb: undefined,
      recordUs,
      maxQueued: buffer.length,
      spooled: 0,
      dropped: 0,
    };
  }
  const audit = new Auditor({
    store: stalledStore(),
    spool,
    onError: () => {},
    closeTimeoutMs: 1000,
    ...(variant === "drop" ? { onOverflow: "drop" as const } : {}),
  });
  let maxQueued = 0;
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    audit.record(inputs[i % 1000] as (typeof inputs)[number]);
    if (i % 10_000 === 0) maxQueued = Math.max(maxQueued, audit.stats().queued);
  }
  const recordUs = ((performance.now() - t) * 1000) / n;
  const stats = audit.stats();
  maxQueued = Math.max(maxQueued, stats.queued);
  const growthMb = (await heapMb()) - before;
  // close() waits for the stalled append on unreferenced timers: a referenced one keeps the
  // process alive, and bounds the wait should close() not settle at all.
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    audit.close().then(
      () => true,
      () => true,
    ),
    new Promise<false>((r) => {
      timer = setTimeout(() => r(false), 60_000);
    }),
  ]);
  clearTimeout(timer);
  const afterCloseMb = closed ? (await heapMb()) - before : undefined;
  return {
    growthMb,
    afterCloseMb,
    recordUs,
    maxQueued,
    spooled: audit.stats().spooled,
    dropped: stats.dropped,
  };
}

const [variant = "defaults", spool = ".audit-spool", events = "100000"] = process.argv.slice(2);
const result = await probe(variant, spool, Number(events));
console.log(JSON.stringify(result));
process.exit(0);
