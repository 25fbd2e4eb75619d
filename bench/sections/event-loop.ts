// How much recording delays the agent's event loop at a steady 20,000 events/s.
import type { Auditor, AuditStore } from "@audit/core";
import { JsonlStore } from "@audit/jsonl";
import { PostgresStore } from "@audit/postgres";
import { SqliteStore } from "@audit/sqlite";
import type { BenchContext } from "../harness/context.js";
import { collect } from "../harness/memory.js";
import type { Section } from "../harness/section.js";
import { TARGETS } from "../harness/targets.js";
import { loopDelay, seeded, smallInput } from "../lib.js";

const SECONDS = 3;
const RATE = 20_000;

// 100 events every 5 ms for three seconds, then a flush; with no auditor, the same loop making the
// inputs only.
async function produce(audit: Auditor | undefined): Promise<void> {
  const rand = seeded(4);
  let i = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      for (let k = 0; k < 100; k++) {
        const input = smallInput(rand, i++);
        audit?.record(input);
      }
      if (i >= SECONDS * RATE) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await audit?.flush();
}

export const eventLoopSection: Section = {
  name: "loop",
  title: "Event loop",
  method:
    "p99 of the event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) while the loop records 100 small events every 5 ms (20,000 events/s) for 3 s and then flushes, one figure per repetition; auditors with default settings, a fresh store each repetition. Baseline: the same loop making the same inputs without recording, in the same repetition. Events that overflowed the default queue (10,000) into the spool are counted in the note.",
  async run(ctx: BenchContext) {
    const stores: [string, () => Promise<AuditStore>][] = [
      ["SQLite", async () => new SqliteStore({ filename: ctx.file("loop", "db") })],
      ["JSONL", async () => new JsonlStore({ dir: ctx.dir("loop-jsonl") })],
      [
        "PostgreSQL",
        async () =>
          new PostgresStore({
            connectionString: ctx.settings.pgUrl,
            schema: await ctx.freshSchema(),
          }),
      ],
    ];
    for (const [name, make] of stores) {
      const base: number[] = [];
      const ours: number[] = [];
      let spooled = 0;
      for (let rep = 0; rep < ctx.settings.reps; rep++) {
        await collect();
        base.push((await loopDelay(() => produce(undefined))).p99);
        const store = await make();
        await store.count(); // connects and migrates before the clock starts
        const audit = ctx.auditor(store);
        await collect();
        ours.push((await loopDelay(() => produce(audit))).p99);
        spooled += audit.stats().spooled;
        await audit.close();
        await store.close();
      }
      ctx.report.add({
        section: this.title,
        workload: `event-loop delay p99 at 20k events/s into ${name}, defaults`,
        unit: "ms",
        better: "lower",
        samples: ours,
        baseline: { name: "same loop, no recording", samples: base },
        target: TARGETS.loopP99Ms,
        ...(spooled > 0
          ? {
              note: `${spooled.toLocaleString("en-US")} events went to the spool over all repetitions (queue full)`,
            }
          : {}),
      });
    }
  },
};
