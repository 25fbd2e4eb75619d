// The benchmark: every figure repeated BENCH_REPS times next to a baseline measured in the same
// repetitions, every target checked against the figures. Writes bench/RESULTS.md.
//
//   pnpm bench                                   (builds, then node --expose-gc --import tsx bench/run.ts)
//   BENCH_ONLY=record,cost BENCH_REPS=5 BENCH_EVENTS=20000 pnpm bench
//   BENCH_OUT=before.md pnpm bench               (write the results elsewhere)
//
// Sections (BENCH_ONLY names): record, cost, loop, sqlite, jsonl, postgres, otel, queries, reads,
// memory. A section that fails is reported and the others still run.
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BenchContext, readSettings } from "./harness/context.js";
import { describeCommand, describeMachine } from "./harness/machine.js";
import { hasGc } from "./harness/memory.js";
import { Report } from "./harness/report.js";
import { writeResults } from "./harness/results-writer.js";
import type { Section } from "./harness/section.js";
import { eventLoopSection } from "./sections/event-loop.js";
import { fullCostSection } from "./sections/full-cost.js";
import { jsonlReadsSection } from "./sections/jsonl-reads.js";
import { jsonlThroughputSection } from "./sections/jsonl-throughput.js";
import { memorySection } from "./sections/memory.js";
import { otelSection } from "./sections/otel.js";
import { postgresThroughputSection } from "./sections/postgres-throughput.js";
import { queriesSection } from "./sections/queries.js";
import { recordSection } from "./sections/record.js";
import { sqliteThroughputSection } from "./sections/sqlite-throughput.js";

const SECTIONS: readonly Section[] = [
  recordSection,
  fullCostSection,
  eventLoopSection,
  sqliteThroughputSection,
  jsonlThroughputSection,
  postgresThroughputSection,
  otelSection,
  queriesSection,
  jsonlReadsSection,
  memorySection,
];

async function main(): Promise<void> {
  const started = Date.now();
  const invokedFrom = process.cwd();
  const settings = readSettings();
  const unknown = settings.only?.filter((n) => !SECTIONS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) {
    throw new Error(
      `unknown BENCH_ONLY section(s) ${unknown.join(", ")}; known: ${SECTIONS.map((s) => s.name).join(", ")}`,
    );
  }
  if (!hasGc) console.warn("warning: no global.gc; run node with --expose-gc for heap figures");
  const report = new Report();
  const ctx = new BenchContext(settings, report);
  // Anything that still writes to the default relative spool lands in the scratch directory.
  process.chdir(ctx.work);
  const postgres = await ctx.pg
    .query<{ server_version: string }>("SHOW server_version")
    .then((r) => r.rows[0]?.server_version)
    .catch((e: Error) => {
      console.warn(`PostgreSQL not reached (${e.message}); its rows will fail`);
      return undefined;
    });
  const selected = SECTIONS.filter((s) => !settings.only || settings.only.includes(s.name));
  for (const section of selected) {
    console.log(`# ${section.name}: ${section.title}`);
    const t = Date.now();
    try {
      await section.run(ctx);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      report.note(section.title, `the section stopped with an error: ${message.slice(0, 500)}`);
      console.error(e);
    }
    console.log(`  (${Math.round((Date.now() - t) / 1000)} s)`);
  }
  await ctx.cleanup();
  rmSync(ctx.work, { recursive: true, force: true });
  // BENCH_OUT writes elsewhere (a before/after comparison keeps both files).
  const out = process.env.BENCH_OUT
    ? pathToFileURL(resolve(invokedFrom, process.env.BENCH_OUT))
    : new URL("./RESULTS.md", import.meta.url);
  writeResults(out, report, selected, {
    machine: describeMachine(postgres),
    command: describeCommand(),
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    seconds: (Date.now() - started) / 1000,
    reps: settings.reps,
    events: settings.events,
    jsonlEvents: settings.jsonlEvents,
    gc: hasGc,
  });
  console.log(`\nwrote ${out.pathname}`);
}

await main();
// Auditors and pools are closed; anything left (a stalled store's pending append) must not keep
// the process alive.
process.exit(0);
