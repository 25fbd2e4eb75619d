// The cost of `record()` itself, the only part that runs inside the agent's call. The rest of the
// write path runs later on the same thread; the full-cost section counts it.
import { Writable } from "node:stream";
import { type Auditor, type EventInput, NullStore } from "@audit/core";
import pino from "pino";
import { type BenchContext, turn } from "../harness/context.js";
import { collect } from "../harness/memory.js";
import type { Section } from "../harness/section.js";
import { median } from "../harness/stats.js";
import { TARGETS } from "../harness/targets.js";
import { largeInput, type Shape, seeded, smallInput } from "../lib.js";

const CHUNK = 1000;

// Per-event time of `call` over chunks of 1,000 events with a turn of the loop between chunks
// (so the queue drains as it would in an agent); the median chunk, after a warm-up of 20 chunks.
async function perEventNs(n: number, shape: Shape, call: (input: EventInput) => void) {
  const rand = seeded(3);
  const perChunk: number[] = [];
  for (let c = 0; c < n / CHUNK; c++) {
    const chunk = Array.from({ length: CHUNK }, (_, i) => shape(rand, c * CHUNK + i));
    const t = process.hrtime.bigint();
    for (const input of chunk) call(input);
    perChunk.push(Number(process.hrtime.bigint() - t) / CHUNK);
    await turn();
  }
  return median(perChunk.slice(20));
}

async function ofAuditor(audit: Auditor, n: number, shape: Shape): Promise<number> {
  const ns = await perEventNs(n, shape, (input) => audit.record(input));
  await audit.close();
  return ns;
}

export const recordSection: Section = {
  name: "record",
  title: "record() on the agent's path",
  method:
    "Time of `record()` alone, per event: chunks of 1,000 calls with a turn of the event loop between chunks, the median chunk of each repetition (after 20 warm-up chunks). The work `record()` leaves for later (privacy, chain, serialising, writing) is not in this figure; the full-cost section counts it. Baseline: pino's `logger.info` of the same inputs into a stream that discards them.",
  async run(ctx: BenchContext) {
    const n = Math.min(40_000, Math.max(25_000, ctx.settings.events));
    const shapes: [string, Shape][] = [
      ["small tool event", smallInput],
      ["4 KB model event", largeInput],
    ];
    const devNull = new Writable({ write: (_c, _e, cb) => cb() });
    const logger = pino({ level: "info" }, devNull);
    for (const [label, shape] of shapes) {
      const base: number[] = [];
      const dflt: number[] = [];
      const plain: number[] = [];
      for (let rep = 0; rep < ctx.settings.reps; rep++) {
        await collect();
        base.push(await perEventNs(n, shape, (input) => logger.info(input)));
        await collect();
        dflt.push(await ofAuditor(ctx.auditor(new NullStore()), n, shape));
        await collect();
        plain.push(
          await ofAuditor(
            ctx.auditor(new NullStore(), { integrity: false, privacy: false }),
            n,
            shape,
          ),
        );
      }
      const baseline = { name: "pino logger.info", samples: base };
      ctx.report.add({
        section: this.title,
        workload: `record(), ${label}, defaults (chain + privacy), ${n.toLocaleString("en-US")} events`,
        unit: "ns/event",
        better: "lower",
        samples: dflt,
        baseline,
        target: TARGETS.recordNs,
      });
      ctx.report.add({
        section: this.title,
        workload: `record(), ${label}, integrity: false, privacy: false`,
        unit: "ns/event",
        better: "lower",
        samples: plain,
        baseline,
        target: TARGETS.recordNs,
      });
    }
  },
};
