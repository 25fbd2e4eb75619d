import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuditEvent,
  type AuditExporter,
  Auditor,
  type AuditStore,
  PrivacyFilter,
  uuidv7,
  verifyChain,
} from "@audit/core";
import { JsonlStore } from "@audit/jsonl";
import { LoggingExporter } from "@audit/logging";
import { createOtlpExporter } from "@audit/otel";
import { PostgresStore } from "@audit/postgres";
import { SqliteStore } from "@audit/sqlite";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHECKPOINT_SIGNATURE,
  CORPUS,
  envelopeCorpus,
  leakedMarkers,
  lostLookAlikes,
  recordCorpus,
} from "../../core/test/privacy-corpus.js";

// The secret corpus (72 secrets in every position) recorded through the real auditor into each
// store, with a logging exporter writing a file and an OTLP/HTTP exporter posting to a receiver in
// this process; then every marker is searched in the raw bytes: the SQLite file with its -wal and
// -shm, the JSONL files, PostgreSQL rows read as text, the spool directory, the log file and the
// OTLP request bodies. Envelope fields and a reserved checkpoint go through PrivacyFilter.apply
// and straight into each store and exporter, until the auditor passes whole events through
// privacy.

const PG_URL = process.env.AUDIT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const work = mkdtempSync(join(tmpdir(), "audit-corpus-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every byte of every file under `path` (latin1 keeps bytes one to one). */
function bytesUnder(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return "";
  if (!st.isDirectory()) return readFileSync(path, "latin1");
  return readdirSync(path)
    .map((name) => bytesUnder(join(path, name)))
    .join("\n");
}

/** An OTLP/HTTP receiver that keeps the raw request bodies. */
let receiver: Server;
let receiverUrl = "";
const otlpBodies: Buffer[] = [];
beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      otlpBodies.push(Buffer.concat(chunks));
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
  const address = receiver.address() as { port: number };
  receiverUrl = `http://127.0.0.1:${address.port}/v1/traces`;
});
afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

const now = () => ({ id: uuidv7(), time: new Date().toISOString() });

interface Target {
  name: string;
  open(): Promise<AuditStore>;
  /** The raw bytes (or raw rows) of what the store persisted. */
  raw(store: AuditStore): Promise<string>;
  cleanup?(): Promise<void>;
}

const pgSchema = `corpus_${uuidv7().slice(-12)}`;
const targets: Target[] = [
  {
    name: "SQLite (file, -wal, -shm, and every column read by SQL)",
    open: async () => {
      mkdirSync(join(work, "sqlite"));
      return new SqliteStore({ filename: join(work, "sqlite", "audit.db") });
    },
    raw: async (store) => {
      const file = (store as SqliteStore).filename;
      const files = [file, `${file}-wal`, `${file}-shm`].map((f) => bytesUnder(f)).join("\n");
      // Text that overflows a page is split across pages in the file; the columns read by SQL
      // put it back together.
      const rows = (store as SqliteStore).database
        .prepare("SELECT * FROM audit_events")
        .all()
        .map((r) => JSON.stringify(r));
      return `${files}\n${rows.join("\n")}`;
    },
  },
  {
    name: "JSONL (every file in the directory)",
    open: async () => new JsonlStore({ dir: join(work, "jsonl") }),
    raw: async (store) => bytesUnder((store as JsonlStore).dir),
  },
  {
    name: "PostgreSQL (whole rows read as text)",
    open: async () => new PostgresStore({ connectionString: PG_URL, schema: pgSchema }),
    raw: async (store) => {
      const r = await (store as PostgresStore).pool.query(
        `SELECT t::text AS row FROM "${pgSchema}".events t`,
      );
      return r.rows.map((x: { row: string }) => x.row).join("\n");
    },
    cleanup: async () => {
      const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
      await admin.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
      await admin.end();
    },
  },
];

/** A fresh store of the same kind as the target named `name`. */
async function openControl(name: string): Promise<AuditStore> {
  if (name.startsWith("SQLite")) {
    mkdirSync(join(work, "sqlite-control"));
    return new SqliteStore({ filename: join(work, "sqlite-control", "audit.db") });
  }
  if (name.startsWith("JSONL")) return new JsonlStore({ dir: join(work, "jsonl-control") });
  return new PostgresStore({ connectionString: PG_URL, schema: pgSchema });
}

