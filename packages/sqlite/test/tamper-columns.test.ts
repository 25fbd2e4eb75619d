import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEvent, Auditor, type ChainProblem, verifyChain } from "@audit/core";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../src/index.js";

// The tamper suite (tamper.test.ts) replaces whole texts. Here the attacker edits one column of a
// row as schema 2 splits it: a column that holds a member of the event changes the text a reader
// gets, so its hash no longer holds; a column that only indexes the body (approval, risk) is
// compared with it.
const dir = mkdtempSync(join(tmpdir(), "audit-sqlite-columns-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const original = join(dir, "trail.db");
let events: AuditEvent[] = [];

beforeAll(async () => {
  const store = new SqliteStore({ filename: original });
  const audit = new Auditor({ store, spool: false });
  const run = audit.startRun({ agent: "refund-bot", sessionId: "s-1" });
  for (let i = 0; i < 3; i++) await run.tool("lookup", { order: i }, async () => ({ ok: i }));
  run.requestApproval({ action: "refund", reason: "over limit" });
  await run.end({ output: "done" });
  await audit.close();
  events = await store.query();
  await store.close();
});

let copies = 0;
async function attack(sql: string, ...params: unknown[]): Promise<ChainProblem[]> {
  const file = join(dir, `attacked-${copies++}.db`);
  copyFileSync(original, file);
  const db = new Database(file);
  expect(db.prepare(sql).run(...params).changes).toBe(1);
  db.close();
  const store = new SqliteStore({ filename: file, readOnly: true });
  try {
    const report = await verifyChain(store, { requireClosed: true });
    expect(report.ok).toBe(false);
    return report.problems;
  } finally {
    await store.close();
  }
}

const tool = () => events.find((e) => e.type === "tool.start" && e.spanId !== undefined)!;
const request = () => events.find((e) => e.type === "approval.request")!;
const update = (column: string) => `UPDATE audit_events SET ${column} = ? WHERE id = ?`;
const findings = (problems: ChainProblem[], id: string) =>
  problems.filter((p) => p.eventId === id).map((p) => p.kind);

describe("a forged column of a split row", () => {
  it("leaves an untouched trail verifying", async () => {
    const store = new SqliteStore({ filename: original, readOnly: true });
    expect((await verifyChain(store, { requireClosed: true })).problems).toEqual([]);
    await store.close();
  });

  // Columns that hold a member: the text read back changes, so the event's hash fails.
  const members: [string, () => unknown][] = [
    ["type", () => "tool.end"],
    ["time", () => Date.parse(tool().time) + 1],
    ["actor", () => "mallory"],
    ["session_id", () => "s-2"],
    ["run_id", () => "r-forged"],
    ["span_id", () => "0000000000000001"],
    ["parent_span_id", () => null],
    ["trace_id", () => "4bf92f3577b34da6a3ce929d0e0e4736"],
    ["chain_seq", () => tool().chain!.seq + 100],
    ["chain_prev", () => Buffer.alloc(32)],
    ["chain_hash", () => Buffer.alloc(32, 1)],
    ["data", () => JSON.stringify({ ...tool().data, tool: "wire" })],
  ];
  for (const [column, value] of members) {
    it(`finds ${column} changed (hash-mismatch)`, async () => {
      const problems = await attack(update(column), value(), tool().id);
      expect(findings(problems, tool().id)).toContain("hash-mismatch");
    });
  }

  it("finds id changed (hash-mismatch, on the id the row now shows)", async () => {
    const id = tool().id;
    const forged = `${id.slice(0, -1)}${id.endsWith("0") ? "1" : "0"}`;
    const problems = await attack(update("id"), forged, tool().id);
    expect(findings(problems, forged)).toContain("hash-mismatch");
  });

  it("finds a row moved to another chain (its chain is broken)", async () => {
    const problems = await attack(
      update("chain_id"),
      "01a00000-0000-7000-8000-000000000000",
      tool().id,
    );
    expect(findings(problems, tool().id)).toContain("hash-mismatch");
    expect(problems.some((p) => p.kind === "gap" && p.chainId === tool().chain!.id)).toBe(true);
  });

  it("finds the risk in extra changed (hash-mismatch, and the risk column disagrees)", async () => {
    const problems = await attack(update("extra"), '{"risk":"low"}', request().id);
    expect(findings(problems, request().id)).toEqual(
      expect.arrayContaining(["hash-mismatch", "column-mismatch"]),
    );
  });

  // Columns that only index the body: compared with it.
  for (const [column, value] of [
    ["approval_id", "01a00000-0000-7000-8000-000000000001"],
    ["risk_level", 0],
  ] as const) {
    it(`finds ${column} changed (column-mismatch)`, async () => {
      const problems = await attack(update(column), value, request().id);
      expect(findings(problems, request().id)).toEqual(["column-mismatch"]);
    });
  }
});
