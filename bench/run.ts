// The benchmark harness: every figure next to a baseline measured in the same process run.
// Writes bench/RESULTS.md. Scale with BENCH_EVENTS (rows in the query stores; default 1,000,000).
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  type AuditEvent,
  Auditor,
  type AuditorInit,
  type AuditStore,
  type EventInput,
  NullStore,
  uuidv7,
  uuidv7Time,
} from "@audit/core";
import { JsonlStore } from "@audit/jsonl";
import { OtelExporter } from "@audit/otel";
import { PostgresStore } from "@audit/postgres";
import { SqliteStore } from "@audit/sqlite";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import Database from "better-sqlite3";
import pg from "pg";
import pino from "pino";
import { fmt, largeInput, loopDelay, median, type Rand, seeded, smallInput, timed } from "./lib.js";

/** Makes the input of event number `i`. */
type Shape = (rand: Rand, i: number) => EventInput;

/** An event as the stores hold it, for the raw-driver baselines. */
type Stamped = Omit<EventInput, "id" | "time"> & { id: string; time: string };

/** One line of the results table. */
interface Row {
  section: string;
  workload: string;
  figure: number;
  unit: string;
  baselineName: string;
  baseline: number | undefined;
  ratio: number | undefined;
  target: string | undefined;
}

const PG_URL = process.env.AUDIT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const QUERY_EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const work = mkdtempSync(join(tmpdir(), "audit-bench-"));
const rows: Row[] = [];
const notes: string[] = [];
const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
const schemas: string[] = [];

function row(
  section: string,
  workload: string,
  figure: number,
  unit: string,
  baselineName: string,
  baseline: number | undefined,
  { higherIsBetter = true, target }: { higherIsBetter?: boolean; target?: string } = {},
): void {
  const ratio = baseline ? (higherIsBetter ? figure / baseline : baseline / figure) : undefined;
  rows.push({ section, workload, figure, unit, baselineName, baseline, ratio, target });
  console.log(
    `${workload}: ${fmt.n(figure)} ${unit}${baseline && ratio !== undefined ? ` | ${baselineName}: ${fmt.n(baseline)} | ${fmt.ratio(ratio)}` : ""}`,
  );
}

/** Events stamped like the auditor stamps them, for the raw-driver baselines. */
function stamped(n: number, shape: Shape = smallInput, seed = 1): Stamped[] {
  const rand = seeded(seed);
  return Array.from({ length: n }, (_, i) => {
    const id = uuidv7();
    const input = shape(rand, i);
    return { ...input, id, time: new Date(uuidv7Time(id) ?? Date.now()).toISOString() };
  });
}

async function freshSchema(): Promise<string> {
  const s = `bench_${process.pid}_${schemas.length}`;
  schemas.push(s);
  await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  return s;
}

// Records `n` events through an auditor as fast as the agent can, then waits until all are stored.
async function throughAuditor(
  store: AuditStore,
  n: number,
  options: Partial<AuditorInit> = {},
): Promise<number> {
  const audit = new Auditor({
    store,
    spool: false,
    batch: { maxQueue: 2_000_000, maxEvents: 512 },
    onError: (e) => notes.push(e.message),
    ...options,
  });
  const rand = seeded(2);
  const { ms } = await timed(async () => {
    for (let i = 0; i < n; i++) {
      audit.record(smallInput(rand, i));
      if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
    }
    await audit.flush();
  });
  await audit.close();
  return (n / ms) * 1000;
}

