import {
  appendFileSync,
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditEvent, resolutionEventId, uuidv7 } from "@audit/core";
import { makeEvent, makeEvents, runConcurrentWriters, sorted, timeAt } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FingerprintTable } from "../src/fingerprint-table.js";
import { fingerprint } from "../src/hashing.js";
import { JsonlStore } from "../src/index.js";
import { lineOf } from "../src/line-format.js";
import { tailCheckAt } from "../src/sidecar-file.js";
import { decodeHeader, encodeBase, HEADER_SIZE, layoutOf } from "../src/sidecar-format.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-jsonl-index-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const DAY_FILE = "audit-2026-01-01.jsonl";
const SIDECAR = ".audit-2026-01-01.jsonl.idx";
const sidecar = () => join(dir, SIDECAR);
// Events a second apart, all on 2026-01-01.
const dayEvents = (n: number, from = 0) =>
  makeEvents(n, (i) => ({ time: timeAt((from + i) * 1000) }));

async function written(events: AuditEvent[], batch = 100): Promise<void> {
  const store = new JsonlStore({ dir });
  for (let i = 0; i < events.length; i += batch) await store.append(events.slice(i, i + batch));
  await store.close();
}

// Every event found by get, a page after a cursor is right, in both orders.
async function readsRight(store: JsonlStore, events: AuditEvent[]): Promise<void> {
  for (const e of events) expect(await store.get(e.id)).toEqual(e);
  const all = sorted(events);
  const at = Math.floor(all.length / 3);
  expect((await store.query({ after: all[at]!.id, limit: 20 })).map((e) => e.id)).toEqual(
    all.slice(at + 1, at + 21).map((e) => e.id),
  );
  expect(
    (await store.query({ after: all[at + 40]!.id, order: "desc", limit: 20 })).map((e) => e.id),
  ).toEqual(
    all
      .slice(at + 20, at + 40)
      .reverse()
      .map((e) => e.id),
  );
  expect(await store.get(uuidv7())).toBeUndefined();
}

function rawLines(): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean));
}

function rawIds(): string[] {
  return rawLines().map((l) => (JSON.parse(l) as AuditEvent).id);
}

// A warm reader's get goes through the sidecar only when it reads few bytes: the proof it is used.
async function usesSidecar(events: AuditEvent[]): Promise<boolean> {
  const reader = new JsonlStore({ dir, readOnly: true });
  await reader.get(events[events.length >> 1]!.id);
  const cold = reader.bytesRead;
  await reader.close();
  return cold < statSync(join(dir, DAY_FILE)).size / 4;
}

