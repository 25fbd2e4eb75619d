import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AuditConfigError,
  type AuditFilter,
  Auditor,
  openStore,
  StoreError,
  verifyChain,
} from "@audit/core";
import { eventMatches, resolveFilter } from "@audit/core/store-kit";
import { makeEvents, sorted, timeAt } from "@audit/test-suite";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createStoreFromUrl, SCHEMA_VERSION, SqliteStore } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "audit-sqlite-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("opening", () => {
  it("opens sqlite: URLs through openStore, file and memory", async () => {
    const file = await openStore(`sqlite:${join(dir, "url.db")}`);
    expect(file.id).toBe("sqlite");
    await file.append(makeEvents(3));
    expect(await file.count()).toBe(3);
    await file.close();
    const reopened = await openStore(`sqlite://${join(dir, "url.db")}`);
    expect(await reopened.count()).toBe(3);
    await reopened.close();
    const memory = await openStore("sqlite::memory:");
    await memory.append(makeEvents(2));
    expect(await memory.count()).toBe(2);
    await memory.close();
  });

  it("reads options from the URL and refuses unknown ones", () => {
    const s = createStoreFromUrl(`sqlite:${join(dir, "opts.db")}?maxEvents=10&synchronous=normal`);
    expect(s.database.pragma("synchronous", { simple: true })).toBe(1);
    void s.close();
    expect(() => createStoreFromUrl("sqlite:x.db?fast=yes")).toThrow(
      /unknown option "fast" in the store URL; known: maxEvents, synchronous, busyTimeoutMs, pollIntervalMs, readOnly$/,
    );
    expect(() => createStoreFromUrl("sqlite:x.db?synchronous=off")).toThrow(/full or normal/);
    expect(() => createStoreFromUrl("sqlite:x.db?readonly=maybe")).toThrow(/true or false/);
    expect(() => createStoreFromUrl("sqlite:x.db?maxEvents=0")).toThrow(/whole number ≥ 1/);
    expect(() => createStoreFromUrl("sqlite:x.db?maxEvents=5&maxEvents=6")).toThrow(/twice/);
    expect(() => createStoreFromUrl("sqlite:")).toThrow(AuditConfigError);
    expect(() => createStoreFromUrl("sqlite:x.db?maxEvents=lots")).toThrow(/whole number/);
  });

  it("gives a clear error for a path that cannot be opened", () => {
    expect(() => new SqliteStore({ filename: join(dir, "no", "such", "dir", "a.db") })).toThrow(
      StoreError,
    );
    expect(() => new SqliteStore({ filename: join(dir, "no", "such", "dir", "a.db") })).toThrow(
      /directory exists/,
    );
    expect(() => new SqliteStore({})).toThrow(/filename is required/);
  });

  it("uses WAL, a busy timeout, full sync and a schema-version table", async () => {
    const s = new SqliteStore({ filename: join(dir, "pragmas.db"), busyTimeoutMs: 1234 });
    expect(s.database.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(s.database.pragma("busy_timeout", { simple: true })).toBe(1234);
    expect(s.database.pragma("synchronous", { simple: true })).toBe(2);
    expect(s.database.prepare("SELECT max(version) AS v FROM audit_schema_version").get()).toEqual({
      v: SCHEMA_VERSION,
    });
    await s.close();
    // One row per step; reopening does not migrate again.
    const again = new SqliteStore({ filename: join(dir, "pragmas.db") });
    expect(again.database.prepare("SELECT count(*) AS n FROM audit_schema_version").get()).toEqual({
      n: SCHEMA_VERSION,
    });
    await again.close();
  });

  it("refuses a database written by a newer schema", async () => {
    const file = join(dir, "newer.db");
    const s = new SqliteStore({ filename: file });
    s.database.prepare("INSERT INTO audit_schema_version (version) VALUES (99)").run();
    await s.close();
    expect(() => new SqliteStore({ filename: file })).toThrow(/schema version 99, newer/);
  });

  it("uses a connection you pass in, and leaves it open", async () => {
    const db = new Database(join(dir, "mine.db"));
    const s = new SqliteStore({ database: db });
    await s.append(makeEvents(4));
    await s.close();
    expect(db.open).toBe(true);
    expect(db.prepare("SELECT count(*) AS n FROM audit_events").get()).toEqual({ n: 4 });
    db.close();
  });
});