// ---------------------------------------------------------------------------------------------
async function recordCost() {
  const N = 200_000;
  const measure = async (audit: Auditor, shape: Shape) => {
    const rand = seeded(3);
    const perChunk: number[] = [];
    for (let c = 0; c < N / 1000; c++) {
      const inputs = Array.from({ length: 1000 }, (_, i) => shape(rand, c * 1000 + i));
      const t = process.hrtime.bigint();
      for (const input of inputs) audit.record(input);
      perChunk.push(Number(process.hrtime.bigint() - t) / 1000);
      await new Promise((r) => setImmediate(r));
    }
    await audit.close();
    return median(perChunk.slice(20));
  };
  const devNull = new Writable({ write: (_c, _e, cb) => cb() });
  const logger = pino({ level: "info" }, devNull);
  const pinoCost = async (shape: Shape) => {
    const rand = seeded(3);
    const perChunk: number[] = [];
    for (let c = 0; c < N / 1000; c++) {
      const inputs = Array.from({ length: 1000 }, (_, i) => shape(rand, c * 1000 + i));
      const t = process.hrtime.bigint();
      for (const input of inputs) logger.info(input);
      perChunk.push(Number(process.hrtime.bigint() - t) / 1000);
      await new Promise((r) => setImmediate(r));
    }
    return median(perChunk.slice(20));
  };
  const shapes: [string, Shape][] = [
    ["small tool event", smallInput],
    ["large model event", largeInput],
  ];
  for (const [label, shape] of shapes) {
    const base = await pinoCost(shape);
    const opts: AuditorInit = {
      store: new NullStore(),
      spool: false,
      batch: { maxQueue: 1_000_000 },
    };
    row(
      "record()",
      `record(), ${label}, chain + privacy (default)`,
      await measure(new Auditor(opts), shape),
      "ns/event",
      "pino logger.info",
      base,
      { higherIsBetter: false, target: "< 2,000 ns" },
    );
    row(
      "record()",
      `record(), ${label}, no chain, no privacy`,
      await measure(new Auditor({ ...opts, integrity: false, privacy: false }), shape),
      "ns/event",
      "pino logger.info",
      base,
      { higherIsBetter: false, target: "< 2,000 ns" },
    );
  }
}

// ---------------------------------------------------------------------------------------------
async function loopAt20k(name: string, makeStore: () => Promise<AuditStore>): Promise<void> {
  const seconds = 3;
  const produce = async (audit: Auditor | undefined) => {
    const rand = seeded(4);
    let i = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (let k = 0; k < 100; k++) {
          const input = smallInput(rand, i++);
          audit?.record(input);
        }
        if (i >= seconds * 20_000) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    await audit?.flush();
  };
  const base = await loopDelay(() => produce(undefined));
  const store = await makeStore();
  const audit = new Auditor({ store, spool: false, onError: (e) => notes.push(e.message) });
  const d = await loopDelay(() => produce(audit));
  await audit.close();
  await store.close();
  row(
    "event loop",
    `event-loop delay p99 at 20k events/s into ${name}`,
    d.p99,
    "ms",
    "same loop, no recording",
    base.p99,
    { higherIsBetter: false, target: "< 10 ms" },
  );
}

