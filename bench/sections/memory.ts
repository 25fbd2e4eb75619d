// A store that never answers: memory must stay bounded however long the agent keeps recording.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchContext } from "../harness/context.js";
import { hasGc } from "../harness/memory.js";
import type { Section } from "../harness/section.js";
import { TARGETS } from "../harness/targets.js";
import type { ProbeResult } from "./memory-probe.js";

const EVENTS = 100_000;
const PROBE = fileURLToPath(new URL("./memory-probe.ts", import.meta.url));
const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

function runProbe(variant: string, spool: string): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...process.execArgv, PROBE, variant, spool, String(EVENTS)],
      // From the bench directory, where `--import tsx` resolves (the run itself works elsewhere).
      { cwd: BENCH_DIR, maxBuffer: 1 << 20, timeout: 5 * 60_000 },
      (err, stdout) => {
        if (err) return reject(err);
        const last = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(last) as ProbeResult);
        } catch {
          reject(new Error(`memory probe printed no result: ${last.slice(0, 200)}`));
        }
      },
    );
  });
}

export const memorySection: Section = {
  name: "memory",
  title: "Memory",
  method:
    "An auditor on a store whose appends never settle; 100,000 small events recorded in a tight loop. Each measurement runs in a fresh process (bench/sections/memory-probe.ts) so nothing a previous one held is freed or counted in it. Heap growth: heap in use after a full GC (--expose-gc) minus the same before recording; after close: the same after `close()` (bounded by `closeTimeoutMs: 1000`, which changes nothing before the close). Baseline: an unbounded array of the same events, in its own process. The time per `record()` is what the agent waits while the store is stalled.",
  async run(ctx: BenchContext) {
    if (!hasGc) {
      ctx.report.note(
        this.title,
        "no global.gc (run node with --expose-gc): heap figures would depend on when V8 last collected; section skipped",
      );
      return;
    }
    const variants: [string, string][] = [
      ["defaults", "defaults (onOverflow: block → spool)"],
      ["drop", 'onOverflow: "drop"'],
    ];
    const unbounded: ProbeResult[] = [];
    const results = new Map<string, ProbeResult[]>(variants.map(([v]) => [v, []]));
    for (let rep = 0; rep < ctx.settings.reps; rep++) {
      unbounded.push(await runProbe("unbounded", ctx.dir("spool")));
      for (const [variant] of variants) {
        results.get(variant)?.push(await runProbe(variant, ctx.dir("spool")));
      }
    }
    const n = EVENTS.toLocaleString("en-US");
    for (const [variant, label] of variants) {
      const r = results.get(variant) ?? [];
      const last = r[r.length - 1];
      const where = last
        ? `at most ${last.maxQueued.toLocaleString("en-US")} events held in memory; ${last.spooled.toLocaleString("en-US")} spooled, ${last.dropped.toLocaleString("en-US")} dropped (last repetition)`
        : "";
      ctx.report.add({
        section: this.title,
        workload: `stalled store, ${n} events recorded, ${label}: heap growth`,
        unit: "MB",
        better: "lower",
        samples: r.map((x) => x.growthMb),
        baseline: {
          name: "unbounded array of the same events",
          samples: unbounded.map((x) => x.growthMb),
        },
        note: where,
      });
      ctx.report.add({
        section: this.title,
        workload: `stalled store, ${label}: most events held in memory (queue + in flight)`,
        unit: "events",
        better: "lower",
        samples: r.map((x) => x.maxQueued),
        target: TARGETS.stalledHeldEvents,
        note: "sampled every 10,000 events and at the end; the default queue bound is 10,000",
      });
      const closed = r.filter((x) => x.afterCloseMb !== undefined);
      ctx.report.add({
        section: this.title,
        workload: `stalled store, ${label}: heap still held after close()`,
        unit: "MB",
        better: "lower",
        samples: closed.map((x) => x.afterCloseMb as number),
        ...(closed.length < r.length
          ? {
              note: `close() did not settle within 60 s in ${r.length - closed.length} repetitions`,
            }
          : {}),
      });
      ctx.report.add({
        section: this.title,
        workload: `stalled store, ${label}: time per record() while the store is stalled`,
        unit: "µs/event",
        better: "lower",
        samples: r.map((x) => x.recordUs),
        baseline: {
          name: "pushing onto the unbounded array",
          samples: unbounded.map((x) => x.recordUs),
        },
      });
    }
  },
};