describe("the sidecar", () => {
  it("is written next to each file, private (0600), and makes get read a few kilobytes", async () => {
    const events = dayEvents(3000);
    await written(events, 500);
    expect(lstatSync(sidecar()).isFile()).toBe(true);
    expect(statSync(sidecar()).mode & 0o777).toBe(0o600);
    const reader = new JsonlStore({ dir, readOnly: true });
    const size = statSync(join(dir, DAY_FILE)).size;
    for (const e of [events[0]!, events[1500]!, events[2999]!]) {
      const before = reader.bytesRead;
      expect(await reader.get(e.id)).toEqual(e);
      // The whole file is about 450 KB.
      expect(reader.bytesRead - before).toBeLessThan(Math.min(size / 8, 96 * 1024));
    }
    await readsRight(reader, events);
    expect(reader.badLines).toBe(0);
  });

  it("a deleted sidecar: reads are right (built from the file), and the next append writes it again", async () => {
    const events = dayEvents(600);
    await written(events);
    rmSync(sidecar());
    const reader = new JsonlStore({ dir, readOnly: true });
    await readsRight(reader, events);
    expect(existsSync(sidecar())).toBe(false);
    const writer = new JsonlStore({ dir });
    await writer.append(events.slice(0, 50));
    expect(rawIds()).toHaveLength(600);
    expect(existsSync(sidecar())).toBe(true);
    expect(await usesSidecar(events)).toBe(true);
  });

  // Each section of the sidecar damaged in turn: nothing read through it is believed.
  const damages: [string, (bytes: Buffer) => Buffer][] = [
    ["a byte of the header", (b) => flip(b, 20)],
    ["a byte of the bucket directory", (b) => flip(b, HEADER_SIZE + 4)],
    ["a byte of the samples", (b) => flip(b, layoutOf(decodeHeader(b)!).samples + 3)],
    ["a byte of the fingerprints", (b) => flip(b, layoutOf(decodeHeader(b)!).fps + 41)],
    ["a byte of the offsets", (b) => flip(b, layoutOf(decodeHeader(b)!).offsets + 13)],
    ["a byte of the log", (b) => flip(b, layoutOf(decodeHeader(b)!).end + 50)],
    [
      "the log cut in the middle of a chunk",
      (b) => b.subarray(0, layoutOf(decodeHeader(b)!).end + 30),
    ],
    ["the file cut to 100 bytes", (b) => b.subarray(0, 100)],
    ["the file cut inside the entries", (b) => b.subarray(0, layoutOf(decodeHeader(b)!).fps + 9)],
    ["an empty file", () => Buffer.alloc(0)],
    ["random bytes", (b) => Buffer.from(b.map((_, i) => (i * 7919) % 251))],
  ];
  for (const [what, damage] of damages) {
    it(`${what}: reads are right, an append neither loses nor repeats an event, and it is rewritten`, async () => {
      const events = dayEvents(900);
      // Two batches: a base and a log chunk.
      await written(events.slice(0, 600), 600);
      await written(events.slice(600), 300);
      expect(statSync(sidecar()).size).toBeGreaterThan(
        layoutOf(decodeHeader(readFileSync(sidecar()))!).end,
      );
      writeFileSync(sidecar(), damage(readFileSync(sidecar())));
      const warnings: string[] = [];
      const reader = new JsonlStore({ dir, readOnly: true, onWarning: (w) => warnings.push(w) });
      await readsRight(reader, events);
      // The writer's duplicate check goes through the same sidecar: every id is still refused once.
      const writer = new JsonlStore({ dir });
      await writer.append(events.slice(100, 400));
      const more = dayEvents(10, 900);
      await writer.append(more);
      expect(rawIds().sort()).toEqual([...events, ...more].map((e) => e.id).sort());
      await writer.close();
      expect(await usesSidecar(events)).toBe(true);
      const again = new JsonlStore({ dir, readOnly: true });
      await readsRight(again, [...events, ...more]);
    });
  }

  it("a sidecar whose entries point at other lines (checksums recomputed) is caught and rebuilt", async () => {
    const events = dayEvents(500);
    await written(events, 500);
    // Forged: every fingerprint now points at the next event's line.
    forgeSidecar((fps, offsets) => {
      const sortedOffsets = Float64Array.from(offsets).sort();
      const next = new Map<number, number>();
      for (let i = 0; i < sortedOffsets.length; i++)
        next.set(sortedOffsets[i]!, sortedOffsets[(i + 1) % sortedOffsets.length]!);
      return { fps, offsets: offsets.map((o) => next.get(o)!) };
    });
    const warnings: string[] = [];
    const reader = new JsonlStore({ dir, readOnly: true, onWarning: (w) => warnings.push(w) });
    await readsRight(reader, events);
    expect(warnings.some((w) => /does not match the file/.test(w))).toBe(true);
    // A writer believing it would skip new events as "stored", or store old ones twice: neither.
    const writer = new JsonlStore({ dir });
    const fresh = dayEvents(20, 500);
    await writer.append([...events.slice(0, 50), ...fresh]);
    expect(rawIds().sort()).toEqual([...events, ...fresh].map((e) => e.id).sort());
  });

  it("a sidecar claiming a new id is stored (it points at another event's line): the event is still written", async () => {
    const events = dayEvents(200);
    await written(events, 200);
    const newcomer = makeEvent({ time: timeAt(500_000) });
    // Forged: an extra entry with the newcomer's fingerprint, at the line of event 7.
    const at = Buffer.byteLength(events.slice(0, 7).map(lineOf).join(""));
    forgeSidecar((fps, offsets) => ({
      fps: Uint32Array.from([...fps, fingerprint(newcomer.id)]),
      offsets: Float64Array.from([...offsets, at]),
    }));
    const writer = new JsonlStore({ dir });
    await writer.append([newcomer]);
    expect(rawIds()).toContain(newcomer.id);
    expect(await new JsonlStore({ dir, readOnly: true }).get(newcomer.id)).toEqual(newcomer);
  });

  it("a sidecar of another file copied in its place is not used", async () => {
    const day1 = dayEvents(300);
    const day2 = makeEvents(300, (i) => ({ time: timeAt(86_400_000 + i * 1000) }));
    await written([...day1, ...day2]);
    copyFileSync(join(dir, ".audit-2026-01-02.jsonl.idx"), sidecar());
    const reader = new JsonlStore({ dir, readOnly: true });
    await readsRight(reader, day1);
  });

  it("a sidecar planted by another user, or writable by others, is ignored", async () => {
    const events = dayEvents(300);
    await written(events);
    const warnings: string[] = [];
    chmodSync(sidecar(), 0o666);
    let reader = new JsonlStore({ dir, readOnly: true, onWarning: (w) => warnings.push(w) });
    await readsRight(reader, events);
    expect(warnings.some((w) => /not a private regular file/.test(w))).toBe(true);
    if (process.getuid?.() === 0) {
      chmodSync(sidecar(), 0o600);
      chownSync(sidecar(), 65534, 65534);
      warnings.length = 0;
      reader = new JsonlStore({ dir, readOnly: true, onWarning: (w) => warnings.push(w) });
      await readsRight(reader, events);
      expect(warnings.some((w) => /not a private regular file/.test(w))).toBe(true);
    }
    // The writer replaces it with its own.
    await new JsonlStore({ dir }).append(dayEvents(1, 300));
    expect(statSync(sidecar()).mode & 0o777).toBe(0o600);
    expect(statSync(sidecar()).uid).toBe(statSync(join(dir, DAY_FILE)).uid);
  });

  it("a symbolic link planted in its place is never followed, and a writer replaces it", async () => {
    const events = dayEvents(300);
    await written(events);
    const victim = join(dir, "..", `victim-${process.pid}-${Date.now()}.txt`);
    writeFileSync(victim, "precious\n");
    try {
      rmSync(sidecar());
      symlinkSync(victim, sidecar());
      const warnings: string[] = [];
      const reader = new JsonlStore({ dir, readOnly: true, onWarning: (w) => warnings.push(w) });
      await readsRight(reader, events);
      expect(warnings.some((w) => /symbolic link/.test(w))).toBe(true);
      const writer = new JsonlStore({ dir });
      await writer.append([...events.slice(0, 10), ...dayEvents(5, 300)]);
      expect(readFileSync(victim, "utf8")).toBe("precious\n");
      expect(lstatSync(sidecar()).isFile()).toBe(true);
      expect(rawIds()).toHaveLength(305);
    } finally {
      rmSync(victim, { force: true });
    }
  });

  it("a file edited in place to the same size: the sidecar is not believed (warm or cold)", async () => {
    const events = dayEvents(300);
    await written(events);
    const warm = new JsonlStore({ dir, readOnly: true });
    expect(await warm.get(events[100]!.id)).toEqual(events[100]);
    // Event 100 gets another id of the same length; the file keeps its size and inode.
    const renamed = `${events[100]!.id.slice(0, -4)}ffff`;
    const path = join(dir, DAY_FILE);
    const text = readFileSync(path, "utf8").replace(events[100]!.id, renamed);
    const fd = openSync(path, "r+");
    writeSync(fd, text, 0);
    closeSync(fd);
    for (const store of [warm, new JsonlStore({ dir, readOnly: true })]) {
      expect((await store.get(renamed))?.id).toBe(renamed);
      expect(await store.get(events[100]!.id)).toBeUndefined();
    }
    // The writer too: the renamed id counts as stored, the old one not.
    const writer = new JsonlStore({ dir });
    await writer.append([{ ...events[100]!, id: renamed, time: timeAt(400_000) }]);
    expect(rawIds().filter((id) => id === renamed)).toHaveLength(1);
  });
});

