// Benchmark of `audit serve`: the runs list and a run's timeline served from a large trail
// (SQLite and PostgreSQL), and the live tail fanned out to many SSE clients.
// Run after a build:  node packages/server/bench/serve.js
// Scale: BENCH_EVENTS (default 1,000,000), BENCH_CLIENTS (50), BENCH_STORES (sqlite,postgres).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uuidv7 } from "@audit/core";
import { PostgresStore } from "@audit/postgres";
import { SqliteStore } from "@audit/sqlite";
import pg from "pg";
import { AuditServer } from "../dist/index.js";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const STORES = (process.env.BENCH_STORES ?? "sqlite,postgres").split(",");
const PG_URL = process.env.AUDIT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REQUESTS = 60;
const TOKEN = "bench-token-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "audit-serve-bench-"));

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (n) => `${n.toFixed(1)} ms`;

/** Runs of 20 events each: start, 4 × (tool call, model call, note), policy, action, end. */
function* trail(total) {
  const t0 = Date.now() - total * 2;
  let i = 0;
  while (i < total) {
    const runId = uuidv7();
    const span = uuidv7().slice(-16);
    const at = () => new Date(t0 + i++ * 2).toISOString();
    const base = { runId, actor: "bench-bot", sessionId: `s${i % 1000}` };
    yield {
      ...base,
      id: uuidv7(),
      type: "run.start",
      time: at(),
      spanId: span,
      data: { agent: "bench-bot" },
    };
    for (let k = 0; k < 4; k++) {
      const s = uuidv7().slice(-16);
      const call = { tool: "lookup", callId: s };
      yield {
        ...base,
        id: uuidv7(),
        type: "tool.start",
        time: at(),
        spanId: s,
        parentSpanId: span,
        data: { ...call, args: { k } },
      };
      yield {
        ...base,
        id: uuidv7(),
        type: "tool.end",
        time: at(),
        spanId: s,
        parentSpanId: span,
        data: { ...call, result: "ok", durationMs: 2 },
      };
      yield {
        ...base,
        id: uuidv7(),
        type: "llm.end",
        time: at(),
        spanId: uuidv7().slice(-16),
        parentSpanId: span,
        data: { model: "m", inputTokens: 100, outputTokens: 20, costUsd: 0.001, durationMs: 2 },
      };
      yield { ...base, id: uuidv7(), type: "note", time: at(), parentSpanId: span, data: { k } };
    }
    yield {
      ...base,
      id: uuidv7(),
      type: "policy.decision",
      time: at(),
      parentSpanId: span,
      risk: "low",
      data: { policy: "p", decision: "allow" },
    };
    yield {
      ...base,
      id: uuidv7(),
      type: "action",
      time: at(),
      parentSpanId: span,
      data: { actionType: "email", target: "customer", status: "success" },
    };
    yield {
      ...base,
      id: uuidv7(),
      type: "run.end",
      time: at(),
      spanId: span,
      data: { status: "ok", durationMs: 40 },
    };
  }
}

