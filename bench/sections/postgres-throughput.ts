// PostgreSQL through the auditor against raw pg writing the very rows the auditor stored in
// batches of the same size, and against one INSERT per event.
import type { AuditEvent } from "@audit/core";
import { PostgresStore } from "@audit/postgres";
import pg from "pg";
import { type BenchContext, PRODUCER } from "../harness/context.js";
import { collect } from "../harness/memory.js";
import type { Section } from "../harness/section.js";
import { TARGETS } from "../harness/targets.js";
import { spoolNote, throughAuditor } from "../harness/throughput.js";
import { inputs, smallInput, timed } from "../lib.js";

// The columns every version of the schema has; the rest are filled when present.
const BASE = ["id", "time", "type", "actor", "session_id", "run_id"] as const;
const RISK = ["low", "medium", "high", "critical"];

function columnValue(e: AuditEvent, column: string): unknown {
  switch (column) {
    case "id":
      return e.id;
    case "time":
      return e.time;
    case "type":
      return e.type;
    case "actor":
      return e.actor ?? null;
    case "session_id":
      return e.sessionId ?? null;
    case "run_id":
      return e.runId ?? null;
    case "approval_id": {
      const a = (e.data as Record<string, unknown> | undefined)?.approvalId;
      return typeof a === "string" ? a : null;
    }
    case "risk_level":
      return e.risk ? RISK.indexOf(e.risk) : null;
    case "chain_id":
      return e.chain?.id ?? null;
    case "chain_seq":
      return e.chain?.seq ?? null;
    default:
      return null;
  }
}

const PG_TYPES: Record<string, string> = {
  time: "timestamptz",
  risk_level: "smallint",
  chain_seq: "bigint",
};

/** Inserts `events` into `schema`.events in batches with unnest, as the store does; events/s. */
async function rawWriter(
  client: pg.Client,
  schema: string,
  events: readonly AuditEvent[],
  batch: number,
): Promise<number> {
  const present = new Set(
    (
      await client.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events'",
        [schema],
      )
    ).rows.map((r) => r.column_name),
  );
  const columns = [
    ...BASE,
    ...["approval_id", "risk_level", "chain_id", "chain_seq"].filter((c) => present.has(c)),
  ];
  const body = present.has("event") ? "event" : "body";
  const sql = `INSERT INTO "${schema}".events (${columns.join(", ")}, ${body})
    SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${PG_TYPES[c] ?? "text"}[]`).join(", ")}, $${columns.length + 1}::jsonb[])
    ON CONFLICT DO NOTHING`;
  await collect();
  const { ms } = await timed(async () => {
    for (let i = 0; i < events.length; i += batch) {
      const b = events.slice(i, i + batch);
      await client.query(sql, [
        ...columns.map((c) => b.map((e) => columnValue(e, c))),
        b.map((e) => JSON.stringify(e)),
      ]);
    }
  });
  return (events.length / ms) * 1000;
}

async function emptySchema(ctx: BenchContext): Promise<string> {
  const schema = await ctx.freshSchema();
  const prep = new PostgresStore({ connectionString: ctx.settings.pgUrl, schema });
  await prep.count();
  await prep.close();
  return schema;
}

export const postgresThroughputSection: Section = {
  name: "postgres",
  title: "Throughput: PostgreSQL",
  method: `Events/s from the first \`record()\` until \`flush()\` resolves, small events ${PRODUCER}, a fresh schema per repetition. Baseline: raw pg writing the same rows (read back from the auditor's schema) into an empty schema made by the store, \`INSERT … SELECT FROM unnest(…)\` in batches of 512, awaited one after the other; and one INSERT per event (1,000 events).`,
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
    const client = new pg.Client({ connectionString: ctx.settings.pgUrl });
    await client.connect();
    try {
      for (let rep = 0; rep < ctx.settings.reps; rep++) {
        for (const variant of ["chain", "plain"] as const) {
          const schema = await ctx.freshSchema();
          const store = new PostgresStore({ connectionString: ctx.settings.pgUrl, schema });
          const run = await throughAuditor(
            ctx,
            store,
            events,
            variant === "plain" ? { integrity: false, privacy: false } : {},
          );
          const stored: AuditEvent[] = [];
          for await (const e of store.stream()) stored.push(e);
          await store.close();
          const raw = await rawWriter(client, await emptySchema(ctx), stored, 512);
          if (variant === "chain") {
            chain.push(run.eventsPerSecond);
            spooledChain += run.spooled;
            rawChain.push(raw);
            const naiveSchema = await emptySchema(ctx);
            naiveRate.push(await rawWriter(client, naiveSchema, stored.slice(0, 1000), 1));
          } else {
            plain.push(run.eventsPerSecond);
            spooledPlain += run.spooled;
            rawPlain.push(raw);
          }
        }
      }
    } finally {
      await client.end();
    }
    const label = `${n.toLocaleString("en-US")} small events`;
    const add = (workload: string, samples: number[], rest: object) =>
      ctx.report.add({
        section: this.title,
        workload,
        unit: "events/s",
        better: "higher",
        samples,
        ...rest,
      });
    add(`PostgreSQL through the auditor, defaults (chain + privacy), ${label}`, chain, {
      baseline: { name: "raw pg, same rows, unnest batches of 512", samples: rawChain },
      target: TARGETS.postgresChainVsRaw,
      ...spoolNote(spooledChain),
    });
    add(`PostgreSQL through the auditor, integrity: false, privacy: false, ${label}`, plain, {
      baseline: { name: "raw pg, same rows, unnest batches of 512", samples: rawPlain },
      target: TARGETS.postgresPlainVsRaw,
      ...spoolNote(spooledPlain),
    });
    add(`PostgreSQL through the auditor, defaults (chain + privacy), ${label}`, chain, {
      baseline: { name: "naive: one INSERT per event", samples: naiveRate },
      target: TARGETS.vsNaive,
    });
  },
};
