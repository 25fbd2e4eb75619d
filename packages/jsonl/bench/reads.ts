// Reads at scale on one day file: get, a page after a cursor, one live-tail poll, the writer's heap
// and its first append after a restart. Run: npx tsx packages/jsonl/bench/reads.ts
// (EVENTS, default 1,000,000 events in one day file; REPS, default 5 repetitions of each figure).
// The last line of stdout is one JSON object with every measurement (arrays: one value per rep).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditEvent } from "@audit/core";
import { JsonlStore } from "../src/index.js";
import { eventOf } from "../src/line-format.js";
import { ReadMeter } from "../src/read-meter.js";
import { FileFollower } from "../src/tail.js";

const DAY = Date.parse("2026-03-01T00:00:00.000Z");
// The built events fill the first 80% of the day; later appends take times after them.
const SPAN = 0.8 * 86_400_000;

/** A UUIDv7 for `ms` (its first 48 bits), random otherwise. */
function idAt(ms: number): string {
  const t = ms.toString(16).padStart(12, "0");
  const r = randomBytes(10).toString("hex");
  const variant = ((Number.parseInt(r[3]!, 16) & 0x3) | 0x8).toString(16);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(0, 3)}-${variant}${r.slice(4, 7)}-${r.slice(7, 19)}`;
}

function eventAt(ms: number, i: number): AuditEvent {
  return {
    id: idAt(ms),
    type: "tool.start",
    time: new Date(ms).toISOString(),
    actor: "bench",
    data: { tool: "search", callId: `c${i}` },
  };
}

/** `n` events at increasing times after `startMs`, a millisecond apart. */
function laterEvents(n: number, startMs: number): AuditEvent[] {
  return Array.from({ length: n }, (_, k) => eventAt(startMs + k, k));
}

/** Builds a day file of `events` events through the store's append, 10,000 at a time. */
async function build(dir: string, events: number): Promise<string[]> {
  const store = new JsonlStore({ dir, fsync: "never" });
  const step = SPAN / events;
  const picked: string[] = [];
  const every = Math.max(1, Math.floor(events / 64));
  for (let i = 0; i < events; i += 10_000) {
    const batch: AuditEvent[] = [];
    for (let k = i; k < Math.min(events, i + 10_000); k++) {
      const e = eventAt(DAY + Math.floor(k * step), k);
      // Ids to look up later, away from the very end so a page after them is full.
      if (k % every === 0 && k < events - 200) picked.push(e.id);
      batch.push(e);
    }
    await store.append(batch);
  }
  await store.close();
  return picked;
}

async function timedMs<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, value];
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

// One poll of a follower that has seen the file, after 100 events were appended to it.
async function onePoll(dir: string, at: number): Promise<{ ms: number; bytes: number }> {
  const meter = new ReadMeter();
  let delivered = 0;
  const pattern = /^audit-.*\.jsonl$/;
  const follower = new FileFollower({
    dir,
    isDataFile: (n) => pattern.test(n),
    list: async () => readdirSync(dir).filter((n) => pattern.test(n)),
    parse: (line) => (line.complete ? eventOf(line.text) : undefined),
    seekAfter: async () => 0,
    deliver: () => {
      delivered++;
    },
    onError: (err) => {
      throw err;
    },
    meter,
    intervalMs: 60_000,
  });
  follower.start();
  const writer = new JsonlStore({ dir, fsync: "never" });
  await writer.append(laterEvents(100, at));
  await writer.close();
  const [ms] = await timedMs(() => follower.poll());
  follower.stop();
  if (delivered !== 100) throw new Error(`the poll delivered ${delivered} events, not 100`);
  return { ms, bytes: meter.bytes };
}

// Runs in a child process started with --expose-gc: the heap of a writer on the big file.
async function writerHeap(dir: string, at: number): Promise<void> {
  const store = new JsonlStore({ dir });
  for (let k = 0; k < 10; k++) await store.append(laterEvents(100, at + k * 100));
  (globalThis as { gc?: () => void }).gc?.();
  const mb = process.memoryUsage().heapUsed / 1024 / 1024;
  await store.close();
  process.stdout.write(`${mb}\n`);
}

function heapInChild(dir: string, at: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        "--expose-gc",
        fileURLToPath(import.meta.url),
        "--writer-heap",
        dir,
        String(at),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`heap child exited ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const events = Number(process.env.EVENTS ?? 1_000_000);
  const reps = Number(process.env.REPS ?? 5);
  const root = mkdtempSync(join(tmpdir(), "audit-jsonl-bench-"));
  const big = join(root, "big");
  const small = join(root, "small");
  try {
    const [buildMs, picked] = await timedMs(() => build(big, events));
    await build(small, Math.max(1, Math.floor(events / 10)));
    process.stderr.write(`built ${events} events in ${round(buildMs)} ms\n`);
    const pick = (rep: number, salt: number) => picked[(rep * 7 + salt * 13) % picked.length]!;
    // Appends made by the measurements go after everything built, in order.
    let later = DAY + SPAN + 1000;
    const take = (n: number) => {
      const at = later;
      later += n + 10;
      return at;
    };

    const getMs: number[] = [];
    const pageAfterMs: number[] = [];
    const pollMsLarge: number[] = [];
    const pollMsSmall: number[] = [];
    const writerHeapMb: number[] = [];
    const firstAppendAfterRestartMs: number[] = [];
    let pollBytesLarge = 0;
    let pollBytesSmall = 0;
    for (let rep = 0; rep < reps; rep++) {
      const id = pick(rep, 1);
      const reader = new JsonlStore({ dir: big, readOnly: true });
      const [g, found] = await timedMs(() => reader.get(id));
      if (found?.id !== id) throw new Error(`get(${id}) did not find it`);
      getMs.push(round(g));
      await reader.close();

      const cursor = pick(rep, 2);
      const pager = new JsonlStore({ dir: big, readOnly: true });
      const [p, page] = await timedMs(() => pager.query({ after: cursor, limit: 100 }));
      if (page.length !== 100) throw new Error(`a page after ${cursor} had ${page.length} events`);
      pageAfterMs.push(round(p));
      await pager.close();

      const large = await onePoll(big, take(100));
      pollMsLarge.push(round(large.ms));
      pollBytesLarge = large.bytes;
      const little = await onePoll(small, take(100));
      pollMsSmall.push(round(little.ms));
      pollBytesSmall = little.bytes;

      writerHeapMb.push(round(await heapInChild(big, take(1000))));

      const restarted = new JsonlStore({ dir: big });
      const [a] = await timedMs(() => restarted.append(laterEvents(1, take(1))));
      firstAppendAfterRestartMs.push(round(a));
      await restarted.close();
    }
    const result = {
      events,
      getMs,
      pageAfterMs,
      pollMsLarge,
      pollMsSmall,
      pollBytesLarge,
      pollBytesSmall,
      writerHeapMb,
      firstAppendAfterRestartMs,
    };
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    process.stdout.write(`JSONL reads, one day file of ${events} events, ${reps} reps (median)\n`);
    process.stdout.write(`  get                          ${median(getMs)} ms\n`);
    process.stdout.write(`  page of 100 after a cursor   ${median(pageAfterMs)} ms\n`);
    process.stdout.write(
      `  subscribe poll, full file    ${median(pollMsLarge)} ms, ${pollBytesLarge} bytes read\n`,
    );
    process.stdout.write(
      `  subscribe poll, 1/10 file    ${median(pollMsSmall)} ms, ${pollBytesSmall} bytes read\n`,
    );
    process.stdout.write(`  writer heap                  ${median(writerHeapMb)} MB\n`);
    process.stdout.write(
      `  first append after restart   ${median(firstAppendAfterRestartMs)} ms\n`,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--writer-heap") {
  await writerHeap(process.argv[3]!, Number(process.argv[4]));
} else {
  await main();
}
