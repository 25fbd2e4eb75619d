// Reading a large trail: the 100 newest events of one session, a full scan, `audit stats`-like
// counts, and what a small event costs on disk in SQLite.
import { existsSync, statSync } from "node:fs";
import type { AuditStore } from "@audit/core";
import { PostgresStore } from "@audit/postgres";
import { SqliteStore } from "@audit/sqlite";
import Database from "better-sqlite3";
import pg from "pg";
import { type BenchContext, recordAll } from "../harness/context.js";
import { collect } from "../harness/memory.js";
import type { Section } from "../harness/section.js";
import { median } from "../harness/stats.js";
import { TARGETS } from "../harness/targets.js";
import { inputs, type Rand, type Shape, smallInput, stamped, timed } from "../lib.js";

const LOOKUPS = 60;

/** Small events spread over sessions of about 100 events each. */
function sessionShape(n: number): { shape: Shape; sessionOf: (i: number) => string } {
  const sessions = Math.max(1, Math.floor(n / 100));
  const sessionOf = (i: number) => `s-${i % sessions}`;
  return {
    sessionOf,
    shape: (rand: Rand, i: number) => ({ ...smallInput(rand, i), sessionId: sessionOf(i) }),
  };
}

/** `audit stats`: counts by type, actor and risk through `stream()`, as the CLI does today. */
async function statsByStream(store: AuditStore): Promise<number> {
  const groups = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>()];
  let total = 0;
  const bump = (m: Map<string, number> | undefined, k: string) => m?.set(k, (m.get(k) ?? 0) + 1);
  for await (const e of store.stream()) {
    total++;
    bump(groups[0], e.type);
    bump(groups[1], e.actor ?? "(none)");
    bump(groups[2], e.risk ?? "(none)");
  }
  return total;
}

/** A counting method of the store's own, when it has one (a newer store may). */
function storeCountingMethod(store: AuditStore): string | undefined {
  const s = store as unknown as Record<string, unknown>;
  return ["stats", "countBy", "groupCount"].find((m) => typeof s[m] === "function");
}

async function timeStoreStats(store: AuditStore, method: string): Promise<number> {
  const fn = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
  const { ms } = await timed(() => fn?.call(store, {}));
  return ms;
}

