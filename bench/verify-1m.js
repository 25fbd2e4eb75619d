// Verify at scale: writes N events (default 1,000,000) to a SQLite trail through the auditor, then
// verifies it in a fresh process and prints events/s and memory. Verification reads the trail once
// through storedRows (strict JSON, columns, order, hashes, Merkle roots, approval binding).
//
//   node --import tsx bench/verify-1m.js [--events 1000000] [--keep]
//
// Memory: RSS after a GC before verifying, the process's peak RSS (getrusage), and the heap after
// verifying and a GC. Time is wall time of verifyChain alone, and its CPU time (which a busy
// machine does not inflate).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Auditor, verifyChain } from "@audit/core";
import { SqliteStore } from "@audit/sqlite";
import { seeded, smallInput } from "./lib.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    keep: { type: "boolean", default: false },
    "verify-only": { type: "string" },
  },
});

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

if (values["verify-only"]) {
  // The child: a fresh process, so its memory figures are verification's alone.
  global.gc();
  const before = process.memoryUsage();
  const store = new SqliteStore({ filename: values["verify-only"], readOnly: true });
  const started = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const report = await verifyChain(store, { requireClosed: true });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await store.close();
  global.gc();
  const after = process.memoryUsage();
  process.stdout.write(
    JSON.stringify({
      ok: report.ok,
      problems: report.problems.length + report.unlisted,
      events: report.events,
      chains: report.chains.length,
      seconds,
      cpuSeconds,
      rssBefore: before.rss,
      peakRss: process.resourceUsage().maxRSS * 1024,
      heapAfter: after.heapUsed,
    }),
  );
  process.exit(0);
}

const n = Number(values.events);
const dir = mkdtempSync(join(tmpdir(), "audit-verify-bench-"));
const file = join(dir, "audit.db");
try {
  const store = new SqliteStore({ filename: file, synchronous: "normal" });
  const audit = new Auditor({ store, spool: false, batch: { maxEvents: 2000 } });
  const rand = seeded(7);
  const writeStart = Date.now();
  for (let i = 0; i < n; i++) {
    audit.record(smallInput(rand, i));
    if (i % 5000 === 4999) await audit.flush();
  }
  await audit.close();
  await store.close();
  const writeSeconds = (Date.now() - writeStart) / 1000;
  const size = statSync(file).size;
  const out = execFileSync(
    process.execPath,
    // The parent's flags (--import tsx, which resolves ./lib.js to lib.ts) and a collectable heap.
    [...process.execArgv, "--expose-gc", new URL(import.meta.url).pathname, "--verify-only", file],
    { encoding: "utf8", maxBuffer: 1 << 20 },
  );
  const r = JSON.parse(out);
  const rows = [
    ["events written", n.toLocaleString("en")],
    ["write (through the auditor)", `${writeSeconds.toFixed(1)} s`],
    ["database size", mb(size)],
    ["events verified", r.events.toLocaleString("en")],
    ["verify ok / problems", `${r.ok} / ${r.problems}`],
    ["verify time", `${r.seconds.toFixed(1)} s`],
    ["verify rate", `${Math.round(r.events / r.seconds).toLocaleString("en")} events/s`],
    ["verify CPU time (process)", `${r.cpuSeconds.toFixed(1)} s`],
    ["verify CPU per event", `${((r.cpuSeconds / r.events) * 1e6).toFixed(1)} µs`],
    ["RSS before verify (after GC)", mb(r.rssBefore)],
    ["peak RSS of the verify process", mb(r.peakRss)],
    ["heap after verify (after GC)", mb(r.heapAfter)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`kept ${file}\n`);
}
