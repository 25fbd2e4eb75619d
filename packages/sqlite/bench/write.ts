// Writes small events into SQLite through an Auditor (chain and privacy on, the store's defaults:
// schema 2, the write thread) and with a hand-written better-sqlite3 writer of the same rows, then
// counts by type, actor and risk with `stats` (GROUP BY) and by streaming every event.
//
//   npx tsx packages/sqlite/bench/write.ts          EVENTS=200000 REPS=5 by default
//
// The last line of stdout is one JSON object with one value per rep:
// {"events":N,"bytesPerEvent":[…],"auditorEventsPerSec":[…],"rawEventsPerSec":[…],"statsMs":[…],"statsStreamMs":[…]}
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEvent, Auditor, RISK_LEVELS } from "@audit/core";
import { StatsCollector } from "@audit/core/store-kit";
import Database from "better-sqlite3";
import { seeded, smallInput } from "../../../bench/lib.js";
import { SqliteStore } from "../src/index.js";

const EVENTS = Number(process.env.EVENTS ?? 200_000);
const REPS = Number(process.env.REPS ?? 5);
const BATCH = 512;
const work = mkdtempSync(join(tmpdir(), "audit-sqlite-bench-"));

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// Every small event through an auditor, as fast as the agent can record, until all are stored.
async function throughAuditor(file: string): Promise<{ ms: number; cpu: number }> {
  const store = new SqliteStore({ filename: file });
  const audit = new Auditor({
    store,
    spool: false,
    batch: { maxEvents: BATCH, maxQueue: 2_000_000 },
  });
  const rand = seeded(2);
  const t = performance.now();
  const c = cpuMs();
  for (let i = 0; i < EVENTS; i++) {
    audit.record(smallInput(rand, i));
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
  }
  await audit.flush();
  const result = { ms: performance.now() - t, cpu: cpuMs() - c };
  await audit.close();
  await store.close();
  return result;
}

function bytesPerEvent(file: string): number {
  const db = new Database(file);
  db.pragma("wal_checkpoint(TRUNCATE)");
  const n = (db.prepare("SELECT count(*) AS n FROM audit_events").get() as { n: number }).n;
  db.close();
  const wal = statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  return (statSync(file).size + wal) / n;
}

// What a person writes by hand for these rows: one prepared INSERT, a transaction per batch.
function rawWriter(file: string, events: readonly AuditEvent[]): { ms: number; cpu: number } {
  new SqliteStore({ filename: file, writeThread: false }).close();
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  const insert = db.prepare(
    `INSERT OR IGNORE INTO audit_events (time, id, type, actor, session_id, run_id, span_id, parent_span_id, trace_id, approval_id, risk_level, chain_id, chain_seq, chain_prev, chain_hash, data, extra)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const hex = (h: string) => (h === "" ? "" : Buffer.from(h, "hex"));
  const tx = db.transaction((batch: readonly AuditEvent[]) => {
    for (const e of batch) {
      insert.run(
        Date.parse(e.time),
        e.id,
        e.type,
        e.actor ?? null,
        e.sessionId ?? null,
        e.runId ?? null,
        e.spanId ?? null,
        e.parentSpanId ?? null,
        e.traceId ?? null,
        typeof e.data.approvalId === "string" ? e.data.approvalId : null,
        e.risk === undefined ? null : RISK_LEVELS.indexOf(e.risk),
        e.chain!.id,
        e.chain!.seq,
        hex(e.chain!.prev),
        hex(e.chain!.hash),
        JSON.stringify(e.data),
        e.risk === undefined ? null : JSON.stringify({ risk: e.risk }),
      );
    }
  });
  const t = performance.now();
  const c = cpuMs();
  for (let i = 0; i < events.length; i += BATCH) tx.immediate(events.slice(i, i + BATCH));
  const result = { ms: performance.now() - t, cpu: cpuMs() - c };
  db.close();
  return result;
}

const out = {
  events: EVENTS,
  bytesPerEvent: [] as number[],
  auditorEventsPerSec: [] as number[],
  rawEventsPerSec: [] as number[],
  statsMs: [] as number[],
  statsStreamMs: [] as number[],
};
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

try {
  for (let rep = 0; rep < REPS; rep++) {
    const file = join(work, `auditor-${rep}.db`);
    const viaAuditor = await throughAuditor(file);
    const bytes = bytesPerEvent(file);

    const store = new SqliteStore({ filename: file, readOnly: true });
    const events = await store.query();
    let t = performance.now();
    const grouped = await store.stats();
    const statsMs = performance.now() - t;
    t = performance.now();
    const collector = new StatsCollector();
    for await (const e of store.stream()) collector.add(e);
    const statsStreamMs = performance.now() - t;
    if (collector.result().total !== grouped.total) throw new Error("stats disagree");
    await store.close();

    const raw = rawWriter(join(work, `raw-${rep}.db`), events);
    const auditorRate = (EVENTS / viaAuditor.ms) * 1000;
    const rawRate = (events.length / raw.ms) * 1000;
    out.bytesPerEvent.push(round(bytes));
    out.auditorEventsPerSec.push(Math.round(auditorRate));
    out.rawEventsPerSec.push(Math.round(rawRate));
    out.statsMs.push(round(statsMs));
    out.statsStreamMs.push(round(statsStreamMs));
    console.log(
      `rep ${rep + 1}/${REPS}: ${round(bytes)} B/event; auditor ${Math.round(auditorRate)} events/s (${round((viaAuditor.cpu * 1000) / EVENTS)} µs CPU/event, both threads); raw ${Math.round(rawRate)} events/s (${round((raw.cpu * 1000) / events.length)} µs CPU/event) = ${round(auditorRate / rawRate, 2)}×; stats ${round(statsMs)} ms, streamed ${round(statsStreamMs)} ms`,
    );
    rmSync(file, { force: true });
    rmSync(join(work, `raw-${rep}.db`), { force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