async function sqliteQueries(ctx: BenchContext, title: string, n: number): Promise<void> {
  const { shape, sessionOf } = sessionShape(n);
  const file = ctx.file("big", "db");
  const writer = new SqliteStore({ filename: file });
  const audit = ctx.auditor(writer);
  const fill = await timed(() => recordAll(audit, inputs(n, shape, 7)));
  await audit.close();
  await writer.close();
  ctx.report.note(
    title,
    `SQLite filled through an auditor with default settings: ${n.toLocaleString("en-US")} small events in ${Math.round(fill.ms / 1000)} s (the store's pace, not a measurement)`,
  );

  // Size on disk after a checkpoint folds the WAL into the file.
  {
    const db = new Database(file);
    db.pragma("wal_checkpoint(TRUNCATE)");
    const rows = (db.prepare("SELECT count(*) AS c FROM audit_events").get() as { c: number }).c;
    const bodyBytes = (
      db.prepare("SELECT sum(length(CAST(body AS BLOB))) AS b FROM audit_events").get() as {
        b: number;
      }
    ).b;
    db.close();
    const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);
    const bytes = size(file) + size(`${file}-wal`);
    ctx.report.add({
      section: title,
      workload: `SQLite: bytes on disk per small event (file + WAL after a checkpoint), ${n.toLocaleString("en-US")} events recorded`,
      unit: "bytes/event",
      better: "lower",
      samples: [bytes / n],
      target: TARGETS.sqliteBytesPerEvent,
      note: `one measurement (a size, not a timing); ${rows.toLocaleString("en-US")} rows incl. chain checkpoints; the JSON bodies alone are ${Math.round(bodyBytes / rows)} bytes per row`,
    });
  }

  const store = new SqliteStore({ filename: file });
  const raw = new Database(file, { readonly: true });
  try {
    const newest = raw.prepare<[string], { body: string }>(
      "SELECT body FROM audit_events WHERE session_id = ? ORDER BY time DESC, id DESC LIMIT 100",
    );
    const page: number[] = [];
    const rawPage: number[] = [];
    const scan: number[] = [];
    const rawScan: number[] = [];
    const stats: number[] = [];
    const groupBy: number[] = [];
    const method = storeCountingMethod(store);
    const ownStats: number[] = [];
    for (let rep = 0; rep < ctx.settings.reps; rep++) {
      const lat: number[] = [];
      const rawLat: number[] = [];
      for (let k = 0; k < LOOKUPS; k++) {
        const s = sessionOf(k * 7919 + rep * 13);
        let t = performance.now();
        const got = await store.query({ sessionId: s, order: "desc", limit: 100 });
        lat.push(performance.now() - t);
        t = performance.now();
        newest.all(s).map((r) => JSON.parse(r.body));
        rawLat.push(performance.now() - t);
        if (got.length === 0) throw new Error(`session ${s} came back empty`);
      }
      page.push(median(lat));
      rawPage.push(median(rawLat));

      await collect();
      let seen = 0;
      const a = await timed(async () => {
        for await (const _ of store.stream()) seen++;
      });
      scan.push((seen / a.ms) * 1000);
      await collect();
      let rawSeen = 0;
      const b = await timed(() => {
        const all = raw.prepare<[], { body: string }>(
          "SELECT body FROM audit_events ORDER BY time, id",
        );
        for (const r of all.iterate()) {
          JSON.parse(r.body);
          rawSeen++;
        }
      });
      rawScan.push((rawSeen / b.ms) * 1000);
      if (seen !== rawSeen)
        throw new Error(`stream() saw ${seen} events, the table has ${rawSeen}`);

      await collect();
      stats.push((await timed(() => statsByStream(store))).ms);
      await collect();
      groupBy.push(
        (
          await timed(() => {
            for (const col of ["type", "actor", "risk_level"]) {
              raw
                .prepare(
                  `SELECT ${col} AS k, count(*) AS c, min(time) AS first, max(time) AS last FROM audit_events GROUP BY ${col}`,
                )
                .all();
            }
          })
        ).ms,
      );
      if (method) ownStats.push(await timeStoreStats(store, method));
    }
    const size = `${n.toLocaleString("en-US")} events stored`;
    ctx.report.add({
      section: title,
      workload: `SQLite: 100 newest events of one session, ${size} (median of ${LOOKUPS} lookups per rep)`,
      unit: "ms",
      better: "lower",
      samples: page,
      baseline: { name: "raw better-sqlite3, same SQL", samples: rawPage },
      target: TARGETS.sessionPageMs,
    });
    ctx.report.add({
      section: title,
      workload: `SQLite: full stream() scan, ${size}`,
      unit: "events/s",
      better: "higher",
      samples: scan,
      baseline: { name: "raw better-sqlite3 iterate() + JSON.parse", samples: rawScan },
    });
    const groupByBaseline = {
      name: "raw GROUP BY type, actor, risk_level (3 queries)",
      samples: groupBy,
    };
    ctx.report.add({
      section: title,
      workload: `SQLite: \`audit stats\` counts through stream() (what the CLI does), ${size}`,
      unit: "ms",
      better: "lower",
      samples: stats,
      baseline: groupByBaseline,
    });
    if (method) {
      ctx.report.add({
        section: title,
        workload: `SQLite: counts through the store's own \`${method}()\`, ${size}`,
        unit: "ms",
        better: "lower",
        samples: ownStats,
        baseline: groupByBaseline,
        note: `called as ${method}({}); its result is not checked here`,
      });
    } else {
      ctx.report.skip(
        title,
        "SQLite: counts through a store method",
        "the store has no counting method (stats / countBy / groupCount)",
      );
    }
  } finally {
    raw.close();
    await store.close();
  }
}