async function load(store, total) {
  const started = Date.now();
  let batch = [];
  const runIds = [];
  for (const e of trail(total)) {
    if (e.type === "run.start") runIds.push(e.runId);
    batch.push(e);
    if (batch.length === 1000) {
      await store.append(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await store.append(batch);
  return { runIds, seconds: (Date.now() - started) / 1000 };
}

async function latency(url, paths) {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const times = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    const res = await fetch(url + paths(i), { headers: auth });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${paths(i)}: ${res.status}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

async function fanOut(server, store) {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const received = Array.from({ length: CLIENTS }, () => new Map());
  const controllers = [];
  await Promise.all(
    received.map(async (seen) => {
      const abort = new AbortController();
      controllers.push(abort);
      const res = await fetch(`${server.url}/api/stream?type=fan.*`, {
        headers: auth,
        signal: abort.signal,
      });
      const decoder = new TextDecoder();
      let buf = "";
      let ready;
      const live = new Promise((r) => {
        ready = r;
      });
      void (async () => {
        try {
          for await (const chunk of res.body) {
            buf += decoder.decode(chunk, { stream: true });
            for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              if (block.includes(": live")) ready();
              const data = block.split("\n").find((l) => l.startsWith("data: "));
              if (data) {
                const e = JSON.parse(data.slice(6));
                seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
                seen.set(`${e.id}:t`, performance.now());
              }
            }
          }
        } catch {
          // aborted at the end
        }
      })();
      await live;
    }),
  );
  const total = 1000;
  const sentAt = new Map();
  for (let b = 0; b < 10; b++) {
    const batch = Array.from({ length: 100 }, (_, i) => ({
      id: uuidv7(),
      type: "fan.out",
      time: new Date().toISOString(),
      data: { i: b * 100 + i },
    }));
    const t = performance.now();
    await store.append(batch);
    for (const e of batch) sentAt.set(e.id, t);
    await new Promise((r) => setTimeout(r, 100));
  }
  const deadline = Date.now() + 30_000;
  const complete = () => received.every((m) => [...sentAt.keys()].every((id) => m.has(id)));
  while (!complete() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const a of controllers) a.abort();
  const delays = [];
  let missing = 0;
  let duplicates = 0;
  for (const m of received)
    for (const [id, t] of sentAt) {
      if (!m.has(id)) missing++;
      else {
        if (m.get(id) > 1) duplicates++;
        delays.push(m.get(`${id}:t`) - t);
      }
    }
  delays.sort((a, b) => a - b);
  return {
    total: total * CLIENTS,
    missing,
    duplicates,
    median: quantile(delays, 0.5),
    p99: quantile(delays, 0.99),
  };
}

const table = [];
for (const kind of STORES) {
  let store;
  let schema;
  if (kind === "sqlite")
    store = new SqliteStore({
      filename: join(work, "bench.db"),
      synchronous: "normal",
      pollIntervalMs: 50,
    });
  else {
    schema = `server_bench_${Date.now()}`;
    store = new PostgresStore({ connectionString: PG_URL, schema });
  }
  console.error(`${kind}: loading ${EVENTS.toLocaleString("en")} events…`);
  const { runIds, seconds } = await load(store, EVENTS);
  console.error(`${kind}: loaded in ${seconds.toFixed(1)} s`);
  const server = new AuditServer({ store, port: 0, token: TOKEN, pollMs: 50 });
  await server.listen();
  const pick = (i) => runIds[Math.floor((i * 7919) % runIds.length)];
  const rows = [
    ["runs list (JSON, 50 rows)", await latency(server.url, () => "/api/runs?limit=50")],
    ["runs list (page, 50 rows)", await latency(server.url, () => "/runs")],
    ["run timeline (JSON tree)", await latency(server.url, (i) => `/api/runs/${pick(i)}`)],
    ["run timeline (page)", await latency(server.url, (i) => `/runs/${pick(i)}`)],
  ];
  for (const [what, r] of rows) {
    console.error(`${kind}: ${what}: median ${ms(r.median)}, p99 ${ms(r.p99)}`);
    table.push(
      `| ${kind} | ${EVENTS.toLocaleString("en")} | ${what} | ${ms(r.median)} | ${ms(r.p99)} |`,
    );
  }
  const f = await fanOut(server, store);
  table.push(
    `| ${kind} | ${EVENTS.toLocaleString("en")} | SSE fan-out: 1,000 events to ${CLIENTS} clients (${f.total.toLocaleString("en")} deliveries, ${f.missing} missing, ${f.duplicates} duplicated) | ${ms(f.median)} | ${ms(f.p99)} |`,
  );
  await server.close();
  await store.close();
  if (schema) {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
}
rmSync(work, { recursive: true, force: true });
console.log(
  `\n${REQUESTS} sequential requests per row; latency = request to last byte (median, p99); fan-out = append to receipt.\n`,
);
console.log("| store | events | workload | median | p99 |");
console.log("| --- | --- | --- | --- | --- |");
for (const line of table) console.log(line);
