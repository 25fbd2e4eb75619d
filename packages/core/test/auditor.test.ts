import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuditClosedError,
  AuditConfigError,
  type AuditError,
  type AuditEvent,
  AuditOverflowError,
  Auditor,
  type AuditorInit,
  AuditValidationError,
  createAuditor,
  MemoryStore,
  StoreError,
} from "../src/index.js";
import { SwitchableStore, tempDir } from "./helpers.js";

const open: Auditor[] = [];
function auditor(options: AuditorInit): Auditor {
  const a = new Auditor({
    spool: tempDir(),
    retry: { initialDelayMs: 1, maxDelayMs: 20 },
    ...options,
  });
  open.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

function uniqueIds(events: AuditEvent[]): number {
  return new Set(events.map((e) => e.id)).size;
}

describe("record", () => {
  it("stamps id, time, actor and normalised data, and returns the event as stored", async () => {
    const store = new MemoryStore();
    const audit = auditor({ store, actor: "svc" });
    const circular: Record<string, unknown> = { when: new Date(0) };
    circular.me = circular;
    const e = audit.record({ type: "custom.thing", data: circular, risk: "low" });
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(e.actor).toBe("svc");
    expect(e.data).toEqual({ when: "1970-01-01T00:00:00.000Z", me: "[Circular]" });
    await audit.flush();
    expect(await store.get(e.id)).toEqual(e);
  });

  it("rejects malformed input with a clear error", () => {
    const audit = auditor({ store: new MemoryStore() });
    expect(() => audit.record({ type: "Bad Type" })).toThrow(AuditValidationError);
    expect(() => audit.record({ type: "ok", risk: "extreme" as "high" })).toThrow(/risk/);
    expect(() => audit.record({ type: "ok", time: "never" })).toThrow(/time/);
    expect(() => audit.record(null as never)).toThrow(AuditValidationError);
  });

  it("refuses record after close, and close is idempotent", async () => {
    const audit = auditor({ store: new MemoryStore() });
    const p1 = audit.close();
    expect(audit.close()).toBe(p1);
    await p1;
    expect(() => audit.record({ type: "x" })).toThrow(AuditClosedError);
  });

  it("accepts explicit ids and times (imports) and normalises the time", async () => {
    const store = new MemoryStore();
    const audit = auditor({ store });
    const e = audit.record({ type: "x", id: "import-1", time: new Date("2020-01-01T00:00:00Z") });
    expect(e.time).toBe("2020-01-01T00:00:00.000Z");
    await audit.flush();
    expect(await store.get("import-1")).toBeDefined();
  });
});

describe("group commit", () => {
  it("writes many events in few batches, by size and by delay", async () => {
    const store = new SwitchableStore();
    const audit = auditor({ store, batch: { maxEvents: 100, maxDelayMs: 20 } });
    for (let i = 0; i < 1000; i++) audit.record({ type: "load.test", data: { i } });
    await audit.flush();
    expect(await store.count({ type: "load.test" })).toBe(1000);
    // The hash chain adds a checkpoint after 1000 events.
    expect(await store.count({ type: "audit.checkpoint" })).toBe(1);
    expect(store.appendCalls).toBeLessThanOrEqual(12);
    expect(store.appendCalls).toBeGreaterThanOrEqual(10);
    // A lone event is written after maxDelayMs without any flush call.
    const calls = store.appendCalls;
    const lone = audit.record({ type: "lone" });
    await new Promise((r) => setTimeout(r, 200));
    expect(store.appendCalls).toBe(calls + 1);
    expect(await store.get(lone.id)).toBeDefined();
  });

  it("keeps recorded order within the store's (time, id) order", async () => {
    const store = new MemoryStore();
    const audit = auditor({ store, batch: { maxEvents: 7 } });
    const recorded = Array.from({ length: 500 }, (_, i) =>
      audit.record({ type: "n", data: { i } }),
    );
    await audit.flush();
    expect((await store.query()).map((e) => e.id)).toEqual(recorded.map((e) => e.id));
  });
});

describe("store failures", () => {
  it("retries a store that fails N times then recovers: nothing lost, nothing duplicated", async () => {
    const store = new SwitchableStore();
    store.failures = 3;
    store.ambiguous = true; // each failure wrote the batch before throwing
    const errors: AuditError[] = [];
    const audit = auditor({
      store,
      retry: { attempts: 5, initialDelayMs: 1 },
      onError: (e) => errors.push(e),
    });
    const recorded = Array.from({ length: 300 }, (_, i) =>
      audit.record({ type: "t", data: { i } }),
    );
    const result = await audit.flush();
    expect(result.spooled).toBe(0);
    const stored = await store.query();
    expect(stored).toHaveLength(300);
    expect(uniqueIds(stored)).toBe(300);
    expect(stored.map((e) => e.id).sort()).toEqual(recorded.map((e) => e.id).sort());
    expect(store.failedCalls).toBe(3);
    expect(errors).toHaveLength(0);
    expect(audit.stats()).toMatchObject({ stored: 300, spooled: 0, lost: 0, storeHealthy: true });
  });

  it("spools when the store is down for good, and a fresh store gets every event from the spool", async () => {
    const spool = tempDir();
    const store = new SwitchableStore();
    store.down = true;
    const errors: AuditError[] = [];
    const audit = auditor({
      store,
      spool,
      retry: { attempts: 2, initialDelayMs: 1 },
      onError: (e) => errors.push(e),
    });
    const recorded = Array.from({ length: 250 }, (_, i) =>
      audit.record({ type: "t", data: { i } }),
    );
    const result = await audit.flush();
    expect(result.spooled).toBe(250);
    expect(audit.stats()).toMatchObject({ spooled: 250, lost: 0, storeHealthy: false });
    expect(errors.some((e) => e instanceof StoreError && /spool/.test(e.message))).toBe(true);
    await audit.close();
    const files = readdirSync(spool);
    expect(files.length).toBeGreaterThan(0);
    // 250 events and the chain's final checkpoint, written on close.
    const lines = files.flatMap((f) => readFileSync(join(spool, f), "utf8").trim().split("\n"));
    expect(lines.length).toBe(251);

    // Another process (here: a new auditor) opens the same spool with a working store.
    const fresh = new MemoryStore();
    const next = auditor({ store: fresh, spool });
    expect(await next.replaySpool()).toBe(true);
    const stored = await fresh.query({ type: "t" });
    expect(stored.map((e) => e.id)).toEqual(recorded.map((e) => e.id));
    expect(readdirSync(spool)).toEqual([]);
    // Replaying again changes nothing: replay is by id.
    await fresh.append(recorded);
    expect(await fresh.count()).toBe(251);
  });

  it("replays the spool into the same store once it comes back, exactly once", async () => {
    const store = new SwitchableStore();
    store.down = true;
    const audit = auditor({
      store,
      retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 10 },
      onError: () => {},
    });
    const first = Array.from({ length: 100 }, (_, i) => audit.record({ type: "t", data: { i } }));
    await audit.flush();
    const whileDown = Array.from({ length: 100 }, (_, i) =>
      audit.record({ type: "t", data: { i: 100 + i } }),
    );
    await audit.flush();
    expect(await store.count()).toBe(0);
    store.down = false;
    // The auditor probes by itself; wait for it rather than calling replaySpool.
    for (let i = 0; i < 200 && !audit.stats().storeHealthy; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(audit.stats().storeHealthy).toBe(true);
    const after = audit.record({ type: "t", data: { i: 200 } });
    await audit.flush();
    const stored = await store.query();
    expect(stored).toHaveLength(201);
    expect(uniqueIds(stored)).toBe(201);
    expect(new Set(stored.map((e) => e.id))).toEqual(
      new Set([...first, ...whileDown, after].map((e) => e.id)),
    );
    expect(audit.stats().replayed).toBe(200);
  });

  it("skips and reports a torn line in the spool without losing the rest", async () => {
    const spool = tempDir();
    const store = new SwitchableStore();
    store.down = true;
    const a = auditor({ store, spool, retry: { attempts: 1 }, onError: () => {} });
    for (let i = 0; i < 10; i++) a.record({ type: "t", data: { i } });
    await a.close();
    const [file] = readdirSync(spool);
    const { appendFileSync } = await import("node:fs");
    appendFileSync(join(spool, file!), '{"id":"torn","type":"t","ti');
    const errors: AuditError[] = [];
    const fresh = new MemoryStore();
    const b = auditor({ store: fresh, spool, onError: (e) => errors.push(e) });
    expect(await b.replaySpool()).toBe(true);
    expect(await fresh.count({ type: "t" })).toBe(10);
    expect(errors.some((e) => /1 unreadable/.test(e.message))).toBe(true);
  });

  it("counts events as lost, loudly, only when there is no spool either", async () => {
    const store = new SwitchableStore();
    store.down = true;
    const errors: AuditError[] = [];
    const audit = auditor({
      store,
      spool: false,
      retry: { attempts: 1 },
      onError: (e) => errors.push(e),
    });
    audit.record({ type: "t" });
    await audit.flush();
    expect(audit.stats().lost).toBe(1);
    expect(errors[0]!.message).toMatch(/no spool is configured/);
  });
});

describe("overflow", () => {
  it("drop: counts and reports dropped events, keeps the rest", async () => {
    const store = new SwitchableStore();
    store.delayMs = 50;
    const errors: AuditError[] = [];
    const audit = auditor({
      store,
      batch: { maxQueue: 100, maxEvents: 10 },
      onOverflow: "drop",
      onError: (e) => errors.push(e),
    });
    const events = Array.from({ length: 250 }, (_, i) => audit.record({ type: "t", data: { i } }));
    await audit.flush();
    expect(audit.stats().dropped).toBe(150);
    expect(await store.count()).toBe(100);
    expect(errors.filter((e) => e instanceof AuditOverflowError)).toHaveLength(1);
    await expect(audit.commit(events[249]!)).rejects.toThrow(AuditOverflowError);
    await expect(audit.commit(events[0]!)).resolves.toBeUndefined();
  });

  it("drop works without a spool too", async () => {
    const store = new SwitchableStore();
    store.delayMs = 50;
    const audit = auditor({
      store,
      spool: false,
      batch: { maxQueue: 10 },
      onOverflow: "drop",
      onError: () => {},
    });
    for (let i = 0; i < 30; i++) audit.record({ type: "t" });
    expect(audit.stats().dropped).toBe(20);
    await audit.flush();
    expect(await store.count({ type: "t" })).toBe(10);
  });

  it("block without a spool throws rather than grow without bound", () => {
    const store = new SwitchableStore();
    store.delayMs = 50;
    const audit = auditor({ store, spool: false, batch: { maxQueue: 5 }, onOverflow: "block" });
    for (let i = 0; i < 5; i++) audit.record({ type: "t" });
    expect(() => audit.record({ type: "t" })).toThrow(/needs a spool/);
  });

  it("throw: record throws when the queue is full, nothing accepted is lost", async () => {
    const store = new SwitchableStore();
    store.delayMs = 50;
    const audit = auditor({ store, batch: { maxQueue: 50 }, onOverflow: "throw" });
    let accepted = 0;
    let thrown = 0;
    for (let i = 0; i < 120; i++) {
      try {
        audit.record({ type: "t" });
        accepted++;
      } catch (err) {
        expect(err).toBeInstanceOf(AuditOverflowError);
        thrown++;
      }
    }
    expect(accepted).toBe(50);
    expect(thrown).toBe(70);
    await audit.flush();
    expect(await store.count()).toBe(50);
  });

  it("block: the queue bound holds by spilling to the spool; everything arrives", async () => {
    const store = new SwitchableStore();
    store.delayMs = 30;
    const audit = auditor({ store, batch: { maxQueue: 100, maxEvents: 50 }, onOverflow: "block" });
    let maxQueued = 0;
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) {
      ids.push(audit.record({ type: "t", data: { i } }).id);
      maxQueued = Math.max(maxQueued, audit.stats().queued);
    }
    // Bounded by the queue plus the one batch being written.
    expect(maxQueued).toBeLessThanOrEqual(150);
    expect(audit.stats().spooled).toBeGreaterThan(0);
    await audit.flush();
    expect(await audit.replaySpool()).toBe(true);
    const stored = await store.query({ type: "t" });
    expect(stored).toHaveLength(1000);
    expect(new Set(stored.map((e) => e.id))).toEqual(new Set(ids));
  });
});