async function postgresQueries(ctx: BenchContext, title: string, n: number): Promise<void> {
  const { shape, sessionOf } = sessionShape(n);
  const schema = await ctx.freshSchema();
  const store = new PostgresStore({ connectionString: ctx.settings.pgUrl, schema });
  const fill = await timed(async () => {
    for (let i = 0; i < n; i += 5000) {
      const batch = stamped(Math.min(5000, n - i), (rand, k) => shape(rand, i + k), i + 1);
      await store.append(batch as Parameters<AuditStore["append"]>[0]);
    }
  });
  ctx.report.note(
    title,
    `PostgreSQL filled with store.append() in batches of 5,000 (no chain): ${n.toLocaleString("en-US")} small events in ${Math.round(fill.ms / 1000)} s`,
  );
  const client = new pg.Client({ connectionString: ctx.settings.pgUrl });
  await client.connect();
  try {
    await client.query(`ANALYZE "${schema}".events`);
    const page: number[] = [];
    const rawPage: number[] = [];
    const scan: number[] = [];
    const stats: number[] = [];
    const groupBy: number[] = [];
    const method = storeCountingMethod(store);
    const ownStats: number[] = [];
    for (let rep = 0; rep < ctx.settings.reps; rep++) {
      const lat: number[] = [];
      const rawLat: number[] = [];
      for (let k = 0; k < LOOKUPS; k++) {
        const s = sessionOf(k * 7919 + rep * 13);
        let t = performance.now();
        await store.query({ sessionId: s, order: "desc", limit: 100 });
        lat.push(performance.now() - t);
        t = performance.now();
        await client.query(
          `SELECT event FROM "${schema}".events WHERE session_id = $1 ORDER BY time DESC, id DESC LIMIT 100`,
          [s],
        );
        rawLat.push(performance.now() - t);
      }
      page.push(median(lat));
      rawPage.push(median(rawLat));
      await collect();
      let seen = 0;
      const a = await timed(async () => {
        for await (const _ of store.stream()) seen++;
      });
      scan.push((seen / a.ms) * 1000);
      await collect();
      stats.push((await timed(() => statsByStream(store))).ms);
      await collect();
      groupBy.push(
        (
          await timed(async () => {
            for (const col of ["type", "actor", "risk_level"]) {
              await client.query(
                `SELECT ${col} AS k, count(*) AS c, min(time) AS first, max(time) AS last FROM "${schema}".events GROUP BY ${col}`,
              );
            }
          })
        ).ms,
      );
      if (method) ownStats.push(await timeStoreStats(store, method));
    }
    const size = `${n.toLocaleString("en-US")} events stored`;
    ctx.report.add({
      section: title,
      workload: `PostgreSQL: 100 newest events of one session, ${size} (median of ${LOOKUPS} lookups per rep)`,
      unit: "ms",
      better: "lower",
      samples: page,
      baseline: { name: "raw pg, same SQL", samples: rawPage },
      target: TARGETS.sessionPageMs,
    });
    ctx.report.add({
      section: title,
      workload: `PostgreSQL: full stream() scan, ${size}`,
      unit: "events/s",
      better: "higher",
      samples: scan,
    });
    const groupByBaseline = {
      name: "raw GROUP BY type, actor, risk_level (3 queries)",
      samples: groupBy,
    };
    ctx.report.add({
      section: title,
      workload: `PostgreSQL: \`audit stats\` counts through stream() (what the CLI does), ${size}`,
      unit: "ms",
      better: "lower",
      samples: stats,
      baseline: groupByBaseline,
    });
    if (method) {
      ctx.report.add({
        section: title,
        workload: `PostgreSQL: counts through the store's own \`${method}()\`, ${size}`,
        unit: "ms",
        better: "lower",
        samples: ownStats,
        baseline: groupByBaseline,
        note: `called as ${method}({}); its result is not checked here`,
      });
    } else {
      ctx.report.skip(
        title,
        "PostgreSQL: counts through a store method",
        "the store has no counting method (stats / countBy / groupCount)",
      );
    }
  } finally {
    await client.end();
    await store.close();
  }
}

export const queriesSection: Section = {
  name: "queries",
  title: "Queries",
  method:
    "A trail of BENCH_EVENTS small events in sessions of about 100 events. SQLite is filled through an auditor with default settings (so rows carry the chain, as in use); PostgreSQL with `store.append()` in batches of 5,000. Per repetition: the median of 60 lookups of a session's 100 newest events (store.query vs the same SQL on the raw driver), one full `stream()` scan, and `audit stats`-equivalent counts by type, actor and risk (through `stream()`, as the CLI computes them, against three raw GROUP BY queries). Bytes per event: file plus WAL after `wal_checkpoint(TRUNCATE)`, divided by the events recorded (chain checkpoints included in the size).",
  async run(ctx: BenchContext) {
    const n = ctx.settings.events;
    await sqliteQueries(ctx, this.title, n);
    await postgresQueries(ctx, this.title, n);
  },
};
