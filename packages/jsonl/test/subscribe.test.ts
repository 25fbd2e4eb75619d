import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditEvent } from "@audit/core";
import { makeEvent, makeEvents, runConcurrentWriters, timeAt } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlStore } from "../src/index.js";
import { eventOf, lineOf } from "../src/line-format.js";
import { ReadMeter } from "../src/read-meter.js";
import { FileFollower } from "../src/tail.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-jsonl-tail-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ids = (events: AuditEvent[]) => events.map((e) => e.id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// A follower polled by hand, so each poll's reads can be counted exactly.
function follower(meter: ReadMeter, got: AuditEvent[]): FileFollower {
  const pattern = /^audit.*\.jsonl$/;
  return new FileFollower({
    dir,
    isDataFile: (n) => pattern.test(n),
    list: async () =>
      readdirSync(dir)
        .filter((n) => pattern.test(n))
        .sort(),
    parse: (line) => (line.complete ? eventOf(line.text) : undefined),
    seekAfter: async () => 0,
    deliver: (e) => got.push(e),
    onError: (err) => {
      throw err;
    },
    meter,
    intervalMs: 60_000,
  });
}

describe("subscribe", () => {
  it("is offered", () => {
    expect(new JsonlStore({ dir }).capabilities.subscribe).toBe(true);
  });

  it("delivers each matching event appended after it returns, once, in order; nothing from before", async () => {
    const writer = new JsonlStore({ dir });
    await writer.append(makeEvents(50, (i) => ({ time: timeAt(i) })));
    const store = new JsonlStore({ dir, pollIntervalMs: 5 });
    const got: AuditEvent[] = [];
    const stop = store.subscribe({ type: "tool.*" }, (e) => got.push(e));
    const fresh = makeEvents(40, (i) => ({
      time: timeAt(1000 + i),
      type: i % 2 === 0 ? "tool.start" : "llm.end",
    }));
    for (let i = 0; i < 40; i += 8) await writer.append(fresh.slice(i, i + 8));
    const wanted = fresh.filter((e) => e.type === "tool.start");
    await until(() => got.length >= wanted.length, "the new events");
    await sleep(50);
    expect(ids(got)).toEqual(ids(wanted));
    stop();
    await store.close();
    await writer.close();
  });

  it("follows new day files and new segments from their start", async () => {
    const writer = new JsonlStore({ dir });
    await writer.append([makeEvent({ time: timeAt(10_000) })]);
    const store = new JsonlStore({ dir, pollIntervalMs: 5 });
    const got: AuditEvent[] = [];
    store.subscribe({}, (e) => got.push(e));
    // A new day, then a batch older than the file's last event: a new segment of day one.
    const nextDay = makeEvents(3, (i) => ({ time: timeAt(86_400_000 + i) }));
    const older = makeEvents(3, (i) => ({ time: timeAt(i) }));
    await writer.append(nextDay);
    await writer.append(older);
    expect(readdirSync(dir).filter((n) => n.endsWith(".jsonl"))).toHaveLength(3);
    await until(() => got.length >= 6, "events of new files");
    await sleep(30);
    expect(ids(got).sort()).toEqual(ids([...nextDay, ...older]).sort());
    await store.close();
  });

  it("a last line written in two parts is delivered once, when its newline is there", async () => {
    const writer = new JsonlStore({ dir, rotation: "single" });
    await writer.append([makeEvent({ time: timeAt(0) })]);
    const got: AuditEvent[] = [];
    const f = follower(new ReadMeter(), got);
    f.start();
    const e = makeEvent({ time: timeAt(5) });
    const line = lineOf(e);
    appendFileSync(join(dir, "audit.jsonl"), line.slice(0, 30));
    await f.poll();
    await f.poll();
    expect(got).toEqual([]);
    appendFileSync(join(dir, "audit.jsonl"), line.slice(30));
    await f.poll();
    await f.poll();
    expect(got).toEqual([e]);
  });

  it("a torn line terminated by the next writer is skipped and reported; the writer's events are delivered", async () => {
    const writer = new JsonlStore({ dir, rotation: "single" });
    await writer.append([makeEvent({ time: timeAt(0) })]);
    const warnings: string[] = [];
    const store = new JsonlStore({
      dir,
      rotation: "single",
      pollIntervalMs: 5,
      onWarning: (w) => warnings.push(w),
    });
    const got: AuditEvent[] = [];
    store.subscribe({}, (e) => got.push(e));
    appendFileSync(join(dir, "audit.jsonl"), '{"id":"torn","type":"tool.st');
    await sleep(30);
    const next = makeEvents(3, (i) => ({ time: timeAt(10 + i) }));
    await writer.append(next);
    await until(() => got.length >= 3, "the writer's events");
    await sleep(30);
    expect(ids(got)).toEqual(ids(next));
    expect(warnings.some((w) => /not an audit event/.test(w))).toBe(true);
    await store.close();
  });

  it("a file a prune rewrote under the same name: what follows is delivered, the survivors are not repeated", async () => {
    const writer = new JsonlStore({ dir });
    const store = new JsonlStore({ dir, pollIntervalMs: 5 });
    const got: AuditEvent[] = [];
    store.subscribe({}, (e) => got.push(e));
    const first = makeEvents(20, (i) => ({ time: timeAt(i * 1000) }));
    await writer.append(first);
    await until(() => got.length >= 20, "the first events");
    const ino = statSync(join(dir, "audit-2026-01-01.jsonl")).ino;
    expect(await writer.prune({ keep: 5 })).toBe(15);
    expect(statSync(join(dir, "audit-2026-01-01.jsonl")).ino).not.toBe(ino);
    await sleep(30);
    const later = makeEvents(4, (i) => ({ time: timeAt(100_000 + i) }));
    await writer.append(later);
    await until(() => got.length >= 24, "the events after the prune");
    await sleep(30);
    expect(ids(got)).toEqual(ids([...first, ...later]));
    await store.close();
  });

  it("events written by other processes arrive, each once", async () => {
    const store = new JsonlStore({ dir, pollIntervalMs: 10 });
    const got = new Map<string, number>();
    store.subscribe({ type: "load.event" }, (e) => got.set(e.id, (got.get(e.id) ?? 0) + 1));
    await runConcurrentWriters({ url: `jsonl:${dir}`, processes: 2, events: 300, cwd: packageDir });
    await until(() => got.size >= 600, "600 events", 30_000);
    await sleep(50);
    expect(got.size).toBe(600);
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    expect(await store.count({ type: "load.event" })).toBe(600);
    await store.close();
  }, 60_000);

  it("stops when told, and on close", async () => {
    const writer = new JsonlStore({ dir });
    const store = new JsonlStore({ dir, pollIntervalMs: 5 });
    const a: AuditEvent[] = [];
    const b: AuditEvent[] = [];
    const stopA = store.subscribe({}, (e) => a.push(e));
    store.subscribe({}, (e) => b.push(e));
    await writer.append([makeEvent({ time: timeAt(0) })]);
    await until(() => a.length === 1 && b.length === 1, "one event each");
    stopA();
    await writer.append([makeEvent({ time: timeAt(1) })]);
    await until(() => b.length === 2, "the second event");
    await store.close();
    await writer.append([makeEvent({ time: timeAt(2) })]);
    await sleep(60);
    expect([a.length, b.length]).toEqual([1, 2]);
    expect(() => store.subscribe({}, () => undefined)).toThrow(/closed/);
  });

  it("a subscriber's exception stops neither the polling nor the other subscribers", async () => {
    const writer = new JsonlStore({ dir });
    const store = new JsonlStore({ dir, pollIntervalMs: 5 });
    const got: AuditEvent[] = [];
    store.subscribe({}, () => {
      throw new Error("boom");
    });
    store.subscribe({}, (e) => got.push(e));
    await writer.append([makeEvent({ time: timeAt(0) })]);
    await writer.append([makeEvent({ time: timeAt(1) })]);
    await until(() => got.length === 2, "both events");
    await store.close();
  });

  it("its timer never holds the process open", () => {
    const jsonl = join(packageDir, "dist", "index.js");
    const script = `
      const { JsonlStore } = await import(${JSON.stringify(jsonl)});
      const store = new JsonlStore({ dir: process.argv[1], pollIntervalMs: 5 });
      store.subscribe({}, () => {});
      setTimeout(() => console.log("still polling"), 100);
    `;
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", script, dir], {
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(out.status).toBe(0);
    expect(out.stdout.trim()).toBe("still polling");
  });
});

describe("a poll's cost", () => {
  it("is the bytes appended since the last poll, whatever the file's size", async () => {
    const writer = new JsonlStore({ dir, rotation: "single" });
    const perSize: number[] = [];
    for (const size of [200, 2000]) {
      await writer.append(
        makeEvents(size, (i) => ({ time: timeAt(perSize.length * 100_000 + i) })),
      );
      const meter = new ReadMeter();
      const got: AuditEvent[] = [];
      const f = follower(meter, got);
      f.start();
      await f.poll();
      expect(meter.bytes).toBe(0);
      const before = statSync(join(dir, "audit.jsonl")).size;
      const batch = makeEvents(25, (i) => ({
        time: timeAt(perSize.length * 100_000 + 50_000 + i),
      }));
      await writer.append(batch);
      await f.poll();
      expect(ids(got)).toEqual(ids(batch));
      const appended = statSync(join(dir, "audit.jsonl")).size - before;
      expect(meter.bytes).toBe(appended);
      perSize.push(meter.bytes);
      await f.poll();
      expect(meter.bytes).toBe(appended);
    }
  });
});
