import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type AuditError,
  type AuditEvent,
  type AuditExporter,
  Auditor,
  AuditValidationError,
  MemoryStore,
  Spool,
  StoreError,
  uuidv7,
  verifyChain,
} from "../src/index.js";
import { SwitchableStore, tempDir } from "./helpers.js";

// The fault tests of the write path. Where a store must misbehave in a way no real store can be
// made to (an append that never settles, a refusal of one chosen event), a MemoryStore subclass
// stands in and says so; the same faults are injected into real PostgreSQL in that package's
// tests, and the disk-full tests use a real file-size limit.

/** Stand-in: a real MemoryStore whose appends never settle while `hung` is true. */
class HungStore extends MemoryStore {
  hung = true;
  override append(events: readonly AuditEvent[]): Promise<void> {
    if (this.hung) return new Promise(() => {});
    return super.append(events);
  }
}

/** Stand-in: a real MemoryStore that refuses any batch holding an event marked poison. */
class PickyStore extends MemoryStore {
  override append(events: readonly AuditEvent[]): Promise<void> {
    if (events.some((e) => e.data.poison === true)) {
      return Promise.reject(new AuditValidationError("value refused by the store"));
    }
    return super.append(events);
  }
}

const CORE = resolve(import.meta.dirname, "../dist/index.js");

