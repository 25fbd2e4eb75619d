// SQLite through the auditor against a hand-written better-sqlite3 writer of the very rows the
// auditor stored, and against one INSERT per event.
import { SqliteStore } from "@audit/sqlite";
import Database from "better-sqlite3";
import { type BenchContext, PRODUCER } from "../harness/context.js";
import { collect } from "../harness/memory.js";
import type { Section } from "../harness/section.js";
import { TARGETS } from "../harness/targets.js";
import { spoolNote, throughAuditor } from "../harness/throughput.js";
import { inputs, smallInput, timed } from "../lib.js";

type Cell = string | number | null;

/** Events of the one-INSERT-per-event baseline: each is a commit with an fsync, slow on purpose. */
const NAIVE_EVENTS = 1000;

/** The rows of a trail as stored, column by column, with each body parsed back to an object. */
interface StoredTrail {
  columns: string[];
  rows: Cell[][];
  bodyIndex: number;
  bodies: unknown[];
}

// Reads every row as stored, whatever the schema version (the columns are read, not assumed).
function readTrail(filename: string): StoredTrail {
  const db = new Database(filename, { readonly: true });
  try {
    const all = db.prepare("SELECT * FROM audit_events ORDER BY rowid").all() as Record<
      string,
      Cell
    >[];
    const columns = Object.keys(all[0] ?? {}).filter((c) => c !== "pk");
    const bodyIndex = columns.indexOf("body");
    const rows = all.map((r) => columns.map((c) => r[c] ?? null));
    const bodies = rows.map((r) => JSON.parse(String(r[bodyIndex])));
    return { columns, rows, bodyIndex, bodies };
  } finally {
    db.close();
  }
}

/** A database with the store's own schema and nothing in it. */
function emptyLike(filename: string): Database.Database {
  new SqliteStore({ filename, writeThread: false }).close();
  const db = new Database(filename);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL"); // the store's default
  return db;
}

// What a careful hand-written writer does: serialise each event, insert the rows of a batch of
// 512 in one transaction. Returns events/s.
async function handWritten(ctx: BenchContext, trail: StoredTrail): Promise<number> {
  const db = emptyLike(ctx.file("raw", "db"));
  const insert = db.prepare(
    `INSERT OR IGNORE INTO audit_events (${trail.columns.join(", ")}) VALUES (${trail.columns.map(() => "?").join(", ")})`,
  );
  const tx = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const row = [...(trail.rows[i] as Cell[])];
      row[trail.bodyIndex] = JSON.stringify(trail.bodies[i]);
      insert.run(row);
    }
  });
  await collect();
  const n = trail.rows.length;
  const { ms } = await timed(() => {
    for (let i = 0; i < n; i += 512) tx.immediate(i, Math.min(n, i + 512));
  });
  db.close();
  return (n / ms) * 1000;
}

// One INSERT per event, each its own transaction.
async function naive(ctx: BenchContext, trail: StoredTrail, n: number): Promise<number> {
  const db = emptyLike(ctx.file("naive", "db"));
  const insert = db.prepare(
    `INSERT OR IGNORE INTO audit_events (${trail.columns.join(", ")}) VALUES (${trail.columns.map(() => "?").join(", ")})`,
  );
  await collect();
  const { ms } = await timed(() => {
    for (let i = 0; i < n; i++) {
      const row = [...(trail.rows[i] as Cell[])];
      row[trail.bodyIndex] = JSON.stringify(trail.bodies[i]);
      insert.run(row);
    }
  });
  db.close();
  return (n / ms) * 1000;
}

export const sqliteThroughputSection: Section = {
  name: "sqlite",
  title: "Throughput: SQLite",
  method: `Events/s from the first \`record()\` until \`flush()\` resolves, small events ${PRODUCER}; a fresh database file per repetition. Baseline: a hand-written better-sqlite3 writer of the same rows (read back from the auditor's file, each body parsed and serialised again inside the timing), same schema, WAL with synchronous = FULL like the store, 512 rows per transaction, on the main thread; and a naive writer doing one INSERT per event (1,000 events, each its own transaction).`,
  async run(ctx: BenchContext) {
    const n = Math.min(50_000, ctx.settings.events);
    const events = inputs(n, smallInput, 2);
    const chain: number[] = [];
    const plain: number[] = [];
    const rawChain: number[] = [];
    const rawPlain: number[] = [];
    const naiveRate: number[] = [];
    let spooledChain = 0;
    let spooledPlain = 0;
    for (let rep = 0; rep < ctx.settings.reps; rep++) {
      const fileA = ctx.file("sqlite-chain", "db");
      const a = new SqliteStore({ filename: fileA });
      const runA = await throughAuditor(ctx, a, events);
      await a.close();
      chain.push(runA.eventsPerSecond);
      spooledChain += runA.spooled;
      const trailA = readTrail(fileA);
      rawChain.push(await handWritten(ctx, trailA));
      naiveRate.push(await naive(ctx, trailA, Math.min(NAIVE_EVENTS, trailA.rows.length)));

      const fileB = ctx.file("sqlite-plain", "db");
      const b = new SqliteStore({ filename: fileB });
      const runB = await throughAuditor(ctx, b, events, { integrity: false, privacy: false });
      await b.close();
      plain.push(runB.eventsPerSecond);
      spooledPlain += runB.spooled;
      rawPlain.push(await handWritten(ctx, readTrail(fileB)));
    }
    const label = `${n.toLocaleString("en-US")} small events`;
    ctx.report.add({
      section: this.title,
      workload: `SQLite through the auditor, defaults (chain + privacy), ${label}`,
      unit: "events/s",
      better: "higher",
      samples: chain,
      baseline: { name: "hand-written better-sqlite3 writer, same rows", samples: rawChain },
      target: TARGETS.sqliteChainVsRaw,
      ...spoolNote(spooledChain),
    });
    ctx.report.add({
      section: this.title,
      workload: `SQLite through the auditor, integrity: false, privacy: false, ${label}`,
      unit: "events/s",
      better: "higher",
      samples: plain,
      baseline: { name: "hand-written better-sqlite3 writer, same rows", samples: rawPlain },
      target: TARGETS.sqlitePlainVsRaw,
      ...spoolNote(spooledPlain),
    });
    ctx.report.add({
      section: this.title,
      workload: `SQLite through the auditor, defaults (chain + privacy), ${label}`,
      unit: "events/s",
      better: "higher",
      samples: chain,
      baseline: { name: "naive: one INSERT per event", samples: naiveRate },
      target: TARGETS.vsNaive,
    });
  },
};