describe("query plans", () => {
  // Every statement the store prepares on its connection while `run` runs, with its parameters.
  async function statementsOf(s: SqliteStore, run: () => Promise<unknown>) {
    const db = s.database;
    const prepare = db.prepare;
    const seen: { sql: string; params: unknown[] }[] = [];
    db.prepare = ((sql: string) => {
      const statement = prepare.call(db, sql);
      for (const method of ["all", "get"] as const) {
        const original = statement[method].bind(statement) as (...p: unknown[]) => unknown;
        (statement as unknown as Record<string, unknown>)[method] = (...params: unknown[]) => {
          seen.push({ sql, params });
          return original(...params);
        };
      }
      return statement;
    }) as typeof db.prepare;
    try {
      await run();
    } finally {
      db.prepare = prepare;
    }
    return seen;
  }

  const planOf = (s: SqliteStore, sql: string, params: unknown[]) =>
    (s.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
      .map((r) => r.detail)
      .join(" | ");

  // What `audit query` sends for each of its options, and the index that must answer it. A range
  // over the leading column (a type prefix, a risk level and above) comes out of its index in that
  // column's order, so the matches are sorted by time: a top-N sort when there is a limit.
  const cliFilters: [string, (ids: string[]) => AuditFilter, RegExp][] = [
    [
      "--type exact",
      () => ({ type: "tool.end" }),
      /SEARCH audit_events USING INDEX audit_events_type \(type=\?/,
    ],
    [
      "--type prefix",
      () => ({ type: "tool.*" }),
      /SEARCH audit_events USING INDEX audit_events_type \(type>\? AND type<\?/,
    ],
    [
      "--actor",
      () => ({ actor: "a1" }),
      /SEARCH audit_events USING INDEX audit_events_actor \(actor=\?/,
    ],
    [
      "--session",
      () => ({ sessionId: "s1" }),
      /SEARCH audit_events USING INDEX audit_events_session \(session_id=\?/,
    ],
    [
      "--run",
      () => ({ runId: "r1" }),
      /SEARCH audit_events USING INDEX audit_events_run \(run_id=\?/,
    ],
    [
      "--approval",
      () => ({ approvalId: "p1" }),
      /SEARCH audit_events USING INDEX audit_events_approval \(approval_id=\?/,
    ],
    [
      "--risk",
      () => ({ risk: "high" }),
      /SEARCH audit_events USING INDEX audit_events_risk \(risk_level=\?/,
    ],
    [
      "--since --until",
      () => ({ since: timeAt(100), until: timeAt(200) }),
      /SEARCH audit_events USING INDEX audit_events_time \(time>\? AND time<\?/,
    ],
    [
      "--after",
      (ids) => ({ after: ids[250]! }),
      /SEARCH audit_events USING INDEX audit_events_time \(\(time,id\)[<>]\(\?,\?\)\)/,
    ],
  ];

  for (const order of ["asc", "desc"] as const) {
    it(`answers every filter of the CLI from its index (${order}, limit 100)`, async () => {
      const s = new SqliteStore({ filename: join(dir, `plans-${order}.db`), writeThread: false });
      const events = makeEvents(500, (i) => ({
        time: timeAt(i),
        type: i % 2 ? "tool.start" : "tool.end",
        sessionId: `s${i % 10}`,
        runId: `r${i % 50}`,
        actor: `a${i % 3}`,
        ...(i % 7 === 0 && { risk: "high" as const }),
        data: { tool: "search", ...(i % 5 === 0 && { approvalId: `p${i % 3}` }) },
      }));
      await s.append(events);
      const ids = events.map((e) => e.id);
      for (const [option, filter, index] of cliFilters) {
        const f = { ...filter(ids), order, limit: 100 };
        const statements = await statementsOf(s, () => s.query(f));
        const select = statements.find((st) => st.sql.startsWith("SELECT time, id, type"));
        expect(select, option).toBeDefined();
        const plan = planOf(s, select!.sql, select!.params);
        expect(plan, option).toMatch(index);
        expect(plan, option).not.toMatch(/SCAN audit_events/);
        // Equality filters come out in time order: at most ids sharing one time are sorted. (An
        // approval id names a request and its resolution: its index needs no time.)
        const sorts = ["--type prefix", "--risk", "--approval"].includes(option);
        if (!sorts) expect(plan, option).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
        const matches = sorted(
          events.filter((e) => eventMatches(resolveFilter(f), e)),
          order,
        );
        const from = f.after === undefined ? 0 : matches.findIndex((e) => e.id === f.after) + 1;
        expect(await s.query(f), option).toEqual(matches.slice(from, from + 100));
      }
      // Payload equality has no index of its own: it may scan, and still answers right.
      const byData = { data: { tool: "search" }, order, limit: 100 };
      expect(await s.query(byData)).toEqual(sorted(events, order).slice(0, 100));
      await s.close();
    });
  }

  it("pages a stream by seeking the (time, id) index, never from the start", async () => {
    const s = new SqliteStore({ filename: join(dir, "plans-stream.db"), writeThread: false });
    await s.append(makeEvents(2500, (i) => ({ time: timeAt(i % 7) })));
    let read = 0;
    const statements = await statementsOf(s, async () => {
      for await (const _ of s.stream()) read++;
    });
    expect(read).toBe(2500);
    const pages = statements.filter((st) => st.sql.includes("(time, id) >"));
    expect(pages).toHaveLength(2);
    for (const page of pages) {
      expect(planOf(s, page.sql, page.params)).toMatch(
        /^SEARCH audit_events USING INDEX audit_events_time \(\(time,id\)>\(\?,\?\)\)$/,
      );
    }
    await s.close();
  });

  it("has only the indexes the filters use", async () => {
    const s = new SqliteStore({ filename: join(dir, "plans-indexes.db") });
    const indexes = s.database
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(indexes).toEqual([
      "audit_events_actor",
      "audit_events_approval",
      "audit_events_risk",
      "audit_events_run",
      "audit_events_session",
      "audit_events_time",
      "audit_events_type",
      "sqlite_autoindex_audit_events_1",
    ]);
    await s.close();
  });
});

async function until(done: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe("live tail", () => {
  it("delivers rows another process commits late with an older time, each once", async () => {
    const file = join(dir, "tail.db");
    const reader = new SqliteStore({ filename: file, pollIntervalMs: 20 });
    const writer = new SqliteStore({ filename: file });
    const seen: string[] = [];
    const stop = reader.subscribe({ type: "tool.*" }, (e) => seen.push(e.id));
    const late = makeEvents(3, (i) => ({ time: timeAt(1000 - i) }));
    const early = makeEvents(3, (i) => ({ time: timeAt(5000 + i) }));
    await writer.append(early);
    await until(() => seen.length >= 3);
    // Committed after the others, with times before all of them.
    await writer.append([...late, makeEvents(1, () => ({ type: "run.start" }))[0]!]);
    await writer.append(early); // repeated ids are skipped: nothing new to deliver
    await until(() => seen.length >= 6);
    await new Promise((r) => setTimeout(r, 100)); // room for a wrong second delivery
    stop();
    expect(seen).toEqual([...early, ...late].map((e) => e.id));
    await writer.close();
    await reader.close();
  });
});

describe("maxEvents", () => {
  it("caps the table without counting on every write", async () => {
    const statements: string[] = [];
    const file = join(dir, "capped.db");
    const s = new SqliteStore({ filename: file, maxEvents: 1000, writeThread: false });
    // Watch every statement the store runs on its connection from now on.
    const db = s.database as Database.Database & { prepare: Database.Database["prepare"] };
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => {
      statements.push(sql);
      return prepare(sql);
    }) as typeof db.prepare;
    for (let i = 0; i < 30; i++)
      await s.append(makeEvents(100, (k) => ({ time: timeAt(i * 100 + k) })));
    expect(await s.count()).toBeLessThanOrEqual(1000);
    expect(await s.count()).toBeGreaterThanOrEqual(900);
    const counts = statements.filter((sql) => /count\(\*\)/i.test(sql));
    expect(counts.length).toBeLessThanOrEqual(2);
    await s.close();
  });

  it("leaves a prune checkpoint for what it cut, so the chains still verify with no gap", async () => {
    const s = new SqliteStore({ filename: join(dir, "capped-chain.db"), maxEvents: 500 });
    const audit = new Auditor({ store: s, spool: false, batch: { maxEvents: 100 } });
    for (let i = 0; i < 2000; i++) audit.record({ type: "work.step", data: { i } });
    await audit.close();
    expect(await s.count()).toBeLessThan(2000);
    const report = await verifyChain(s, { requireClosed: true });
    expect(report.problems).toEqual([]);
    expect(await s.count({ type: "audit.checkpoint", data: { reason: "prune" } })).toBeGreaterThan(
      0,
    );
    await s.close();
  });
});

describe("process lifetime", () => {
  it("does not keep a process alive when it is never closed", async () => {
    const { execFileSync } = await import("node:child_process");
    const { dirname } = await import("node:path");
    const { fileURLToPath } = await import("node:url");
    const program = `import { SqliteStore } from "@audit/sqlite";
const s = new SqliteStore({ filename: ${JSON.stringify(join(dir, "lifetime.db"))} });
await s.append([{ id: "e1", type: "t", time: "2026-01-01T00:00:00.000Z", data: {} }]);
console.log("done");`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", program], {
      cwd: join(dirname(fileURLToPath(import.meta.url)), ".."),
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(out.trim()).toBe("done");
  });
});

describe("read-only and stored rows", () => {
  it("reads and verifies a trail while its writer is still open, changing nothing", async () => {
    const file = join(dir, "live.db");
    const writer = new SqliteStore({ filename: file });
    const audit = new Auditor({ store: writer, spool: false });
    for (let i = 0; i < 50; i++) audit.record({ type: "work.step", data: { i } });
    await audit.flush();
    const reader = new SqliteStore({ filename: file, readOnly: true });
    const report = await verifyChain(reader);
    expect(report.problems).toEqual([]);
    expect(report.events).toBe(50);
    await expect(reader.append(makeEvents(1))).rejects.toThrow(/read-only/);
    await reader.close();
    await audit.close();
    await writer.close();
  });

  it("gives every row once, in (time, id) order, with its columns, across pages", async () => {
    const store = new SqliteStore({ filename: join(dir, "rows.db") });
    // 2,500 events on 3 timestamps: pages must continue inside one timestamp.
    const events = makeEvents(2500, (i) => ({ time: timeAt(i % 3), risk: "medium" }));
    await store.append(events);
    const seen: string[] = [];
    for await (const row of store.storedRows()) {
      expect(row.text).toBeInstanceOf(Uint8Array);
      expect(row.columns?.riskLevel).toBe(1);
      seen.push(row.columns!.id as string);
    }
    expect(seen).toEqual((await store.query()).map((e) => e.id));
    await store.close();
  });

  it("refuses an in-memory database read-only", () => {
    expect(() => new SqliteStore({ filename: ":memory:", readOnly: true })).toThrow(
      AuditConfigError,
    );
  });
});