describe("hung store", () => {
  it("replays a large spool a batch at a time: a store still down costs one batch, and close() keeps its bound", async () => {
    const dir = tempDir();
    // 100,000 events left in the spool by an earlier run (a dead process's file).
    const writer = new Spool(dir);
    const t0 = Date.parse("2026-01-01T00:00:00.000Z");
    for (let b = 0; b < 100; b++) {
      writer.write(
        Array.from({ length: 1000 }, (_, i) => ({
          id: uuidv7(),
          time: new Date(t0 + b * 1000 + i).toISOString(),
          type: "t",
          data: { i: b * 1000 + i, text: "x".repeat(100) },
        })),
      );
    }
    writer.close();
    const parsed: number[] = [];
    const original = Spool.prototype.readBatches;
    Spool.prototype.readBatches = function* (file, maxEvents) {
      for (const batch of original.call(this, file, maxEvents)) {
        parsed.push(batch.events.length);
        yield batch;
      }
    };
    try {
      const store = new HungStore({ maxEvents: 1_000_000 });
      const audit = new Auditor({
        store,
        spool: dir,
        appendTimeoutMs: 50,
        closeTimeoutMs: 1000,
        retry: { attempts: 1, initialDelayMs: 1 },
        onError: () => undefined,
      });
      audit.record({ type: "t", data: { late: true } });
      const started = Date.now();
      await audit.close();
      // Each replay attempt (at start, at close) read one batch and stopped at the hung store.
      expect(parsed.length).toBeGreaterThan(0);
      expect(parsed.length).toBeLessThanOrEqual(4);
      expect(Math.max(...parsed)).toBeLessThanOrEqual(1000);
      // The bound, with a wide margin for a loaded machine: a whole-file parse took seconds here.
      expect(Date.now() - started).toBeLessThan(1000 + 4000);
      // Nothing was lost: the store comes back and everything is replayed, exactly once.
      store.hung = false;
      parsed.length = 0;
      const next = new Auditor({ store, spool: dir });
      expect(await next.replaySpool()).toBe(true);
      await next.close();
      expect(await store.count({ type: "t" })).toBe(100_001);
      expect(parsed.length).toBeGreaterThanOrEqual(100);
    } finally {
      Spool.prototype.readBatches = original;
    }
  });

  it("times out appends, marks the store down, spools, and close() settles within its bound", async () => {
    const spool = tempDir();
    const store = new HungStore();
    const errors: AuditError[] = [];
    const audit = new Auditor({
      store,
      spool,
      appendTimeoutMs: 50,
      closeTimeoutMs: 1000,
      retry: { attempts: 2, initialDelayMs: 1 },
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 10; i++) audit.record({ type: "t", data: { i } });
    const result = await audit.flush();
    expect(result).toEqual({ spooled: 10, quarantined: 0, lost: 0 });
    const h = audit.health();
    expect(h.store.state).toBe("down");
    expect(Date.parse(h.store.since)).toBeGreaterThan(0);
    expect(h.store.lastError).toMatch(/did not settle within 50 ms/);
    expect(h.spool?.events).toBe(10);
    expect(errors.some((e) => e.code === "AUDIT_STORE")).toBe(true);
    audit.record({ type: "t", data: { late: true } });
    await audit.close();
    const spooled = readdirSync(spool).flatMap((f) =>
      readFileSync(join(spool, f), "utf8").trim().split("\n"),
    );
    // 11 events and the final checkpoint; nothing left only in memory.
    expect(spooled.length).toBe(12);
    // The store comes back: a new auditor replays everything, exactly once.
    store.hung = false;
    const next = new Auditor({ store, spool });
    expect(await next.replaySpool()).toBe(true);
    await next.close();
    expect(await store.count({ type: "t" })).toBe(11);
    expect((await verifyChain(store)).problems.filter((p) => p.kind !== "unclosed")).toEqual([]);
  });

  it("close() gives up on a store that hangs mid-close and leaves the rest in the spool", async () => {
    const spool = tempDir();
    const store = new HungStore();
    store.hung = false;
    const audit = new Auditor({ store, spool, appendTimeoutMs: 60_000, closeTimeoutMs: 300 });
    audit.record({ type: "t" });
    await audit.flush();
    store.hung = true;
    audit.record({ type: "t", data: { second: true } });
    const started = process.hrtime.bigint();
    await audit.close();
    // A correctness bound, far above the 300 ms option: close did not wait for the 60 s append.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(20_000);
    const text = readdirSync(spool)
      .map((f) => readFileSync(join(spool, f), "utf8"))
      .join("");
    expect(text).toContain('"second":true');
  });

  it("strict commit() rejects with a store error instead of hanging", async () => {
    const audit = new Auditor({
      store: new HungStore(),
      spool: tempDir(),
      durability: "strict",
      appendTimeoutMs: 30,
      closeTimeoutMs: 200,
      retry: { attempts: 2, initialDelayMs: 1 },
      onError: () => {},
    });
    const run = audit.startRun({ agent: "a" });
    await expect(run.tool("x", {}, () => "never runs")).rejects.toBeInstanceOf(StoreError);
    await audit.close();
  });
});

describe("poison events", () => {
  it("writes the rest of the batch, quarantines the refused event, and keeps the store up", async () => {
    const spool = tempDir();
    const store = new PickyStore();
    const errors: AuditError[] = [];
    const audit = new Auditor({ store, spool, onError: (e) => errors.push(e) });
    for (let i = 0; i < 20; i++) audit.record({ type: "t", data: { i, poison: i === 7 } });
    expect(await audit.flush()).toEqual({ spooled: 0, quarantined: 1, lost: 0 });
    expect(await store.count({ type: "t" })).toBe(19);
    expect(audit.health().store.state).toBe("up");
    expect(audit.health().events.quarantined).toBe(1);
    expect(errors.map((e) => e.code)).toContain("AUDIT_EVENT_REJECTED");
    const q = readFileSync(join(spool, "quarantine.jsonl"), "utf8").trim().split("\n");
    expect(q).toHaveLength(1);
    expect(JSON.parse(q[0]!)).toMatchObject({ reason: /refused/, event: { data: { i: 7 } } });
    // Later events still go to the store, and the quarantine is never replayed.
    audit.record({ type: "t", data: { after: true } });
    await audit.flush();
    expect(await store.count({ type: "t" })).toBe(20);
    expect(await audit.replaySpool()).toBe(true);
    await audit.close();
  });

  it("makes strings storable: NUL and lone surrogates become U+FFFD, truncation keeps pairs", async () => {
    const store = new MemoryStore();
    const audit = new Auditor({ store, spool: false, normalize: { maxStringLength: 5 } });
    const e = audit.record({
      type: "t",
      data: { nul: "a\u0000b", lone: "x\ud800y", "k\u0000": 1, emoji: "abcd😀😀" },
      actor: "bad\udc00actor",
    });
    await audit.close();
    expect(e.data.nul).toBe("a\ufffdb");
    expect(e.data.lone).toBe("x\ufffdy");
    expect(e.data["k\ufffd"]).toBe(1);
    expect(String(e.data.emoji).startsWith("abcd…")).toBe(true);
    expect(e.actor).toBe("bad\ufffdactor");
    const stored = JSON.stringify(await store.query());
    expect(stored).not.toMatch(/\\u0000|\\ud[89ab]/i);
  });
});

describe("exporters never hold up the store, flush, close or approvals", () => {
  it("a hanging exporter delays flush() by one timeout at most, and is counted", async () => {
    const hang: AuditExporter = { id: "hang", export: () => new Promise(() => {}) };
    const syncThrow: AuditExporter = {
      id: "sync-throw",
      export() {
        throw new Error("boom");
      },
    };
    const asyncThrow: AuditExporter = {
      id: "async-throw",
      export: async () => Promise.reject(new Error("bang")),
    };
    const store = new MemoryStore();
    const audit = new Auditor({
      store,
      spool: false,
      exporters: [hang, syncThrow, asyncThrow],
      exportTimeoutMs: 300,
      batch: { maxEvents: 2 },
      onError: () => {},
    });
    for (let i = 0; i < 20; i++) audit.record({ type: "t", data: { i } });
    const started = Date.now();
    await audit.flush();
    // Ten batches queued on the hung lane: flush waits one timeout (300 ms), not ten (3 s).
    expect(Date.now() - started).toBeLessThan(2500);
    expect(await store.count()).toBe(20);
    const run = audit.startRun({ agent: "a" });
    const id = run.requestApproval({ action: "pay" });
    const t0 = Date.now();
    await audit.approvals.resolve(id, { outcome: "approve", resolvedBy: "alice" });
    expect(Date.now() - t0).toBeLessThan(2500);
    await run.end();
    await audit.close();
    const byId = Object.fromEntries(audit.health().exporters.map((x) => [x.id, x]));
    expect(byId.hang!.timedOut).toBeGreaterThan(0);
    expect(byId["sync-throw"]!.failed).toBeGreaterThan(0);
    expect(byId["async-throw"]!.failed).toBeGreaterThan(0);
    expect(audit.stats().exportFailed).toBeGreaterThan(0);
  });
});

describe("no crash", () => {
  it("a stray directory named like a spool file is ignored", async () => {
    const spool = tempDir();
    mkdirSync(join(spool, "spool-0000-1.jsonl"));
    mkdirSync(join(spool, "spool-0001-1.jsonl.replaying-1~abc"));
    const store = new MemoryStore();
    const audit = new Auditor({ store, spool });
    audit.record({ type: "t" });
    await audit.flush();
    expect(await audit.replaySpool()).toBe(true);
    await audit.close();
    expect(await store.count({ type: "t" })).toBe(1);
  });

  it("a processor that returns a BigInt, or a payload holding one, does not break the pipeline", async () => {
    const store = new MemoryStore();
    const errors: AuditError[] = [];
    const audit = new Auditor({
      store,
      spool: false,
      onError: (e) => errors.push(e),
      processors: [
        {
          name: "bigint-result",
          process: (e) => (e.type === "a" ? (10n as unknown as AuditEvent) : e),
        },
        { name: "bigint-payload", process: (e) => ({ ...e, data: { ...e.data, n: 5n } }) },
      ],
    });
    audit.record({ type: "a" });
    audit.record({ type: "b" });
    await audit.close();
    const stored = await store.query();
    expect(stored.map((e) => e.type)).toEqual(["a", "b", "audit.checkpoint"]);
    expect(stored[0]!.data).toMatchObject({ $processorError: /bigint-result/ });
    expect(stored[1]!.data).toMatchObject({ n: "5" });
    expect(errors.some((e) => /bigint-result/.test(e.message))).toBe(true);
  });
});

describe("close() replays the spool once the store answers", () => {
  it("a quick close right after an outage leaves nothing in the spool", async () => {
    const spool = tempDir();
    const store = new SwitchableStore();
    store.down = true;
    const audit = new Auditor({
      store,
      spool,
      retry: { attempts: 1, maxDelayMs: 60_000 },
      onError: () => {},
    });
    for (let i = 0; i < 5; i++) audit.record({ type: "t", data: { i } });
    await audit.flush();
    store.down = false;
    await audit.close();
    expect(await store.count({ type: "t" })).toBe(5);
    expect(readdirSync(spool)).toEqual([]);
  });
});

describe("disk full under the spool (a real file-size limit)", () => {
  it("acknowledges only whole durable lines, cuts partial writes back, rejects strict commits", () => {
    const spool = tempDir();
    const script = `
      const { Auditor, MemoryStore } = await import(${JSON.stringify(CORE)});
      process.on("SIGXFSZ", () => {});
      class Down extends MemoryStore { append() { return Promise.reject(new Error("down")); } }
      const errors = [];
      const acked = [];
      let rejected = 0;
      for (const durability of ["relaxed", "strict"]) {
        const audit = new Auditor({ store: new Down(), spool: process.argv[1], durability,
          retry: { attempts: 1 }, integrity: false, onError: (e) => errors.push(e.code + " " + e.message) });
        for (let i = 0; i < 60; i++) {
          const e = audit.record({ type: "t", data: { durability, i, pad: "x".repeat(3000) } });
          try { await audit.commit(e); if (durability === "relaxed") acked.push(e.id); } catch { if (durability === "relaxed") rejected++; }
        }
        await audit.close();
      }
      console.log(JSON.stringify({ acked, rejected, errors: errors.filter((e) => e.includes("AUDIT_SPOOL")).length }));
    `;
    // 8 blocks of 512 bytes per file: one ~3 KB line fits, the next write is cut short (EFBIG).
    const out = execFileSync(
      "bash",
      [
        "-c",
        `ulimit -f 8; exec "${process.execPath}" --input-type=module -e "$0" "$1"`,
        script,
        spool,
      ],
      { encoding: "utf8" },
    );
    const { acked, rejected, errors } = JSON.parse(out.trim().split("\n").pop()!);
    expect(errors).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
    const lines = readdirSync(spool)
      .filter((f) => f.startsWith("spool-"))
      .flatMap((f) => readFileSync(join(spool, f), "utf8").split("\n"))
      .filter((l) => l.length > 0);
    // Every line is a whole event: nothing fused, nothing torn.
    const ids = new Set(lines.map((l) => (JSON.parse(l) as AuditEvent).id));
    for (const id of acked) expect(ids.has(id)).toBe(true);
    expect(acked.length).toBeGreaterThan(0);
    expect(acked.length).toBeLessThan(60);
  });
});

describe("the exit hook", () => {
  it("spills the queue to the spool on process.exit()", () => {
    const spool = tempDir();
    const script = `
      const { Auditor, MemoryStore } = await import(${JSON.stringify(CORE)});
      class Slow extends MemoryStore { append() { return new Promise(() => {}); } }
      const audit = new Auditor({ store: new Slow(), spool: process.argv[1] });
      const e = audit.record({ type: "t", data: { exiting: true } });
      console.log(e.id);
      process.exit(0);
    `;
    const id = execFileSync(process.execPath, ["--input-type=module", "-e", script, spool], {
      encoding: "utf8",
    }).trim();
    const text = readdirSync(spool)
      .map((f) => readFileSync(join(spool, f), "utf8"))
      .join("");
    expect(text).toContain(id);
  });

  it("holds auditors weakly: a dropped auditor is collected", () => {
    const script = `
      const { Auditor, MemoryStore } = await import(${JSON.stringify(CORE)});
      let collected = false;
      const registry = new FinalizationRegistry(() => { collected = true; });
      (() => { const a = new Auditor({ store: new MemoryStore(), spool: false, integrity: false }); registry.register(a, "a"); })();
      for (let i = 0; i < 20 && !collected; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      console.log(collected);
    `;
    const out = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(out.stdout.trim()).toBe("true");
  });
});

describe("a dead process's spool claim is taken over even when its pid is reused", () => {
  it("a claim naming a live, unrelated process with another start time is replayed", async () => {
    const spool = tempDir();
    // The claim names this very process's pid (alive!) with a start time it never had.
    const stale = `spool-0190000000000000-1.jsonl.replaying-${process.pid}.1.00000000~abcdef`;
    const event = {
      id: "01900000-0000-7000-8000-000000000001",
      type: "t",
      time: "2026-01-01T00:00:00.000Z",
      data: {},
    };
    writeFileSync(join(spool, stale), `${JSON.stringify(event)}\n`);
    const store = new MemoryStore();
    const audit = new Auditor({ store, spool });
    expect(await audit.replaySpool()).toBe(true);
    await audit.close();
    expect(await store.get(event.id)).toBeDefined();
  });
});
