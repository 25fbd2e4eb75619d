import { afterEach, describe, expect, it } from "vitest";
import {
  type AuditEvent,
  type AuditExporter,
  Auditor,
  CompositeExporter,
  ConsoleExporter,
  ExportError,
  MemoryStore,
} from "../src/index.js";
import { makeEvents } from "./helpers.js";

class Collecting implements AuditExporter {
  readonly events: AuditEvent[] = [];
  shutdowns = 0;
  constructor(readonly id: string) {}
  async export(batch: readonly AuditEvent[]) {
    this.events.push(...batch);
  }
  async shutdown() {
    this.shutdowns++;
  }
}

class Failing implements AuditExporter {
  readonly id = "failing";
  calls = 0;
  constructor(private readonly sync = false) {}
  export(): Promise<void> {
    this.calls++;
    if (this.sync) throw new Error("sync boom");
    return Promise.reject(new Error("async boom"));
  }
}

class Hanging implements AuditExporter {
  readonly id = "hanging";
  export(): Promise<void> {
    return new Promise(() => {});
  }
}

const open: Auditor[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

describe("CompositeExporter", () => {
  it("gives every child the batch even when one throws synchronously or rejects", async () => {
    const a = new Collecting("a");
    const b = new Collecting("b");
    const errors: ExportError[] = [];
    const composite = new CompositeExporter({
      exporters: [new Failing(true), a, new Failing(false), b],
      onError: (e) => errors.push(e),
    });
    const batch = makeEvents(5);
    await composite.export(batch);
    expect(a.events).toHaveLength(5);
    expect(b.events).toHaveLength(5);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining("sync boom"),
      expect.stringContaining("async boom"),
    ]);
    expect(errors[0]).toBeInstanceOf(ExportError);
  });

  it("rejects with every failure when no onError is given, after all children ran", async () => {
    const a = new Collecting("a");
    const composite = new CompositeExporter({ exporters: [new Failing(), a] });
    await expect(composite.export(makeEvents(1))).rejects.toThrow(/1 of 2 children failed/);
    expect(a.events).toHaveLength(1);
  });

  it("shuts down once and refuses export afterwards", async () => {
    const a = new Collecting("a");
    const composite = new CompositeExporter({ exporters: [a] });
    await Promise.all([composite.shutdown(), composite.shutdown()]);
    expect(a.shutdowns).toBe(1);
    await expect(composite.export(makeEvents(1))).rejects.toThrow(/after shutdown/);
  });
});

describe("ConsoleExporter", () => {
  it("writes one JSON line per event, or a readable line", async () => {
    let out = "";
    const stream = { write: (s: string) => (out += s) };
    const events = makeEvents(3);
    await new ConsoleExporter({ stream }).export(events);
    expect(
      out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual(events);
    out = "";
    await new ConsoleExporter({ stream, format: "pretty" }).export(events.slice(0, 1));
    expect(out).toContain("tool.start");
    const c = new ConsoleExporter({ stream });
    await c.shutdown();
    await expect(c.export(events)).rejects.toThrow(/after shutdown/);
  });
});

describe("auditor fan-out", () => {
  it("delivers to every healthy exporter while failing and hanging ones are reported, never blocking the store", async () => {
    const store = new MemoryStore();
    const good = new Collecting("good");
    const errors: unknown[] = [];
    const audit = new Auditor({
      store,
      spool: false,
      exporters: [new Failing(), new Hanging(), good],
      exportTimeoutMs: 100,
      onError: (e) => errors.push(e),
    });
    open.push(audit);
    for (let i = 0; i < 50; i++) audit.record({ type: "t", data: { i } });
    await audit.flush();
    expect(await store.count()).toBe(50);
    expect(good.events).toHaveLength(50);
    expect(errors.some((e) => e instanceof ExportError && /async boom/.test(e.message))).toBe(true);
    expect(errors.some((e) => e instanceof ExportError && /timed out/.test(e.message))).toBe(true);
    expect(audit.stats().exportFailed).toBeGreaterThan(0);
  });

  it("drops batches for an exporter that cannot keep up, counts them, and says so once", async () => {
    const store = new MemoryStore();
    const errors: ExportError[] = [];
    const audit = new Auditor({
      store,
      spool: false,
      exporters: [new Hanging()],
      exportTimeoutMs: 60_000,
      batch: { maxQueue: 100, maxEvents: 10, maxDelayMs: 1 },
      onError: (e) => errors.push(e as ExportError),
    });
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 10; i++) audit.record({ type: "t" });
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.count()).toBe(300);
    expect(audit.stats().exportDropped).toBeGreaterThanOrEqual(190);
    expect(errors.filter((e) => /cannot keep up/.test(e.message))).toHaveLength(1);
  });

  it("shuts down exporters it created from names, and only flushes ones it was given", async () => {
    const given = new Collecting("given");
    const a = new Auditor({ store: new MemoryStore(), spool: false, exporters: [given] });
    a.record({ type: "t" });
    await a.close();
    expect(given.events.map((e) => e.type)).toEqual(["t", "audit.checkpoint"]);
    expect(given.shutdowns).toBe(0);
  });
});