// ---------------------------------------------------------------------------------------------
async function sqliteThroughput() {
  const N = 100_000;
  const file = (n: string) => join(work, `t-${n}.db`);
  const viaAuditor = await throughAuditor(new SqliteStore({ filename: file("a") }), N);
  const viaAuditorPlain = await throughAuditor(new SqliteStore({ filename: file("b") }), N, {
    integrity: false,
    privacy: false,
  });
  // The raw driver: same schema (made by the store), same rows, same batch size, one transaction each.
  new SqliteStore({ filename: file("raw"), writeThread: false }).close();
  const db = new Database(file("raw"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  const insert = db.prepare(
    "INSERT OR IGNORE INTO audit_events (id, time, type, actor, session_id, run_id, approval_id, risk_level, chain_id, chain_seq, body) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
  );
  const tx = db.transaction((batch: Stamped[]) => {
    for (const e of batch)
      insert.run(
        e.id,
        e.time,
        e.type,
        e.actor,
        e.sessionId,
        e.runId,
        null,
        null,
        null,
        null,
        JSON.stringify(e),
      );
  });
  const events = stamped(N);
  const raw = await timed(async () => {
    for (let i = 0; i < N; i += 512) tx.immediate(events.slice(i, i + 512));
  });
  const rawRate = (N / raw.ms) * 1000;
  const naiveN = 2000;
  const naive = await timed(async () => {
    for (const e of stamped(naiveN, smallInput, 9))
      insert.run(
        e.id,
        e.time,
        e.type,
        e.actor,
        e.sessionId,
        e.runId,
        null,
        null,
        null,
        null,
        JSON.stringify(e),
      );
  });
  const naiveRate = (naiveN / naive.ms) * 1000;
  db.close();
  row(
    "throughput",
    "SQLite through the auditor (chain + privacy)",
    viaAuditor,
    "events/s",
    "raw better-sqlite3, same schema and batches",
    rawRate,
    { target: "≥ 70% of raw" },
  );
  row(
    "throughput",
    "SQLite through the auditor (no chain, no privacy)",
    viaAuditorPlain,
    "events/s",
    "raw better-sqlite3, same schema and batches",
    rawRate,
    { target: "≥ 85% of raw" },
  );
  row(
    "throughput",
    "SQLite through the auditor (chain + privacy)",
    viaAuditor,
    "events/s",
    "naive: one INSERT per event",
    naiveRate,
    { target: "≥ 20×" },
  );
}

async function jsonlThroughput() {
  const N = 100_000;
  const viaAuditor = await throughAuditor(new JsonlStore({ dir: join(work, "j-a") }), N);
  const viaAuditorNoSync = await throughAuditor(
    new JsonlStore({ dir: join(work, "j-b"), fsync: "never" }),
    N,
  );
  const viaAuditorPlain = await throughAuditor(
    new JsonlStore({ dir: join(work, "j-c"), fsync: "never" }),
    N,
    { integrity: false, privacy: false },
  );
  const events = stamped(N);
  // pino writing the same records to a file (asynchronous SonicBoom), until flushed.
  const pinoFile = join(work, "pino.log");
  const dest = pino.destination({ dest: pinoFile, sync: false, minLength: 4096 });
  const logger = pino({ level: "info", base: undefined, timestamp: false }, dest);
  const p = await timed(async () => {
    for (let i = 0; i < N; i++) {
      logger.info(events[i]);
      if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => dest.flush(r));
    dest.flushSync();
  });
  const pinoRate = (N / p.ms) * 1000;
  // Raw appends: one O_APPEND write of the batch and an fsync, as the store does.
  const rawFile = join(work, "raw.jsonl");
  const fd = openSync(rawFile, "a");
  const raw = await timed(async () => {
    for (let i = 0; i < N; i += 512) {
      let text = "";
      for (const e of events.slice(i, i + 512)) text += JSON.stringify(e) + "\n";
      writeSync(fd, text);
      fsyncSync(fd);
    }
  });
  closeSync(fd);
  const naiveN = 20_000;
  const naive = await timed(async () => {
    for (const e of events.slice(0, naiveN))
      appendFileSync(join(work, "naive.jsonl"), JSON.stringify(e) + "\n");
  });
  row(
    "throughput",
    "JSONL through the auditor (fsync per batch, chain + privacy)",
    viaAuditor,
    "events/s",
    "raw O_APPEND write + fsync per 512",
    (N / raw.ms) * 1000,
    { target: "≥ 70% of raw" },
  );
  row(
    "throughput",
    "JSONL through the auditor (no fsync, chain + privacy)",
    viaAuditorNoSync,
    "events/s",
    "pino to a file, same records",
    pinoRate,
    { target: "≥ pino" },
  );
  row(
    "throughput",
    "JSONL through the auditor (no fsync, no chain, no privacy)",
    viaAuditorPlain,
    "events/s",
    "pino to a file, same records",
    pinoRate,
    { target: "≥ pino" },
  );
  row(
    "throughput",
    "JSONL through the auditor (fsync per batch, chain + privacy)",
    viaAuditor,
    "events/s",
    "naive: one append per event, no fsync",
    (naiveN / naive.ms) * 1000,
    { target: "≥ 20×" },
  );
}

async function postgresThroughput() {
  const N = 100_000;
  const s1 = await freshSchema();
  const s2 = await freshSchema();
  const viaAuditor = await throughAuditor(
    new PostgresStore({ connectionString: PG_URL, schema: s1 }),
    N,
  );
  const viaAuditorPlain = await throughAuditor(
    new PostgresStore({ connectionString: PG_URL, schema: s2 }),
    N,
    { integrity: false, privacy: false },
  );
  const s3 = await freshSchema();
  const prep = new PostgresStore({ connectionString: PG_URL, schema: s3 });
  await prep.count();
  await prep.close();
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const events = stamped(N);
  const sql = `INSERT INTO "${s3}".events (id, time, type, actor, session_id, run_id, event)
    SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[]) ON CONFLICT (id) DO NOTHING`;
  const raw = await timed(async () => {
    for (let i = 0; i < N; i += 512) {
      const b = events.slice(i, i + 512);
      await client.query(sql, [
        b.map((e) => e.id),
        b.map((e) => e.time),
        b.map((e) => e.type),
        b.map((e) => e.actor),
        b.map((e) => e.sessionId),
        b.map((e) => e.runId),
        b.map((e) => JSON.stringify(e)),
      ]);
    }
  });
  const naiveN = 3000;
  const naive = await timed(async () => {
    for (const e of stamped(naiveN, smallInput, 7)) {
      await client.query(
        `INSERT INTO "${s3}".events (id, time, type, actor, session_id, run_id, event) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (id) DO NOTHING`,
        [e.id, e.time, e.type, e.actor, e.sessionId, e.runId, JSON.stringify(e)],
      );
    }
  });
  await client.end();
  const rawRate = (N / raw.ms) * 1000;
  row(
    "throughput",
    "PostgreSQL through the auditor (chain + privacy)",
    viaAuditor,
    "events/s",
    "raw pg, same schema, unnest batches of 512",
    rawRate,
    { target: "≥ 70% of raw" },
  );
  row(
    "throughput",
    "PostgreSQL through the auditor (no chain, no privacy)",
    viaAuditorPlain,
    "events/s",
    "raw pg, same schema, unnest batches of 512",
    rawRate,
    { target: "≥ 85% of raw" },
  );
  row(
    "throughput",
    "PostgreSQL through the auditor (chain + privacy)",
    viaAuditor,
    "events/s",
    "naive: one INSERT per event",
    (naiveN / naive.ms) * 1000,
    { target: "≥ 20×" },
  );
}

// ---------------------------------------------------------------------------------------------
async function otel() {
  const provider = new BasicTracerProvider({
    spanProcessors: [
      new SimpleSpanProcessor({ export: (_s, cb) => cb({ code: 0 }), shutdown: async () => {} }),
    ],
  });
  const tracer = provider.getTracer("bench");
  const RUNS = 5000;
  const base = Date.parse("2026-01-01T00:00:00.000Z");
  const events: AuditEvent[] = [];
  for (let r = 0; r < RUNS; r++) {
    const runSpan = `${r.toString(16).padStart(12, "0")}0001`;
    const t0 = base + r * 100;
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    events.push({
      id: `r${r}s`,
      type: "run.start",
      time: at(0),
      runId: `r${r}`,
      spanId: runSpan,
      actor: "bot",
      sessionId: "s",
      data: { agent: "bot" },
    });
    for (let k = 0; k < 3; k++) {
      const sp = `${r.toString(16).padStart(12, "0")}10${k}0`;
      events.push({
        id: `r${r}t${k}s`,
        type: "tool.start",
        time: at(10 + k * 20),
        runId: `r${r}`,
        spanId: sp,
        parentSpanId: runSpan,
        data: { tool: "search", callId: `c${k}` },
      });
      events.push({
        id: `r${r}t${k}e`,
        type: "tool.end",
        time: at(20 + k * 20),
        runId: `r${r}`,
        spanId: sp,
        parentSpanId: runSpan,
        data: { tool: "search", callId: `c${k}`, durationMs: 10 },
      });
    }
    events.push({
      id: `r${r}l`,
      type: "llm.end",
      time: at(90),
      runId: `r${r}`,
      spanId: `${r.toString(16).padStart(12, "0")}2000`,
      parentSpanId: runSpan,
      data: { model: "m", provider: "p", inputTokens: 10, outputTokens: 5, durationMs: 8 },
    });
    events.push({
      id: `r${r}e`,
      type: "run.end",
      time: at(99),
      runId: `r${r}`,
      spanId: runSpan,
      data: { status: "ok", durationMs: 99 },
    });
  }
  const exporter = new OtelExporter({ tracer });
  const viaExporter = await timed(async () => {
    for (let i = 0; i < events.length; i += 512) await exporter.export(events.slice(i, i + 512));
  });
  // The same spans, attributes and times, made directly with the SDK.
  const direct = await timed(async () => {
    for (let r = 0; r < RUNS; r++) {
      const t0 = base + r * 100;
      const run = tracer.startSpan("invoke_agent bot", {
        kind: SpanKind.INTERNAL,
        startTime: t0,
        attributes: {
          "gen_ai.operation.name": "invoke_agent",
          "gen_ai.agent.name": "bot",
          "gen_ai.conversation.id": "s",
          "audit.run.id": `r${r}`,
          "audit.event.id": `r${r}s`,
        },
      });
      const ctx = trace.setSpan(context.active(), run);
      for (let k = 0; k < 3; k++) {
        const tool = tracer.startSpan(
          "execute_tool search",
          {
            startTime: t0 + 10 + k * 20,
            attributes: {
              "gen_ai.operation.name": "execute_tool",
              "gen_ai.tool.name": "search",
              "gen_ai.tool.call.id": `c${k}`,
              "audit.event.id": `r${r}t${k}s`,
            },
          },
          ctx,
        );
        tool.setStatus({ code: SpanStatusCode.OK });
        tool.end(t0 + 20 + k * 20);
      }
      const chat = tracer.startSpan(
        "chat m",
        {
          startTime: t0 + 82,
          attributes: {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "p",
            "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 5,
          },
        },
        ctx,
      );
      chat.end(t0 + 90);
      run.setStatus({ code: SpanStatusCode.OK });
      run.end(t0 + 99);
    }
  });
  row(
    "exporters",
    "OpenTelemetry exporter: audit events → spans",
    ((RUNS * 5) / viaExporter.ms) * 1000,
    "spans/s",
    "the same spans made directly with the SDK",
    ((RUNS * 5) / direct.ms) * 1000,
  );
  await provider.shutdown();
}

// ---------------------------------------------------------------------------------------------
async function queries() {
  const N = QUERY_EVENTS;
  const sessionOf = (i: number) => `s-${i % 10_000}`;
  // SQLite: filled with the raw driver (fast), then read through the store.
  const file = join(work, "big.db");
  new SqliteStore({ filename: file, writeThread: false }).close();
  {
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = OFF");
    const insert = db.prepare(
      "INSERT INTO audit_events (id, time, type, actor, session_id, run_id, body) VALUES (?,?,?,?,?,?,?)",
    );
    const tx = db.transaction((batch: Stamped[]) => {
      for (const e of batch)
        insert.run(e.id, e.time, e.type, e.actor, e.sessionId, e.runId, JSON.stringify(e));
    });
    for (let i = 0; i < N; i += 10_000) {
      const batch = stamped(
        Math.min(10_000, N - i),
        (rand: Rand, k: number) => ({ ...smallInput(rand, i + k), sessionId: sessionOf(i + k) }),
        i + 1,
      );
      tx(batch);
    }
    db.exec("ANALYZE");
    db.close();
  }
  const store = new SqliteStore({ filename: file });
  const raw = new Database(file, { readonly: true });
  const rawStmt = raw.prepare<[string], { body: string }>(
    "SELECT body FROM audit_events WHERE session_id = ? ORDER BY time DESC, id DESC LIMIT 100",
  );
  const lat: number[] = [];
  const rawLat: number[] = [];
  for (let k = 0; k < 60; k++) {
    const s = sessionOf(k * 7919);
    let t = performance.now();
    const got = await store.query({ sessionId: s, order: "desc", limit: 100 });
    lat.push(performance.now() - t);
    t = performance.now();
    rawStmt.all(s).map((r) => JSON.parse(r.body));
    rawLat.push(performance.now() - t);
    if (got.length !== 100) throw new Error(`expected 100 events, got ${got.length}`);
  }
  row(
    "queries",
    `SQLite: 100 newest events of one session, ${N.toLocaleString("en-US")} events stored (median)`,
    median(lat),
    "ms",
    "raw better-sqlite3, same SQL",
    median(rawLat),
    { higherIsBetter: false, target: "< 10 ms" },
  );
  let n = 0;
  const scan = await timed(async () => {
    for await (const _ of store.stream()) n++;
  });
  let rn = 0;
  const rawScan = await timed(async () => {
    const all = raw.prepare<[], { body: string }>(
      "SELECT body FROM audit_events ORDER BY time, id",
    );
    for (const r of all.iterate()) {
      JSON.parse(r.body);
      rn++;
    }
  });
  if (n !== N || rn !== N) throw new Error(`scan counted ${n} / ${rn} of ${N}`);
  row(
    "queries",
    `SQLite: full stream() scan of ${N.toLocaleString("en-US")} events`,
    (n / scan.ms) * 1000,
    "events/s",
    "raw better-sqlite3 iterate()",
    (rn / rawScan.ms) * 1000,
  );
  raw.close();
  await store.close();

  // PostgreSQL: the same, filled with COPY-like unnest batches.
  const schema = await freshSchema();
  const pgStore = new PostgresStore({ connectionString: PG_URL, schema });
  await pgStore.count();
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  for (let i = 0; i < N; i += 10_000) {
    const b = stamped(
      Math.min(10_000, N - i),
      (rand, k) => ({ ...smallInput(rand, i + k), sessionId: sessionOf(i + k) }),
      i + 1,
    );
    await client.query(
      `INSERT INTO "${schema}".events (id, time, type, actor, session_id, run_id, event) SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])`,
      [
        b.map((e) => e.id),
        b.map((e) => e.time),
        b.map((e) => e.type),
        b.map((e) => e.actor),
        b.map((e) => e.sessionId),
        b.map((e) => e.runId),
        b.map((e) => JSON.stringify(e)),
      ],
    );
  }
  await client.query(`ANALYZE "${schema}".events`);
  const plat = [];
  const prawLat = [];
  for (let k = 0; k < 60; k++) {
    const s = sessionOf(k * 7919);
    let t = performance.now();
    await pgStore.query({ sessionId: s, order: "desc", limit: 100 });
    plat.push(performance.now() - t);
    t = performance.now();
    await client.query(
      `SELECT event FROM "${schema}".events WHERE session_id = $1 ORDER BY time DESC, id DESC LIMIT 100`,
      [s],
    );
    prawLat.push(performance.now() - t);
  }
  row(
    "queries",
    `PostgreSQL: 100 newest events of one session, ${N.toLocaleString("en-US")} events stored (median)`,
    median(plat),
    "ms",
    "raw pg, same SQL",
    median(prawLat),
    { higherIsBetter: false, target: "< 10 ms" },
  );
  let pn = 0;
  const pscan = await timed(async () => {
    for await (const _ of pgStore.stream()) pn++;
  });
  row(
    "queries",
    `PostgreSQL: full stream() scan of ${N.toLocaleString("en-US")} events`,
    (pn / pscan.ms) * 1000,
    "events/s",
    "—",
    undefined,
  );
  await client.end();
  await pgStore.close();
}

// ---------------------------------------------------------------------------------------------
async function stalledStore() {
  const N = 300_000;
  const stalled: AuditStore = {
    id: "stalled",
    capabilities: { persistent: false, multiProcess: false, subscribe: false },
    append: () => new Promise<void>(() => {}),
    query: async () => [],
    stream: async function* () {},
    get: async () => undefined,
    count: async () => 0,
    prune: async () => 0,
    close: async () => {},
  };
  const rand = seeded(5);
  const inputs = Array.from({ length: 1000 }, (_, i) => smallInput(rand, i));
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const audit = new Auditor({
    store: stalled,
    spool: false,
    onOverflow: "drop",
    batch: { maxQueue: 10_000 },
    onError: () => {},
  });
  let maxQueued = 0;
  for (let i = 0; i < N; i++) {
    audit.record(inputs[i % 1000]!);
    if (i % 10_000 === 0) maxQueued = Math.max(maxQueued, audit.stats().queued);
  }
  maxQueued = Math.max(maxQueued, audit.stats().queued);
  global.gc?.();
  const heapAuditor = (process.memoryUsage().heapUsed - heap0) / 1e6;
  const naive = [];
  global.gc?.();
  const heap1 = process.memoryUsage().heapUsed;
  for (let i = 0; i < N; i++)
    naive.push({ ...inputs[i % 1000], id: String(i), time: new Date().toISOString() });
  global.gc?.();
  const heapNaive = (process.memoryUsage().heapUsed - heap1) / 1e6;
  row(
    "memory",
    `stalled store, ${N.toLocaleString("en-US")} events recorded: heap growth (queue bound 10,000; held ${maxQueued} + ${audit.stats().dropped.toLocaleString("en-US")} dropped)`,
    heapAuditor,
    "MB",
    "unbounded buffer of the same events",
    heapNaive,
    { higherIsBetter: false, target: "bounded" },
  );
  naive.length = 0;
}

// ---------------------------------------------------------------------------------------------
function versions() {
  const v = (p: string): string => {
    try {
      return JSON.parse(
        readFileSync(new URL(`./node_modules/${p}/package.json`, import.meta.url), "utf8"),
      ).version;
    } catch {
      return "?";
    }
  };
  return {
    node: process.version,
    "better-sqlite3": v("better-sqlite3"),
    pg: v("pg"),
    pino: v("pino"),
    "@opentelemetry/sdk-trace-base": v("@opentelemetry/sdk-trace-base"),
  };
}

async function main() {
  const started = Date.now();
  const pgVersion = (await admin.query("SHOW server_version")).rows[0].server_version;
  const steps = {
    record: recordCost,
    loop: async () => {
      await loopAt20k("SQLite", async () => new SqliteStore({ filename: join(work, "loop.db") }));
      await loopAt20k("JSONL", async () => new JsonlStore({ dir: join(work, "loop-jsonl") }));
      await loopAt20k(
        "PostgreSQL",
        async () => new PostgresStore({ connectionString: PG_URL, schema: await freshSchema() }),
      );
    },
    sqlite: sqliteThroughput,
    jsonl: jsonlThroughput,
    postgres: postgresThroughput,
    otel,
    queries,
    memory: stalledStore,
  };
  // BENCH_ONLY=record,otel runs a subset (the results file then holds only those rows).
  const only = process.env.BENCH_ONLY?.split(",");
  for (const [name, step] of Object.entries(steps)) {
    if (only && !only.includes(name)) continue;
    console.log(`# ${name}`);
    await step();
  }
  for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await admin.end();
  rmSync(work, { recursive: true, force: true });

  const cpu = cpus()[0]?.model ?? "unknown";
  const lines = [
    "# Benchmark results",
    "",
    "Produced by `pnpm bench` (bench/run.ts). Every figure is measured next to its baseline in the same process run, on the same machine, with fixed event shapes (a ~300-byte tool event, a ~4 KB model event) and fixed seeds. Ratios are figure ÷ baseline for rates and baseline ÷ figure for costs, so above 1× means better than the baseline.",
    "",
    `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; PostgreSQL ${pgVersion}; ${Object.entries(
      versions(),
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ", ",
      )}. Run took ${Math.round((Date.now() - started) / 1000)} s on ${new Date().toISOString().slice(0, 10)}.`,
    "",
  ];
  for (const section of [...new Set(rows.map((r) => r.section))]) {
    lines.push(
      `## ${section}`,
      "",
      "| workload | figure | baseline | baseline figure | ratio | target |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const r of rows.filter((x) => x.section === section)) {
      lines.push(
        `| ${r.workload} | ${fmt.n(r.figure)} ${r.unit} | ${r.baselineName} | ${r.baseline === undefined ? "—" : `${fmt.n(r.baseline)} ${r.unit}`} | ${r.ratio === undefined ? "—" : fmt.ratio(r.ratio)} | ${r.target ?? ""} |`,
      );
    }
    lines.push("");
  }
  if (notes.length > 0)
    lines.push(
      "## Errors reported during the run",
      "",
      ...[...new Set(notes)].slice(0, 10).map((n) => `- ${n}`),
      "",
    );
  const out = new URL("./RESULTS.md", import.meta.url);
  const previous = (() => {
    try {
      return readFileSync(out, "utf8");
    } catch {
      return "";
    }
  })();
  const analysis = previous.includes("<!-- analysis -->")
    ? previous.slice(previous.indexOf("<!-- analysis -->"))
    : "<!-- analysis -->\n";
  const { writeFileSync } = await import("node:fs");
  writeFileSync(out, lines.join("\n") + "\n" + analysis);
  console.log(`\nwrote ${out.pathname}`);
}

await main();