describe("durability", () => {
  it("strict: commit resolves once the event is in the store", async () => {
    const store = new SwitchableStore();
    const audit = auditor({ store, durability: "strict" });
    const e = audit.record({ type: "t" });
    await audit.commit(e);
    expect(await store.get(e.id)).toBeDefined();
    await audit.commit(e); // already stored: resolves at once
  });

  it("strict: commit and flush reject when the store cannot take the event, which stays in the spool", async () => {
    const spool = tempDir();
    const store = new SwitchableStore();
    store.down = true;
    const audit = auditor({
      store,
      spool,
      durability: "strict",
      retry: { attempts: 2, initialDelayMs: 1 },
      onError: () => {},
    });
    const e = audit.record({ type: "t" });
    await expect(audit.commit(e)).rejects.toThrow(StoreError);
    await expect(audit.flush()).rejects.toThrow(/spool/);
    await expect(audit.commit(e)).rejects.toThrow(/not in the store/);
    expect(readdirSync(spool).length).toBe(1);
    store.down = false;
    await audit.replaySpool();
    await expect(audit.commit(e)).resolves.toBeUndefined();
    await expect(audit.flush()).resolves.toEqual({ spooled: 0, quarantined: 0, lost: 0 });
  });

  it("relaxed: commit resolves once the event is in the spool", async () => {
    const store = new SwitchableStore();
    store.down = true;
    const audit = auditor({ store, retry: { attempts: 1 }, onError: () => {} });
    const e = audit.record({ type: "t" });
    await expect(audit.commit(e)).resolves.toBeUndefined();
    expect(audit.stats().spooled).toBe(1);
  });

  it("strict: a tool does not run when its tool.start cannot be made durable", async () => {
    const store = new SwitchableStore();
    store.down = true;
    const audit = auditor({
      store,
      durability: "strict",
      retry: { attempts: 1 },
      onError: () => {},
    });
    const run = audit.startRun({ agent: "bot" });
    let ran = false;
    await expect(
      run.tool("transfer", { amount: 10 }, () => {
        ran = true;
      }),
    ).rejects.toThrow(StoreError);
    expect(ran).toBe(false);
  });
});

