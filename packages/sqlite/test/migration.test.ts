import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type AuditEvent,
  Auditor,
  canonicalJson,
  hashEvent,
  type VerifyReport,
  verifyChain,
} from "@audit/core";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { SCHEMA_VERSION, SqliteStore } from "../src/index.js";

// Written by @audit/sqlite 0.1.0 (schema 1), through two Auditors with the default chain: six
// runs with tool calls, model calls and policy decisions, an approval requested and resolved and
// one left pending, a burst of events in one millisecond, checkpoints every 25 events, a prune
// (and its checkpoint), then both closed. 96 rows; `verifyChain(…, { requireClosed: true })` found
// nothing wrong in it with the schema-1 code.
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE = join(packageDir, "test", "fixtures", "schema-1-trail.db");
const dir = mkdtempSync(join(tmpdir(), "audit-sqlite-migrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let copies = 0;
function schema1Copy(): string {
  const file = join(dir, `schema-1-${copies++}.db`);
  copyFileSync(FIXTURE, file);
  return file;
}

// What the schema-1 code read: each body as JSON, in (time, id) order, with its rowid.
function schema1Events(file: string): { pk: number; event: AuditEvent }[] {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare("SELECT pk, body FROM audit_events ORDER BY time, id").all() as {
      pk: number;
      body: string;
    }[];
    return rows.map((r) => ({ pk: r.pk, event: JSON.parse(r.body) as AuditEvent }));
  } finally {
    db.close();
  }
}

const named = (report: VerifyReport, kind: string) =>
  report.problems.filter((p) => p.kind === kind).map((p) => p.eventId);

describe("migrating a schema-1 database", () => {
  it("moves every event in place: same events, same rowids, the chains verify", async () => {
    const file = schema1Copy();
    const before = schema1Events(file);
    expect(before).toHaveLength(96);

    const store = new SqliteStore({ filename: file });
    const db = store.database;
    expect(db.prepare("SELECT version FROM audit_schema_version ORDER BY version").all()).toEqual([
      { version: 1 },
      { version: 2 },
    ]);
    expect(SCHEMA_VERSION).toBe(2);
    const events = await store.query();
    expect(events).toEqual(before.map((b) => b.event));
    for (const e of events) expect(hashEvent(e), e.id).toBe(e.chain!.hash);
    const rowids = db.prepare("SELECT pk, id FROM audit_events").all() as {
      pk: number;
      id: string;
    }[];
    expect(new Map(rowids.map((r) => [r.id, r.pk]))).toEqual(
      new Map(before.map((b) => [b.event.id, b.pk])),
    );
    // Clean rows are split, none kept verbatim, and each reads back as its canonical text.
    expect(db.prepare("SELECT count(*) AS n FROM audit_events WHERE data IS NULL").get()).toEqual({
      n: 0,
    });
    for await (const row of store.storedRows()) {
      const text = Buffer.from(row.text).toString("utf8");
      expect(text).toBe(canonicalJson(JSON.parse(text)));
    }
    const report = await verifyChain(store, { requireClosed: true });
    expect(report.problems).toEqual([]);
    expect(report.events).toBe(96);

    // The filters answer from the new columns as they did from the old ones.
    const count = (f: (e: AuditEvent) => boolean) => before.filter((b) => f(b.event)).length;
    expect(await store.count({ type: "tool.*" })).toBe(count((e) => e.type.startsWith("tool.")));
    expect(await store.count({ risk: "high" })).toBe(
      count((e) => e.risk === "high" || e.risk === "critical"),
    );
    expect(await store.count({ sessionId: "s-1" })).toBe(count((e) => e.sessionId === "s-1"));
    const tick = before.find((b) => b.event.type === "job.tick")!.event;
    expect(await store.count({ data: { r: tick.data.r as number } })).toBe(
      count((e) => e.data.r === tick.data.r),
    );

    // And the trail goes on: a new writer appends, and everything still verifies.
    const audit = new Auditor({ store, spool: false });
    const run = audit.startRun({ agent: "after-upgrade" });
    await run.tool("noop", {}, async () => "ok");
    await run.end({ output: "done" });
    await audit.close();
    expect((await verifyChain(store, { requireClosed: true })).problems).toEqual([]);
    await store.close();
  });

  it("keeps what a verifier finds in a schema-1 file: forged columns, non-strict bodies", async () => {
    const file = schema1Copy();
    const before = schema1Events(file).map((b) => b.event);
    const request = before.find((e) => e.type === "approval.request")!;
    const [tool, other, third] = before.filter((e) => e.type === "tool.start");
    const db = new Database(file);
    // The attacks of the tamper suite, made on the schema-1 layout.
    db.prepare("UPDATE audit_events SET risk_level = 0 WHERE id = ?").run(request.id);
    db.prepare("UPDATE audit_events SET actor = 'mallory' WHERE id = ?").run(tool!.id);
    const body = (id: string) =>
      (db.prepare("SELECT body FROM audit_events WHERE id = ?").get(id) as { body: string }).body;
    const duplicate = body(other!.id).replace('"data":{', '"data":{"tool":"wire",');
    db.prepare("UPDATE audit_events SET body = ? WHERE id = ?").run(duplicate, other!.id);
    const bytes = Buffer.from(body(third!.id));
    bytes[bytes.indexOf(Buffer.from('"lookup_order"')) + 1] = 0xff;
    db.prepare("UPDATE audit_events SET body = CAST(? AS TEXT) WHERE id = ?").run(bytes, third!.id);
    db.close();

    const store = new SqliteStore({ filename: file, writeThread: false });
    const report = await verifyChain(store, { requireClosed: true });
    expect(named(report, "column-mismatch").sort()).toEqual([request.id, tool!.id].sort());
    expect(named(report, "non-strict-json").sort()).toEqual([other!.id, third!.id].sort());
    expect(named(report, "hash-mismatch")).toEqual([third!.id]);
    // The forged risk column still hides the request from a risk filter, as it did: the finding
    // above is how it is caught.
    expect((await store.query({ risk: "high" })).map((e) => e.id)).not.toContain(request.id);
    await store.close();
  });

  it("migrates once when several processes open the same schema-1 file at once", async () => {
    const file = schema1Copy();
    const program = `import { SqliteStore } from "@audit/sqlite";
const store = new SqliteStore({ filename: ${JSON.stringify(file)}, busyTimeoutMs: 60000 });
console.log(JSON.stringify({ count: await store.count(), tools: await store.count({ type: "tool.*" }) }));
await store.close();`;
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", program], {
          cwd: packageDir,
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => {
          out += d;
        });
        child.stderr.on("data", (d) => {
          err += d;
        });
        child.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(err))));
      });
    const results = await Promise.all(Array.from({ length: 4 }, run));
    const tools = schema1Events(FIXTURE).filter((b) => b.event.type.startsWith("tool."));
    for (const r of results) expect(JSON.parse(r)).toEqual({ count: 96, tools: tools.length });
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT version FROM audit_schema_version ORDER BY version").all()).toEqual([
      { version: 1 },
      { version: 2 },
    ]);
    db.close();
  }, 60_000);

  it("refuses to read a schema-1 file read-only, saying how to upgrade it", () => {
    const file = schema1Copy();
    expect(() => new SqliteStore({ filename: file, readOnly: true })).toThrow(
      /schema version 1 and is open read-only.*open it once with write access/,
    );
  });
});
