import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEvent, uuidv7 } from "@audit/core";
import { timeAt } from "@audit/test-suite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonlStore } from "../src/index.js";
import { eventOf, lineOf } from "../src/line-format.js";
import { ReadMeter } from "../src/read-meter.js";
import { FileFollower } from "../src/tail.js";

// One day file of 200,000 events (about 30 MB), written directly in the file format. Every
// figure below is bytes read, counted by the store: what a lookup costs, independent of speed.
const EVENTS = 200_000;
const FILE = "audit-2026-01-01.jsonl";
let dir: string;
let events: AuditEvent[];
let fileSize: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "audit-jsonl-scale-"));
  events = [];
  let text = "";
  for (let i = 0; i < EVENTS; i++) {
    // In (time, id) order, as the store keeps its files; ids are not in time order (imported).
    const e: AuditEvent = {
      id: uuidv7(),
      type: "tool.start",
      time: timeAt(i * 400),
      actor: "scale",
      data: { tool: "search", callId: `c${i}` },
    };
    events.push(e);
    text += lineOf(e);
    if (text.length > 1 << 20) {
      appendFileSync(join(dir, FILE), text);
      text = "";
    }
  }
  appendFileSync(join(dir, FILE), text);
  // The first writer finds no sidecar: it builds the index from the file and writes it.
  const writer = new JsonlStore({ dir });
  const extra: AuditEvent = { ...events[0]!, id: uuidv7(), time: timeAt(EVENTS * 400) };
  await writer.append([extra]);
  events.push(extra);
  await writer.close();
  fileSize = statSync(join(dir, FILE)).size;
}, 240_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pick = (k: number) => events[Math.floor((k * 7919) % EVENTS)]!;

describe(`one day file of ${EVENTS} events`, () => {
  it("has a sidecar", () => {
    expect(readdirSync(dir).sort()).toEqual([`.${FILE}.idx`, FILE]);
    expect(fileSize).toBeGreaterThan(25_000_000);
  });

  it("get reads a few kilobytes (a cold store each time)", async () => {
    for (let k = 0; k < 8; k++) {
      const store = new JsonlStore({ dir, readOnly: true });
      const e = pick(k);
      expect(await store.get(e.id)).toEqual(e);
      expect(store.bytesRead).toBeLessThan(32 * 1024);
    }
    const store = new JsonlStore({ dir, readOnly: true });
    expect(await store.get(uuidv7())).toBeUndefined();
    expect(store.bytesRead).toBeLessThan(32 * 1024);
  });

  it("a page of 100 after a cursor reads a bounded number of bytes, both directions", async () => {
    for (let k = 1; k < 6; k++) {
      const at = (k * 37_813) % (EVENTS - 200);
      const asc = new JsonlStore({ dir, readOnly: true });
      const page = await asc.query({ after: events[at]!.id, limit: 100 });
      expect(page.map((e) => e.id)).toEqual(events.slice(at + 1, at + 101).map((e) => e.id));
      expect(asc.bytesRead).toBeLessThan(160 * 1024);
      const desc = new JsonlStore({ dir, readOnly: true });
      const back = await desc.query({ after: events[at + 100]!.id, order: "desc", limit: 100 });
      expect(back.map((e) => e.id)).toEqual(
        events
          .slice(at, at + 100)
          .reverse()
          .map((e) => e.id),
      );
      expect(desc.bytesRead).toBeLessThan(160 * 1024);
    }
  });

  it("paging through a stretch costs each page the same, not more as the cursor moves on", async () => {
    const store = new JsonlStore({ dir, readOnly: true });
    let cursor = events[150_000]!.id;
    const costs: number[] = [];
    for (let page = 0; page < 5; page++) {
      const before = store.bytesRead;
      const got = await store.query({ after: cursor, limit: 100 });
      expect(got[0]!.id).toBe(events[150_001 + page * 100]!.id);
      cursor = got[got.length - 1]!.id;
      costs.push(store.bytesRead - before);
    }
    for (const c of costs) expect(c).toBeLessThan(160 * 1024);
  });

  it("since seeks instead of reading from the start of the day", async () => {
    const store = new JsonlStore({ dir, readOnly: true });
    const page = await store.query({ since: events[123_456]!.time, limit: 10 });
    expect(page.map((e) => e.id)).toEqual(events.slice(123_456, 123_466).map((e) => e.id));
    expect(store.bytesRead).toBeLessThan(160 * 1024);
  });

  it("a writer restarted on the file appends without reading it, and refuses a stored id", async () => {
    const writer = new JsonlStore({ dir });
    const e: AuditEvent = { ...events[5]!, id: uuidv7(), time: timeAt(EVENTS * 400 + 1000) };
    await writer.append([e]);
    expect(writer.bytesRead).toBeLessThan(160 * 1024);
    const again = new JsonlStore({ dir });
    await again.append([events[77_777]!, e]);
    expect(statSync(join(dir, FILE)).size).toBe(fileSize + Buffer.byteLength(lineOf(e)));
    expect(again.bytesRead).toBeLessThan(160 * 1024);
    events.push(e);
    fileSize = statSync(join(dir, FILE)).size;
  });

  it("a live-tail poll reads just the bytes appended", async () => {
    const meter = new ReadMeter();
    const got: AuditEvent[] = [];
    const follower = new FileFollower({
      dir,
      isDataFile: (n) => n === FILE,
      list: async () => [FILE],
      parse: (line) => (line.complete ? eventOf(line.text) : undefined),
      seekAfter: async () => 0,
      deliver: (e) => got.push(e),
      onError: (err) => {
        throw err;
      },
      meter,
      intervalMs: 60_000,
    });
    follower.start();
    const batch = Array.from({ length: 100 }, (_, i) => ({
      ...events[0]!,
      id: uuidv7(),
      time: timeAt(EVENTS * 400 + 5000 + i),
    }));
    await new JsonlStore({ dir }).append(batch);
    await follower.poll();
    expect(got.map((e) => e.id)).toEqual(batch.map((e) => e.id));
    expect(meter.bytes).toBe(statSync(join(dir, FILE)).size - fileSize);
  });
});
