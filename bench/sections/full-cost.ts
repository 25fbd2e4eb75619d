// What one event really costs, from `record()` until `flush()` says it is durable: CPU time on the
// main thread (the agent's event loop) and on every other thread (the SQLite write thread, libuv's
// pool, V8's helpers), against pino writing the same inputs to a file measured the same way.
import { type AuditStore, type EventInput, NullStore } from "@audit/core";
import { JsonlStore } from "@audit/jsonl";
import { SqliteStore } from "@audit/sqlite";
import { type BenchContext, PRODUCER, recordAll } from "../harness/context.js";
import { type CpuSplit, measureCpu } from "../harness/cpu.js";
import { collect } from "../harness/memory.js";
import { pinoToFile } from "../harness/pino-file.js";
import type { Section } from "../harness/section.js";
import { TARGETS } from "../harness/targets.js";
import { inputs, largeInput, type Shape, smallInput } from "../lib.js";

const WARM_UP = 2000;

async function auditorCost(
  ctx: BenchContext,
  store: AuditStore,
  warm: readonly EventInput[],
  measured: readonly EventInput[],
): Promise<CpuSplit> {
  const audit = ctx.auditor(store);
  // The first events start the store's threads and compile the write path: a one-off, not a
  // per-event cost.
  await recordAll(audit, warm);
  await collect();
  const split = await measureCpu(() => recordAll(audit, measured));
  await audit.close();
  await store.close();
  return split;
}

async function pinoCost(
  ctx: BenchContext,
  warm: readonly EventInput[],
  measured: readonly EventInput[],
): Promise<CpuSplit> {
  const logger = await pinoToFile(ctx.file("pino", "log"));
  await logger.write(warm);
  await collect();
  const split = await measureCpu(() => logger.write(measured));
  logger.end();
  return split;
}

const perEvent = (ms: number | undefined, n: number) => ((ms ?? Number.NaN) * 1000) / n;

export const fullCostSection: Section = {
  name: "cost",
  title: "Full cost per event (record → durable)",
  method: `CPU time from the first \`record()\` until \`flush()\` resolves (events durable in the store), divided by the number of events, after a warm-up of 2,000 events; events ${PRODUCER}. Main thread: the process's main thread (/proc/self/task/<pid>/schedstat); other threads: every other thread of the process (SQLite's write thread, libuv's pool, V8's GC and compiler threads); all threads: their sum. Auditors use the default settings (chain, privacy \`full\`, batches of 512, fsync per batch). Baseline: pino (default options, \`pino.destination({ sync: false })\`) writing the same inputs to a file, until its buffer is flushed and fsynced once, measured the same way. Ratio = pino ÷ ours (above 1× means cheaper than pino).`,
  async run(ctx: BenchContext) {
    if (process.platform !== "linux") {
      ctx.report.note(this.title, "per-thread CPU time needs Linux's /proc; section skipped");
      return;
    }
    const sizes: [string, Shape, number][] = [
      ["small event", smallInput, Math.min(50_000, ctx.settings.events)],
      ["4 KB event", largeInput, Math.min(10_000, ctx.settings.events)],
    ];
    const stores: [string, () => AuditStore][] = [
      ["NullStore", () => new NullStore()],
      ["JSONL", () => new JsonlStore({ dir: ctx.dir("cost-jsonl") })],
      ["SQLite", () => new SqliteStore({ filename: ctx.file("cost", "db") })],
    ];
    for (const [label, shape, n] of sizes) {
      const warm = inputs(WARM_UP, shape, 11);
      const measured = inputs(n, shape, 12);
      const base: CpuSplit[] = [];
      const ours = new Map<string, CpuSplit[]>(stores.map(([name]) => [name, []]));
      for (let rep = 0; rep < ctx.settings.reps; rep++) {
        await collect();
        base.push(await pinoCost(ctx, warm, measured));
        for (const [name, make] of stores) {
          await collect();
          ours.get(name)?.push(await auditorCost(ctx, make(), warm, measured));
        }
      }
      const parts: [string, (s: CpuSplit) => number | undefined][] = [
        ["main thread", (s) => s.mainMs],
        ["other threads", (s) => s.otherMs],
        ["all threads", (s) => (s.mainMs ?? Number.NaN) + (s.otherMs ?? Number.NaN)],
      ];
      for (const [name] of stores) {
        const splits = ours.get(name) ?? [];
        for (const [part, pick] of parts) {
          const target =
            label === "small event" && part === "main thread"
              ? TARGETS.fullCostMainSmallUs
              : undefined;
          ctx.report.add({
            section: this.title,
            workload: `${label} → ${name}, defaults, ${n.toLocaleString("en-US")} events: ${part}`,
            unit: "µs/event",
            better: "lower",
            samples: splits.map((s) => perEvent(pick(s), n)),
            baseline: {
              name: `pino to a file, ${part}`,
              samples: base.map((s) => perEvent(pick(s), n)),
            },
            ...(target ? { target } : {}),
          });
        }
      }
      const wall = (ours.get("JSONL") ?? []).map((s) => s.wallMs);
      ctx.report.note(
        this.title,
        `${label}: wall time of the JSONL run ${wall.map((w) => Math.round(w)).join(", ")} ms per repetition (${n.toLocaleString("en-US")} events); process total from getrusage vs thread sum: ${(
          ours.get("SQLite") ?? []
        )
          .map((s) => `${Math.round(s.totalMs)}/${Math.round((s.mainMs ?? 0) + (s.otherMs ?? 0))}`)
          .join(", ")} ms (SQLite)`,
      );
    }
  },
};
