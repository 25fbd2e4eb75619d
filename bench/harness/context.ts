// What every section is given: the run's settings from the environment, a scratch directory,
// PostgreSQL, the report, and fresh auditors with default settings.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Auditor, type AuditorInit, type AuditStore, type EventInput } from "@audit/core";
import pg from "pg";
import type { Report } from "./report.js";

/** The run's settings, from BENCH_* variables. */
export interface Settings {
  /** Rows in the query stores, and the most events of any other section (BENCH_EVENTS). */
  events: number;
  /** Events of the JSONL read section (BENCH_JSONL_EVENTS, else BENCH_EVENTS, else 1,000,000). */
  jsonlEvents: number;
  /** Repetitions of every measurement (BENCH_REPS, at least 5 for a published run). */
  reps: number;
  /** Sections to run (BENCH_ONLY), or all. */
  only: string[] | undefined;
  /** PostgreSQL (AUDIT_TEST_POSTGRES_URL). */
  pgUrl: string;
}

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replace(/_/g, ""));
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name} must be a whole number ≥ 1, got ${raw}`);
  return n;
}

/** Reads the BENCH_* variables. */
export function readSettings(): Settings {
  // 200,000 by default keeps a whole run within about 25 minutes on a small shared machine; the
  // JSONL read section keeps its million unless told otherwise.
  const events = count("BENCH_EVENTS", 200_000);
  return {
    events,
    jsonlEvents: count("BENCH_JSONL_EVENTS", process.env.BENCH_EVENTS ? events : 1_000_000),
    reps: count("BENCH_REPS", 5),
    only: process.env.BENCH_ONLY?.split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    pgUrl: process.env.AUDIT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  };
}

/** The shared state of one run. */
export class BenchContext {
  readonly settings: Settings;
  readonly report: Report;
  /** A scratch directory removed at the end. */
  readonly work = mkdtempSync(join(tmpdir(), "audit-bench-"));
  #pool: pg.Pool | undefined;
  readonly #schemas: string[] = [];
  #dirs = 0;

  constructor(settings: Settings, report: Report) {
    this.settings = settings;
    this.report = report;
  }

  /** A new empty directory inside the scratch directory. */
  dir(label: string): string {
    const d = join(this.work, `${label}-${++this.#dirs}`);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** A path for a new file inside the scratch directory. */
  file(label: string, ext: string): string {
    return join(this.work, `${label}-${++this.#dirs}.${ext}`);
  }

  /** An administrative pool on the benchmark's PostgreSQL. */
  get pg(): pg.Pool {
    this.#pool ??= new pg.Pool({ connectionString: this.settings.pgUrl, max: 2 });
    return this.#pool;
  }

  /** A schema name that does not exist yet (dropped at the end of the run). */
  async freshSchema(): Promise<string> {
    const s = `bench_${process.pid}_${this.#schemas.length}`;
    this.#schemas.push(s);
    await this.pg.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    return s;
  }

  /**
   * An auditor with the default settings, except the options passed (a row that passes any names
   * them). It gets a spool directory of its own: the behaviour is the default's (spool on), but
   * one auditor's leftovers cannot be replayed into the next one's store.
   */
  auditor(store: AuditStore, options: Partial<AuditorInit> = {}): Auditor {
    return new Auditor({
      spool: this.dir("spool"),
      onError: (e) => this.report.errors.add(e.message.slice(0, 300)),
      ...options,
      store,
    });
  }

  /** Drops the schemas this run made and closes the pool. */
  async cleanup(): Promise<void> {
    if (!this.#pool) return;
    for (const s of this.#schemas) {
      await this.#pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
    }
    await this.#pool.end();
  }
}

/** A turn of the event loop, so timers and I/O callbacks run between bursts of recording. */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** How {@link recordAll} produces events, for the sections' method texts. */
export const PRODUCER =
  "recorded in bursts of 500 with a turn of the event loop between bursts, pausing while more than 5,000 events are queued (half the default bound, so that the queue does not overflow into the spool; the event-loop section shows what overflow does)";

/** Queued events past which {@link recordAll} waits: half the default queue bound (10,000). */
export const QUEUE_HIGH_WATER = 5000;

/**
 * Records every input in bursts of `burst` events with a turn of the event loop between bursts,
 * then waits until all of them are durable. Like an agent that watches the auditor's queue, it
 * waits (1 ms timers) while more than {@link QUEUE_HIGH_WATER} events are queued: a producer
 * faster than the store would otherwise fill the default queue, and `onOverflow: "block"` would
 * move the excess to the spool, measuring the spool instead of the store (the event-loop section
 * shows that case).
 */
export async function recordAll(
  audit: Auditor,
  inputs: readonly EventInput[],
  burst = 500,
): Promise<void> {
  for (let i = 0; i < inputs.length; i++) {
    audit.record(inputs[i] as EventInput);
    if (i % burst === burst - 1) {
      await turn();
      while ((audit.stats().queued ?? 0) > QUEUE_HIGH_WATER) {
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  }
  await audit.flush();
}