describe("staleness", () => {
  it("other processes' appends: a warm reader here sees them, and a writer here refuses their ids", async () => {
    const today = makeEvents(100);
    const store = new JsonlStore({ dir });
    await store.append(today);
    expect(await store.get(today[50]!.id)).toEqual(today[50]);
    await runConcurrentWriters({ url: `jsonl:${dir}`, processes: 2, events: 400, cwd: packageDir });
    const theirs = await new JsonlStore({ dir, readOnly: true }).query({ type: "load.event" });
    expect(theirs).toHaveLength(800);
    for (const e of theirs.filter((_, i) => i % 40 === 0)) expect(await store.get(e.id)).toEqual(e);
    await store.append([...theirs.slice(0, 300), ...today.slice(0, 10)]);
    const all = rawIds();
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe((await store.count()) as number);
    await store.close();
  }, 60_000);

  it("lines appended without the sidecar (an older writer, or a crash before the index was written) are found and count as stored", async () => {
    const events = dayEvents(400);
    await written(events);
    const reader = new JsonlStore({ dir, readOnly: true });
    expect(await reader.get(events[0]!.id)).toEqual(events[0]);
    const raw = dayEvents(30, 400);
    appendFileSync(join(dir, DAY_FILE), raw.map(lineOf).join(""));
    // A warm reader and a cold one both see them.
    for (const e of raw) expect(await reader.get(e.id)).toEqual(e);
    await readsRight(new JsonlStore({ dir, readOnly: true }), [...events, ...raw]);
    // A writer refuses them as duplicates, then indexes them.
    const writer = new JsonlStore({ dir });
    await writer.append([...raw, ...dayEvents(5, 430)]);
    expect(rawIds()).toHaveLength(435);
    expect(new Set(rawIds()).size).toBe(435);
  });

  it("a torn line at the end: not indexed, terminated by the next writer, never counted as an event", async () => {
    const events = dayEvents(100);
    await written(events);
    const torn = makeEvent({ time: timeAt(200_000) });
    appendFileSync(join(dir, DAY_FILE), lineOf(torn).slice(0, 40));
    const reader = new JsonlStore({ dir, readOnly: true });
    expect(await reader.get(torn.id)).toBeUndefined();
    // The torn event's id was never stored: a retry of it is written, whole.
    const writer = new JsonlStore({ dir, onWarning: () => undefined });
    await writer.append([torn]);
    expect(await new JsonlStore({ dir, readOnly: true }).get(torn.id)).toEqual(torn);
    await readsRight(new JsonlStore({ dir, readOnly: true, onWarning: () => undefined }), [
      ...events,
      torn,
    ]);
  });

  it("a prune rewrites the file with a fresh sidecar, and deletes the sidecars of deleted files", async () => {
    const day1 = dayEvents(300);
    const day2 = makeEvents(300, (i) => ({ time: timeAt(86_400_000 + i * 1000) }));
    await written([...day1, ...day2]);
    const store = new JsonlStore({ dir });
    expect(await store.prune({ before: timeAt(86_400_000 + 100_000) })).toBe(400);
    expect(existsSync(sidecar())).toBe(false);
    const kept = day2.slice(100);
    const warnings: string[] = [];
    const reader = new JsonlStore({ dir, readOnly: true, onWarning: (w) => warnings.push(w) });
    const before = reader.bytesRead;
    expect(await reader.get(kept[5]!.id)).toEqual(kept[5]);
    // Through the new sidecar: a few KB, not the file.
    expect(reader.bytesRead - before).toBeLessThan(
      statSync(join(dir, "audit-2026-01-02.jsonl")).size / 2,
    );
    await readsRight(reader, kept);
    expect(warnings).toEqual([]);
  });

  it("an id on either side of midnight after a prune rewrote the earlier day: stored once", async () => {
    const late = makeEvent({ time: "2026-01-01T23:59:59.999Z" });
    await written([...dayEvents(50), late]);
    const store = new JsonlStore({ dir });
    expect(await store.prune({ before: timeAt(10_000) })).toBe(10);
    await store.append([{ ...late, time: "2026-01-02T00:00:00.001Z" }]);
    expect(rawIds().filter((id) => id === late.id)).toHaveLength(1);
  });
});

