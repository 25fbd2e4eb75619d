import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AuditConfigError,
  Auditor,
  openStore,
  resolveFilter,
  StoreError,
  verifyChain,
} from "@audit/core";
import { makeEvents, timeAt } from "@audit/test-suite";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createStoreFromUrl, SCHEMA_VERSION, SqliteStore } from "../src/index.js";
import { filterToSql } from "../src/sql-filter.js";

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
    expect(() => createStoreFromUrl("sqlite:x.db?fast=yes")).toThrow(/unknown option "fast"/);
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
    // Reopening does not migrate twice.
    const again = new SqliteStore({ filename: join(dir, "pragmas.db") });
    expect(again.database.prepare("SELECT count(*) AS n FROM audit_schema_version").get()).toEqual({
      n: 1,
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
  const plan = (s: SqliteStore, sql: string, ...params: unknown[]) =>
    (s.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
      .map((r) => r.detail)
      .join(" | ");

  it("serves every filter from an index, never a full scan", async () => {
    const s = new SqliteStore({ filename: join(dir, "plans.db") });
    await s.append(
      makeEvents(500, (i) => ({
        sessionId: `s${i % 10}`,
        runId: `r${i % 50}`,
        actor: `a${i % 3}`,
        risk: "high",
      })),
    );
    s.database.exec("ANALYZE");
    const q = "SELECT body FROM audit_events";
    expect(
      plan(s, `${q} WHERE session_id = ? ORDER BY time DESC, id DESC LIMIT 100`, "s1"),
    ).toContain("USING INDEX audit_events_session");
    expect(plan(s, `${q} WHERE run_id = ? ORDER BY time, id`, "r1")).toContain(
      "USING INDEX audit_events_run",
    );
    expect(plan(s, `${q} WHERE actor = ? ORDER BY time, id`, "a1")).toContain(
      "USING INDEX audit_events_actor",
    );
    expect(plan(s, `${q} WHERE approval_id = ?`, "x")).toContain(
      "USING INDEX audit_events_approval",
    );
    expect(
      plan(s, `${q} WHERE (type >= ? AND type < ?) ORDER BY time, id`, "tool.", "tool/"),
    ).toMatch(/USING (COVERING )?INDEX audit_events_(type|time)/);
    expect(plan(s, `${q} WHERE time >= ? ORDER BY time, id LIMIT 100`, timeAt(450))).toMatch(
      /USING INDEX audit_events_time/,
    );
    expect(plan(s, `${q} WHERE id = ?`, "x")).toMatch(
      /USING INDEX sqlite_autoindex_audit_events_1|USING COVERING INDEX/,
    );
    // The store's own keyset page must seek the index, not scan from the start on every page.
    const { where, params } = filterToSql(resolveFilter({}), { time: timeAt(100), id: "x" });
    expect(plan(s, `${q} ${where} ORDER BY time, id LIMIT 1000`, ...params)).toMatch(
      /SEARCH audit_events USING INDEX audit_events_time \(\(time,id\)>\(\?,\?\)\)/,
    );
    for (const sql of [
      `${q} WHERE session_id = ? ORDER BY time, id`,
      `${q} ORDER BY time, id LIMIT 10`,
    ]) {
      expect(plan(s, sql, ...(sql.includes("?") ? ["s1"] : []))).not.toMatch(
        /SCAN audit_events(?! USING)/,
      );
    }
    await s.close();
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
