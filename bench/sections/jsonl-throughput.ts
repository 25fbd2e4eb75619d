// JSONL through the auditor against pino writing the same records to a file, raw appends of the
// same batches, and one append per event.
import { appendFileSync, closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { JsonlStore } from "@audit/jsonl";
import { type BenchContext, PRODUCER } from "../harness/context.js";
import { collect } from "../harness/memory.js";
import { pinoToFile } from "../harness/pino-file.js";
import type { Section } from "../harness/section.js";
import { TARGETS } from "../harness/targets.js";
import { spoolNote, throughAuditor } from "../harness/throughput.js";
import { inputs, smallInput, stamped, timed } from "../lib.js";

export const jsonlThroughputSection: Section = {
  name: "jsonl",
  title: "Throughput: JSONL",
  method: `Events/s from the first \`record()\` until \`flush()\` resolves, small events ${PRODUCER}, a fresh directory per repetition; the JSONL store's default is an fsync per batch. Baselines, in the same repetition: pino (default options, \`pino.destination({ sync: false })\`) writing the same records (stamped events) to a file until flushed and fsynced once; raw \`O_APPEND\` writes of the same records in batches of 512 with an fsync each; a naive \`appendFileSync\` per event (10,000 events, no fsync).`,
  async run(ctx: BenchContext) {
    const n = Math.min(50_000, ctx.settings.events);
    const events = inputs(n, smallInput, 2);
    const records = stamped(n, smallInput, 2);
    const series = {
      dflt: [] as number[],
      noSync: [] as number[],
      plain: [] as number[],
      pino: [] as number[],
      raw: [] as number[],
      naive: [] as number[],
    };
    const spooled = { dflt: 0, noSync: 0, plain: 0 };
    for (let rep = 0; rep < ctx.settings.reps; rep++) {
      const a = await throughAuditor(ctx, new JsonlStore({ dir: ctx.dir("jsonl-a") }), events);
      series.dflt.push(a.eventsPerSecond);
      spooled.dflt += a.spooled;
      const b = await throughAuditor(
        ctx,
        new JsonlStore({ dir: ctx.dir("jsonl-b"), fsync: "never" }),
        events,
      );
      series.noSync.push(b.eventsPerSecond);
      spooled.noSync += b.spooled;
      const c = await throughAuditor(
        ctx,
        new JsonlStore({ dir: ctx.dir("jsonl-c"), fsync: "never" }),
        events,
        { integrity: false, privacy: false },
      );
      series.plain.push(c.eventsPerSecond);
      spooled.plain += c.spooled;

      const logger = await pinoToFile(ctx.file("pino", "log"));
      await collect();
      const p = await timed(() => logger.write(records));
      logger.end();
      series.pino.push((n / p.ms) * 1000);

      const fd = openSync(ctx.file("raw", "jsonl"), "a");
      await collect();
      const raw = await timed(async () => {
        for (let i = 0; i < n; i += 512) {
          let text = "";
          for (const e of records.slice(i, i + 512)) text += `${JSON.stringify(e)}\n`;
          writeSync(fd, text);
          fsyncSync(fd);
        }
      });
      closeSync(fd);
      series.raw.push((n / raw.ms) * 1000);

      const naiveN = Math.min(10_000, n);
      const naiveFile = join(ctx.dir("naive"), "naive.jsonl");
      await collect();
      const naive = await timed(async () => {
        for (const e of records.slice(0, naiveN))
          appendFileSync(naiveFile, `${JSON.stringify(e)}\n`);
      });
      series.naive.push((naiveN / naive.ms) * 1000);
    }
    const label = `${n.toLocaleString("en-US")} small events`;
    const pino = { name: "pino to a file, same records", samples: series.pino };
    const add = (workload: string, samples: number[], rest: object) =>
      ctx.report.add({
        section: this.title,
        workload,
        unit: "events/s",
        better: "higher",
        samples,
        ...rest,
      });
    add(
      `JSONL through the auditor, defaults (fsync per batch, chain + privacy), ${label}`,
      series.dflt,
      {
        baseline: pino,
        target: TARGETS.jsonlVsPino,
        ...spoolNote(spooled.dflt),
      },
    );
    add(`JSONL through the auditor, fsync: "never" (chain + privacy), ${label}`, series.noSync, {
      baseline: pino,
      target: TARGETS.jsonlVsPino,
      ...spoolNote(spooled.noSync),
    });
    add(
      `JSONL through the auditor, fsync: "never", integrity: false, privacy: false, ${label}`,
      series.plain,
      { baseline: pino, ...spoolNote(spooled.plain) },
    );
    add(
      `JSONL through the auditor, defaults (fsync per batch, chain + privacy), ${label}`,
      series.dflt,
      {
        baseline: { name: "raw O_APPEND write + fsync per 512, same records", samples: series.raw },
        target: TARGETS.jsonlVsRawAppend,
      },
    );
    add(
      `JSONL through the auditor, defaults (fsync per batch, chain + privacy), ${label}`,
      series.dflt,
      {
        baseline: { name: "naive: appendFileSync per event, no fsync", samples: series.naive },
        target: TARGETS.vsNaive,
      },
    );
  },
};
