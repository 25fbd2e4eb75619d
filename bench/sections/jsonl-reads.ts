// JSONL reads at a million events. The measuring program lives with the JSONL package
// (packages/jsonl/bench/reads.ts) and prints its figures as one JSON object on its last line; this
// section runs it in a child process and turns each figure into a row. Older code has no such
// program: then the section measures the store's `get` and a page after a cursor itself, at a
// smaller size, and says so.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AuditEvent, AuditStore } from "@audit/core";
import { JsonlStore } from "@audit/jsonl";
import type { BenchContext } from "../harness/context.js";
import { collect } from "../harness/memory.js";
import type { Section } from "../harness/section.js";
import { median } from "../harness/stats.js";
import { TARGETS, type Target } from "../harness/targets.js";
import { seeded, smallInput, stamped, timed } from "../lib.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCRIPT = "packages/jsonl/bench/reads.ts";
const CHILD_TIMEOUT_MS = 20 * 60_000;
const FALLBACK_EVENTS = 100_000;
const LOOKUPS = 20;

/** What reads.ts prints on its last line. */
interface ReadFigures {
  events?: number;
  getMs?: number[];
  pageAfterMs?: number[];
  pollMsLarge?: number[];
  pollMsSmall?: number[];
  pollBytesLarge?: number;
  pollBytesSmall?: number;
  writerHeapMb?: number[];
  firstAppendAfterRestartMs?: number[];
}