describe("ids that are not ordinary UUIDv7s", () => {
  const base = uuidv7();
  const odd: AuditEvent[] = [
    // A checkpoint id derived from the event it covers.
    makeEvent({ id: `${base.slice(0, 19)}bfff-ffffffffffff`, time: timeAt(5000) }),
    makeEvent({ id: `${base}~0001`, time: timeAt(6000) }),
    // An approval resolution's UUIDv8.
    makeEvent({ id: resolutionEventId(uuidv7()), time: timeAt(7000) }),
    // Imported: the id's time is today, the event's time is in 2026.
    makeEvent({ id: uuidv7(), time: timeAt(8000) }),
    makeEvent({ id: "legacy-id-0001", time: timeAt(9000) }),
  ];

  it("are stored once whatever the store instance, found by get, and never mistaken for each other", async () => {
    await written([...dayEvents(200), ...odd]);
    for (let round = 0; round < 3; round++) {
      const store = new JsonlStore({ dir });
      await store.append(odd);
      await store.append([odd[2]!]);
      await store.close();
    }
    expect(rawIds()).toHaveLength(205);
    const reader = new JsonlStore({ dir, readOnly: true });
    for (const e of odd) expect(await reader.get(e.id)).toEqual(e);
  });

  it("two ids with the same fingerprint: each is its own event", async () => {
    const [a, b] = collidingIds();
    expect(fingerprint(a)).toBe(fingerprint(b));
    const first = makeEvent({ id: a, time: timeAt(1000) });
    const second = makeEvent({ id: b, time: timeAt(2000) });
    await written([...dayEvents(100, 10), first]);
    const store = new JsonlStore({ dir });
    await store.append([second]);
    await store.append([first, second]);
    expect(
      rawIds()
        .filter((id) => id === a || id === b)
        .sort(),
    ).toEqual([a, b].sort());
    const reader = new JsonlStore({ dir, readOnly: true });
    expect(await reader.get(a)).toEqual(first);
    expect(await reader.get(b)).toEqual(second);
  });
});