describe("configuration", () => {
  it("reports invalid options clearly", () => {
    const store = new MemoryStore();
    expect(() => new Auditor({ store, batch: { maxEvents: 0 } })).toThrow(AuditConfigError);
    expect(() => new Auditor({ store, batch: { maxDelayMs: -1 } })).toThrow(/maxDelayMs/);
    expect(() => new Auditor({ store, onOverflow: "explode" as "drop" })).toThrow(/onOverflow/);
    expect(() => new Auditor({ store, durability: "eventual" as "strict" })).toThrow(/durability/);
    expect(() => new Auditor({ store, spool: "" })).toThrow(/spool/);
  });

  it("needs a store: from options or AUDIT_STORE", async () => {
    const saved = process.env.AUDIT_STORE;
    delete process.env.AUDIT_STORE;
    try {
      await expect(createAuditor({})).rejects.toThrow(/AUDIT_STORE/);
      process.env.AUDIT_STORE = "memory:";
      const a = await createAuditor({ spool: false });
      expect(a.store.id).toBe("memory");
      await a.close();
    } finally {
      if (saved === undefined) delete process.env.AUDIT_STORE;
      else process.env.AUDIT_STORE = saved;
    }
  });

  it("closes a store it opened from a URL but not one it was given", async () => {
    const given = new MemoryStore();
    const a = new Auditor({ store: given, spool: false });
    await a.close();
    await expect(given.count()).resolves.toBe(0);
    const b = await createAuditor({ store: "memory:", spool: false });
    await b.close();
    await expect(b.store.count()).rejects.toThrow(AuditClosedError);
  });
});
