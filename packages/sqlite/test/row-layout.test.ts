import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuditEvent,
  Auditor,
  AuditValidationError,
  canonicalJson,
  hashEvent,
  uuidv7,
} from "@audit/core";
import { makeEvent, makeEvents, timeAt } from "@audit/test-suite";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "audit-sqlite-layout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const fresh = () => new SqliteStore({ filename: join(dir, `layout-${files++}.db`) });

async function storedTexts(store: SqliteStore): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for await (const row of store.storedRows()) {
    const text = Buffer.from(row.text).toString("utf8");
    texts.set((JSON.parse(text) as AuditEvent).id, text);
  }
  return texts;
}

describe("the row layout", () => {
  it("reads back exactly the event that was hashed, and stores its canonical text", async () => {
    const store = fresh();
    const audit = new Auditor({ store, spool: false });
    const run = audit.startRun({ agent: "bot", sessionId: "s-1" });
    await run.tool(
      "search",
      { q: "héllo — 你好 — 👋", "10": 1, "2": [true, null, 0.5] },
      async () => 1,
    );
    run.requestApproval({ action: "refund", reason: "over limit" });
    await run.end({ output: { nested: { deep: "x".repeat(5000) } } });
    await audit.close();
    const events = await store.query();
    expect(events.length).toBeGreaterThan(5);
    const texts = await storedTexts(store);
    for (const e of events) {
      expect(hashEvent(e), e.type).toBe(e.chain!.hash);
      expect(texts.get(e.id)).toBe(canonicalJson(e));
      expect(await store.get(e.id)).toEqual(e);
    }
    await store.close();
  });

  it("keeps members no column holds exactly: risk, another chain shape, newer members, lone surrogates", async () => {
    const store = fresh();
    const odd: AuditEvent[] = [
      makeEvent({ risk: "critical", time: timeAt(1) }),
      // A chain with a member of a later format, and one whose hash is no SHA-256 hex.
      makeEvent({
        time: timeAt(2),
        chain: { id: "c", seq: 1, prev: "", hash: "ABC", extra: 1 } as never,
      }),
      makeEvent({ time: timeAt(3), chain: { id: "c", seq: 2, prev: "ABC", hash: "f".repeat(64) } }),
      // A member this version does not know, and one called __proto__.
      JSON.parse(
        `{"id":"${uuidv7()}","type":"x.y","time":"${timeAt(4)}","data":{},"origin":"import","__proto__":{"a":1}}`,
      ) as AuditEvent,
      makeEvent({ time: timeAt(5), actor: "lone \ud800 surrogate", id: "id-\udc00" }),
      makeEvent({ time: timeAt(6), actor: "nul \u0000 inside", data: { s: "\u0000" } }),
    ];
    await store.append(odd);
    const texts = await storedTexts(store);
    for (const e of odd) {
      const read = await store.get(e.id);
      expect(read).toEqual(e);
      expect(canonicalJson(read)).toBe(canonicalJson(e));
      expect(Object.keys(read!).sort()).toEqual(Object.keys(e).sort());
      // Appended directly, not sealed here: the payload is kept as JSON.stringify writes it.
      expect(JSON.parse(texts.get(e.id)!)).toEqual(e);
    }
    expect((await store.query({ risk: "high" })).map((e) => e.id)).toEqual([odd[0]!.id]);
    await store.close();
  });

  it("stores the same rows on the write thread as on the caller's thread", async () => {
    const events = [
      ...makeEvents(3, (i) => ({
        time: timeAt(i),
        chain: { id: "c", seq: i + 1, prev: i ? "a".repeat(64) : "", hash: "b".repeat(64) },
      })),
      makeEvent({ chain: { id: "c", seq: 9, prev: "B".repeat(64), hash: "not hex" } }),
      makeEvent({ risk: "high", actor: "x" }),
    ];
    const tables: unknown[][] = [];
    for (const writeThread of [true, false]) {
      const store = new SqliteStore({
        filename: join(dir, `paths-${writeThread}.db`),
        writeThread,
      });
      await store.append(events);
      tables.push(
        store.database
          .prepare(
            "SELECT *, typeof(chain_prev) AS p, typeof(chain_hash) AS h FROM audit_events ORDER BY pk",
          )
          .all(),
      );
      await store.close();
    }
    expect(tables[0]).toEqual(tables[1]);
    expect((tables[0] as { p: string; h: string }[]).map((r) => `${r.p} ${r.h}`)).toEqual([
      "text blob",
      "blob blob",
      "blob blob",
      "text text",
      "null null",
    ]);
  });

  it("refuses a time that is no real instant, and writes nothing of its batch", async () => {
    const store = fresh();
    const ok = makeEvent();
    const bad = makeEvent({ time: "2026-02-30T00:00:00.000Z" });
    await expect(store.append([ok, bad])).rejects.toThrow(AuditValidationError);
    await expect(store.append([ok, bad])).rejects.toThrow(/2026-02-30T00:00:00.000Z is not a real/);
    expect(await store.count()).toBe(0);
    await store.close();
  });

  it("keeps a small event in about 530 bytes (was 1,225)", async () => {
    const file = join(dir, "small.db");
    const store = new SqliteStore({ filename: file });
    const audit = new Auditor({ store, spool: false });
    const n = 5000;
    for (let i = 0; i < n; i++) {
      audit.record({
        type: "tool.start",
        sessionId: `s-${i % 50}`,
        runId: `r-${i % 500}`,
        actor: "support-bot",
        data: {
          tool: "lookup_order",
          callId: `c-${i}`,
          args: { orderId: `A-${1000 + (i % 9000)}`, q: "refund order customer" },
        },
      });
    }
    await audit.close();
    store.database.pragma("wal_checkpoint(TRUNCATE)");
    const perEvent = statSync(file).size / (await store.count());
    await store.close();
    // Counted bytes, not time: the layout's size is deterministic up to page fill.
    expect(perEvent).toBeLessThan(600);
  });
});