function runChild(events: number, reps: number): Promise<{ figures: ReadFigures; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", SCRIPT], {
      cwd: ROOT,
      env: { ...process.env, EVENTS: String(events), REPS: String(reps) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
      process.stdout.write(chunk.replace(/^/gm, "    | "));
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), CHILD_TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${SCRIPT} exited with ${signal ?? code}`));
        return;
      }
      const last = out.trim().split("\n").pop() ?? "";
      try {
        resolve({ figures: JSON.parse(last) as ReadFigures, ms: performance.now() - started });
      } catch {
        reject(new Error(`${SCRIPT} did not end with a JSON line: ${last.slice(0, 200)}`));
      }
    });
  });
}

const isSeries = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number");

function fromChild(ctx: BenchContext, title: string, f: ReadFigures): void {
  const n = (f.events ?? ctx.settings.jsonlEvents).toLocaleString("en-US");
  const series = (key: keyof ReadFigures, workload: string, unit: string, target: Target): void => {
    const v = f[key];
    if (!isSeries(v)) {
      ctx.report.skip(title, workload, `${SCRIPT} gave no ${key}`);
      return;
    }
    ctx.report.add({ section: title, workload, unit, better: "lower", samples: v, target });
  };
  series("getMs", `JSONL: get(id), ${n} events stored`, "ms", TARGETS.jsonlGetMs);
  series(
    "pageAfterMs",
    `JSONL: page of 100 after a cursor, ${n} events stored`,
    "ms",
    TARGETS.jsonlPageAfterMs,
  );
  if (isSeries(f.pollMsLarge) && isSeries(f.pollMsSmall)) {
    ctx.report.add({
      section: title,
      workload: `JSONL: tail poll with nothing new, ${n} events stored`,
      unit: "ms",
      better: "lower",
      samples: f.pollMsLarge,
      baseline: { name: "the same poll on a small store", samples: f.pollMsSmall },
      target: TARGETS.jsonlPollTimeVsSmall,
    });
  } else {
    ctx.report.skip(title, "JSONL: tail poll time", `${SCRIPT} gave no pollMsLarge/pollMsSmall`);
  }
  if (typeof f.pollBytesLarge === "number" && typeof f.pollBytesSmall === "number") {
    ctx.report.add({
      section: title,
      workload: `JSONL: bytes read by one tail poll, ${n} events stored`,
      unit: "bytes",
      better: "lower",
      samples: [f.pollBytesLarge],
      baseline: { name: "the same poll on a small store", samples: [f.pollBytesSmall] },
      target: TARGETS.jsonlPollBytesVsSmall,
      note: "a count of work, the same on every run",
    });
  } else {
    ctx.report.skip(title, "JSONL: bytes read by a tail poll", `${SCRIPT} gave no poll bytes`);
  }
  series(
    "writerHeapMb",
    `JSONL: writer heap after a GC while appending, ${n} events`,
    "MB",
    TARGETS.jsonlWriterHeapMb,
  );
  series(
    "firstAppendAfterRestartMs",
    `JSONL: first append after a restart, ${n} events stored`,
    "ms",
    TARGETS.jsonlFirstAppendMs,
  );
}

// Older code: the store's own get and page-after-cursor, at a size the old reads can afford.
async function fallback(ctx: BenchContext, title: string): Promise<void> {
  const n = Math.min(FALLBACK_EVENTS, ctx.settings.jsonlEvents);
  ctx.report.note(
    title,
    `${SCRIPT} is not in this tree (older code): get and a page after a cursor are measured here on ${n.toLocaleString("en-US")} events appended with store.append() in batches of 5,000; the targets are for 1,000,000 events, so no verdict is given. Tail polls, writer heap and the first append after a restart are not measured.`,
  );
  const dir = ctx.dir("jsonl-reads");
  const writer: AuditStore = new JsonlStore({ dir });
  const ids: string[] = [];
  const fill = await timed(async () => {
    for (let i = 0; i < n; i += 5000) {
      const batch = stamped(Math.min(5000, n - i), smallInput, i + 1);
      for (const e of batch) ids.push(e.id);
      await writer.append(batch as unknown as AuditEvent[]);
    }
  });
  await writer.close();
  ctx.report.note(title, `filled in ${Math.round(fill.ms / 1000)} s`);
  const store = new JsonlStore({ dir });
  const rand = seeded(21);
  const pick = () => ids[Math.floor(rand() * ids.length)] as string;
  const get: number[] = [];
  const page: number[] = [];
  try {
    for (let rep = 0; rep < ctx.settings.reps; rep++) {
      await collect();
      const g: number[] = [];
      const p: number[] = [];
      for (let k = 0; k < LOOKUPS; k++) {
        const id = pick();
        g.push((await timed(() => store.get(id))).ms);
        const after = pick();
        p.push((await timed(() => store.query({ after, limit: 100 }))).ms);
      }
      get.push(median(g));
      page.push(median(p));
    }
  } finally {
    await store.close();
  }
  const size = `${n.toLocaleString("en-US")} events stored (target is for 1,000,000)`;
  ctx.report.add({
    section: title,
    workload: `JSONL: get(id), ${size}`,
    unit: "ms",
    better: "lower",
    samples: get,
    note: `median of ${LOOKUPS} random ids per repetition`,
  });
  ctx.report.add({
    section: title,
    workload: `JSONL: page of 100 after a cursor, ${size}`,
    unit: "ms",
    better: "lower",
    samples: page,
    note: `median of ${LOOKUPS} random cursors per repetition`,
  });
}

export const jsonlReadsSection: Section = {
  name: "reads",
  title: "JSONL reads at scale",
  method: `Run by ${SCRIPT} in a child process (\`node --expose-gc --import tsx ${SCRIPT}\`, EVENTS and REPS from BENCH_JSONL_EVENTS — default 1,000,000 — and BENCH_REPS); each array it prints is one row, one value per repetition. Tail polls compare a poll with nothing new at the large size against the same poll on a small store: the bytes read (a count of work) must not grow, and the time must stay within 2×.`,
  async run(ctx: BenchContext) {
    if (!existsSync(new URL(`../../${SCRIPT}`, import.meta.url))) {
      await fallback(ctx, this.title);
      return;
    }
    const { figures, ms } = await runChild(ctx.settings.jsonlEvents, ctx.settings.reps);
    ctx.report.note(this.title, `${SCRIPT} took ${Math.round(ms / 1000)} s`);
    fromChild(ctx, this.title, figures);
  },
};