function flip(bytes: Buffer, at: number): Buffer {
  const out = Buffer.from(bytes);
  out[at] = (out[at] ?? 0) ^ 0x5a;
  return out;
}

// Rewrites the day's sidecar as a well-formed one (every checksum right) with forged entries.
function forgeSidecar(
  change: (fps: Uint32Array, offsets: Float64Array) => { fps: Uint32Array; offsets: Float64Array },
): void {
  const path = join(dir, DAY_FILE);
  const text = readFileSync(path, "utf8");
  const fps: number[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const line of text.split("\n").slice(0, -1)) {
    fps.push(fingerprint((JSON.parse(line) as AuditEvent).id));
    offsets.push(at);
    at += Buffer.byteLength(line) + 1;
  }
  const forged = change(Uint32Array.from(fps), Float64Array.from(offsets));
  const st = statSync(path, { bigint: true });
  const fd = openSync(path, "r");
  const tailCheck = tailCheckAt(fd, at, undefined);
  closeSync(fd);
  const bytes = encodeBase({
    dataIno: st.ino,
    covered: at,
    dataMtimeNs: st.mtimeNs,
    tailCheck,
    table: FingerprintTable.sort(forged.fps, forged.offsets),
    samples: Float64Array.from(offsets.filter((_, i) => i % 128 === 0)),
  });
  writeFileSync(sidecar(), bytes, { mode: 0o600 });
  truncateSync(sidecar(), bytes.length);
}

// Two different ids with the same 32-bit fingerprint (a birthday search).
function collidingIds(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const id = `import-${i}`;
    const fp = fingerprint(id);
    const other = seen.get(fp);
    if (other !== undefined) return [other, id];
    seen.set(fp, id);
  }
}

describe("reading from the index", () => {
  it("pages through a day split in interleaved segments, both ways, never skipping or repeating", async () => {
    // Odd seconds first, then even ones: the second batch lands in a segment of its own.
    const odd = makeEvents(300, (i) => ({ time: timeAt((2 * i + 1) * 1000) }));
    const even = makeEvents(300, (i) => ({ time: timeAt(2 * i * 1000) }));
    // Some share a timestamp, ordered by id.
    const same = makeEvents(40, () => ({ time: timeAt(301_000) }));
    await written([...odd, ...same], 340);
    await written(even, 300);
    expect(readdirSync(dir).filter((f) => f.endsWith(".jsonl"))).toHaveLength(2);
    const all = sorted([...odd, ...even, ...same]);
    for (const order of ["asc", "desc"] as const) {
      const store = new JsonlStore({ dir, readOnly: true });
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.query({ order, limit: 7, ...(after && { after }) });
        if (page.length === 0) break;
        seen.push(...page.map((e) => e.id));
        after = page[page.length - 1]!.id;
      }
      const want = order === "asc" ? all : [...all].reverse();
      expect(seen).toEqual(want.map((e) => e.id));
    }
  });

  it("offsets found in a file are not used on another file now under its name", async () => {
    const events = dayEvents(50);
    await written(events);
    const path = join(dir, DAY_FILE);
    const { readLines } = await import("../src/lines.js");
    const ino = statSync(path, { bigint: true }).ino;
    const from = Buffer.byteLength(events.slice(0, 10).map(lineOf).join(""));
    const texts = async (range: { start: number; ino: bigint }) => {
      const out: string[] = [];
      for await (const line of readLines(path, range)) out.push(line.text);
      return out;
    };
    expect(await texts({ start: from, ino })).toHaveLength(40);
    // Another inode: the offset is ignored, the whole file read.
    expect(await texts({ start: from, ino: ino + 1n })).toHaveLength(50);
  });
});
