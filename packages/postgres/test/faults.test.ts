import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditError, Auditor, verifyChain } from "@audit/core";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../src/index.js";
import { dropSchema, freshSchema, PG_URL, serverAvailable } from "./postgres.js";

// The write path's failure contracts against the real server: a value it refuses, a table it
// cannot write to (held by another session's lock), and strings it would refuse without
// normalisation.

const available = await serverAvailable();
const d = available ? describe : describe.skip;
const schemas: string[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c().catch(() => undefined);
  for (const s of schemas) await dropSchema(s);
});

async function setup() {
  const schema = freshSchema("faults");
  schemas.push(schema);
  const store = new PostgresStore({ connectionString: PG_URL, schema });
  closers.push(() => store.close());
  await store.count();
  const spool = mkdtempSync(join(tmpdir(), "audit-pg-faults-"));
  closers.push(async () => rmSync(spool, { recursive: true, force: true }));
  return { schema, store, spool };
}

d("PostgreSQL faults", () => {
  it("a value the server refuses is quarantined; the rest of its batch is stored and the store stays up", async () => {
    const { schema, store, spool } = await setup();
    // The server itself refuses one event: a CHECK constraint on the payload.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(
      `ALTER TABLE "${schema}".events ADD CONSTRAINT no_poison CHECK (NOT (event->'data' ? 'poison'))`,
    );
    await admin.end();
    const errors: AuditError[] = [];
    const audit = new Auditor({ store, spool, onError: (e) => errors.push(e) });
    for (let i = 0; i < 50; i++) {
      audit.record({ type: "work.step", data: i === 17 ? { i, poison: true } : { i } });
    }
    expect(await audit.flush()).toEqual({ spooled: 0, quarantined: 1, lost: 0 });
    audit.record({ type: "work.step", data: { i: 50 } });
    await audit.flush();
    expect(audit.health().store.state).toBe("up");
    expect(await store.count({ type: "work.step" })).toBe(50);
    const q = readFileSync(join(spool, "quarantine.jsonl"), "utf8").trim().split("\n");
    expect(q).toHaveLength(1);
    expect(JSON.parse(q[0]!).reason).toMatch(/no_poison|check constraint/i);
    expect(errors.some((e) => e.code === "AUDIT_EVENT_REJECTED")).toBe(true);
    await audit.close();
  }, 60_000);

  it("NUL bytes and lone surrogates are stored (as U+FFFD) and the chain verifies", async () => {
    const { store } = await setup();
    const audit = new Auditor({ store, spool: false, normalize: { maxStringLength: 8192 } });
    const e1 = audit.record({ type: "t", data: { nul: "a\u0000b", lone: "\ud83d" } });
    // Truncation at 8,192 units right after the first half of an emoji pair.
    const e2 = audit.record({ type: "t", data: { long: `${"x".repeat(8191)}😀tail` } });
    expect(await audit.flush()).toEqual({ spooled: 0, quarantined: 0, lost: 0 });
    await audit.close();
    expect((await store.get(e1.id))?.data).toEqual({ nul: "a\ufffdb", lone: "\ufffd" });
    expect(await store.get(e2.id)).toBeDefined();
    expect((await verifyChain(store)).problems.filter((p) => p.kind !== "unclosed")).toEqual([]);
  }, 60_000);

  it("a table locked by another session: appends time out, events spool, close settles, then replay", async () => {
    const { schema, store, spool } = await setup();
    const locker = new pg.Client({ connectionString: PG_URL });
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query(`LOCK TABLE "${schema}".events IN ACCESS EXCLUSIVE MODE`);
    const audit = new Auditor({
      store,
      spool,
      appendTimeoutMs: 200,
      closeTimeoutMs: 2000,
      retry: { attempts: 2, initialDelayMs: 10 },
      onError: () => {},
    });
    const ids = Array.from({ length: 20 }, (_, i) => audit.record({ type: "t", data: { i } }).id);
    const result = await audit.flush();
    expect(result.spooled).toBe(20);
    expect(audit.health().store.state).toBe("down");
    await audit.close();
    await locker.query("ROLLBACK");
    await locker.end();
    // The inserts left waiting on the lock may land now too: replay by id keeps one of each.
    const next = new Auditor({ store, spool });
    expect(await next.replaySpool()).toBe(true);
    await next.close();
    const stored = await store.query({ type: "t" });
    expect(new Set(stored.map((e) => e.id))).toEqual(new Set(ids));
    expect(stored).toHaveLength(20);
  }, 60_000);
});