function exporters(logFile: string): { list: AuditExporter[]; flushLog: () => void } {
  const destination = pino.destination({ dest: logFile, sync: true, mkdir: true });
  const logger = pino({ level: "debug" }, destination);
  return {
    list: [
      new LoggingExporter({ logger }),
      createOtlpExporter({ url: receiverUrl, captureContent: true }),
    ],
    flushLog: () => destination.flushSync(),
  };
}

describe("the secret corpus in every store and exporter", () => {
  it("has more than 60 secrets", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
  });

  for (const target of targets) {
    it(`leaves no marker in ${target.name}, keeps the look-alikes, and verifies`, async () => {
      const store = await target.open();
      const logFile = join(work, `${target.name.split(" ")[0]}.log`);
      const { list, flushLog } = exporters(logFile);
      const spool = join(work, `spool-${target.name.split(" ")[0]}`);
      try {
        const audit = new Auditor({
          store,
          spool,
          exporters: list,
          privacy: { captureContent: true },
        });
        await recordCorpus(audit);
        // Envelope fields and a reserved checkpoint, through the privacy filter, to the store and
        // to the same exporters.
        const filter = new PrivacyFilter();
        const extra = envelopeCorpus(now).map((e) => filter.apply(e as AuditEvent));
        for (const exporter of list) await exporter.export(extra);
        await audit.close();
        await store.append(extra);

        const raw = await target.raw(store);
        expect(raw.length).toBeGreaterThan(10_000);
        expect(leakedMarkers(raw).map((s) => `${s.n} ${s.where}`)).toEqual([]);
        expect(lostLookAlikes(raw)).toEqual([]);
        expect(raw).toContain(CHECKPOINT_SIGNATURE);
        flushLog();
        const log = bytesUnder(logFile);
        expect(log.length).toBeGreaterThan(1000);
        expect(leakedMarkers(log).map((s) => `${s.n} ${s.where}`)).toEqual([]);
        expect(leakedMarkers(bytesUnder(spool))).toEqual([]);
        // The auditor's chains verify; only the hand-made checkpoint names a chain the store
        // does not hold.
        const report = await verifyChain(store);
        const extraIds = new Set(extra.map((e) => e.id));
        expect(report.problems.filter((p) => !extraIds.has(p.eventId ?? ""))).toEqual([]);
      } finally {
        await store.close();
        await target.cleanup?.();
      }
    });
  }

  // The control: the same search finds the markers when privacy is off, so a pass above means
  // the secrets were scrubbed, not that the raw read missed them.
  for (const target of targets) {
    it(`finds the markers in ${target.name.split(" (")[0]} when privacy is off`, async () => {
      const original = target.name;
      const store = await openControl(original);
      try {
        const audit = new Auditor({ store, spool: false, privacy: false });
        await recordCorpus(audit);
        await audit.close();
        const raw = await target.raw(store);
        expect(leakedMarkers(raw).length).toBeGreaterThanOrEqual(60);
      } finally {
        await store.close();
        await target.cleanup?.();
      }
    });
  }

  it("leaves no marker in the OTLP request bodies", () => {
    const bodies = Buffer.concat(otlpBodies).toString("latin1");
    expect(bodies.length).toBeGreaterThan(1000);
    expect(leakedMarkers(bodies).map((s) => `${s.n} ${s.where}`)).toEqual([]);
  });

  it("leaves no marker in the spool while PostgreSQL cannot be reached", async () => {
    const spool = join(work, "spool-down");
    // Nothing listens on port 1: every append fails, and batches go to the spool.
    const store = new PostgresStore({
      connectionString: "postgres://postgres@127.0.0.1:1/test",
      connectTimeoutMs: 500,
    });
    const audit = new Auditor({
      store,
      spool,
      retry: { attempts: 1, initialDelayMs: 1 },
      privacy: { captureContent: true },
      onError: () => undefined,
    });
    await recordCorpus(audit).catch(() => undefined);
    await audit.close();
    await store.close();
    const raw = bytesUnder(spool);
    expect(raw.length).toBeGreaterThan(5000);
    expect(leakedMarkers(raw).map((s) => `${s.n} ${s.where}`)).toEqual([]);
  });
});
