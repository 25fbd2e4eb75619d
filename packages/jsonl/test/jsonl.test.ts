import { createHash } from "node:crypto";
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AuditConfigError,
  type AuditEvent,
  Auditor,
  canonicalJson,
  chainInput,
  openStore,
  StoreError,
} from "@audit/core";
import { makeEvent, makeEvents, sorted, timeAt } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createStoreFromUrl, JsonlStore } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-jsonl-unit-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const files = () =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort();
const day = (d: number, ms = 0) => new Date(Date.UTC(2026, 0, d) + ms).toISOString();

describe("files", () => {
  it("writes each line as the bytes its chain hash was computed from, with the hash put in", async () => {
    const store = new JsonlStore({ dir });
    const audit = new Auditor({ store, spool: false });
    for (let i = 0; i < 50; i++) {
      audit.record({
        type: "tool.start",
        actor: "bot",
        data: { tool: "search", callId: `c${i}`, args: { z: [1, "é"], a: null } },
      });
    }
    await audit.close();
    const lines = files().flatMap((f) => readFileSync(join(dir, f), "utf8").trim().split("\n"));
    expect(lines.length).toBe(51);
    for (const line of lines) {
      const e = JSON.parse(line) as AuditEvent;
      expect(line).toBe(canonicalJson(e));
      const hashed = line.replace(`"hash":"${e.chain!.hash}",`, "");
      expect(hashed).toBe(chainInput(e));
      expect(createHash("sha256").update(hashed).digest("hex")).toBe(e.chain!.hash);
    }
  });

  it("writes one file per UTC day by default, with mode 0600", async () => {
    const store = new JsonlStore({ dir });
    await store.append([
      makeEvent({ time: day(1, 1000) }),
      makeEvent({ time: day(2, 5) }),
      makeEvent({ time: day(3, 86_399_999) }),
    ]);
    expect(files()).toEqual([
      "audit-2026-01-01.jsonl",
      "audit-2026-01-02.jsonl",
      "audit-2026-01-03.jsonl",
    ]);
    for (const f of files()) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("writes one file, or rotates by size", async () => {
    const single = new JsonlStore({ dir, rotation: "single" });
    await single.append(makeEvents(10, (i) => ({ time: day(1 + i) })));
    expect(files()).toEqual(["audit.jsonl"]);
    const other = mkdtempSync(join(tmpdir(), "audit-jsonl-rot-"));
    const rotated = new JsonlStore({ dir: other, rotation: { maxBytes: 2000 } });
    for (let i = 0; i < 20; i++)
      await rotated.append(makeEvents(5, (k) => ({ time: timeAt(i * 10 + k) })));
    const names = readdirSync(other);
    expect(names.length).toBeGreaterThan(3);
    for (const n of names) expect(statSync(join(other, n)).size).toBeLessThan(2000 + 1500);
    expect(await rotated.count()).toBe(100);
    rmSync(other, { recursive: true, force: true });
  });

  it("writes one line per event, one write per batch, each file sorted even when batches arrive out of order", async () => {
    const store = new JsonlStore({ dir, rotation: "single" });
    const late = makeEvents(5, (i) => ({ time: timeAt(i) }));
    const early = makeEvents(5, (i) => ({ time: timeAt(100 + i) }));
    await store.append(early);
    await store.append(late);
    // The older batch could not extend the file without breaking its order: it got a segment.
    expect(files()).toEqual(["audit.1.jsonl", "audit.jsonl"]);
    expect((await store.query()).map((e) => e.id)).toEqual(
      sorted([...late, ...early]).map((e) => e.id),
    );
    expect((await store.query({ order: "desc" })).map((e) => e.id)).toEqual(
      sorted([...late, ...early], "desc").map((e) => e.id),
    );
  });

  it("opens jsonl: URLs through openStore, with options", async () => {
    const store = await openStore(`jsonl:${dir}`);
    expect(store.id).toBe("jsonl");
    await store.append(makeEvents(2));
    expect(await store.count()).toBe(2);
    expect(() => createStoreFromUrl(`jsonl:${dir}?rotation=hourly`)).toThrow(AuditConfigError);
    expect(() => createStoreFromUrl(`jsonl:${dir}?fsync=sometimes`)).toThrow(/fsync/);
    expect(() => createStoreFromUrl(`jsonl:${dir}?colour=red`)).toThrow(/unknown option/);
    expect(() => createStoreFromUrl("jsonl:")).toThrow(/directory/);
    const s = createStoreFromUrl(`jsonl:${dir}?maxBytes=1000&fsync=always`);
    await s.append(makeEvents(30));
    expect(files().length).toBeGreaterThan(1);
  });

  it("reports a directory it cannot create", async () => {
    writeFileSync(join(dir, "blocker"), "");
    const store = new JsonlStore({ dir: join(dir, "blocker", "sub") });
    await expect(store.append(makeEvents(1))).rejects.toThrow(StoreError);
    await expect(store.append(makeEvents(1))).rejects.toThrow(/cannot create/);
  });

  it("accepts every fsync policy and rejects others", async () => {
    for (const fsync of ["never", "batch", "always"] as const) {
      const s = new JsonlStore({ dir: join(dir, fsync), fsync });
      await s.append(makeEvents(3));
      expect(await s.count()).toBe(3);
    }
    expect(() => new JsonlStore({ dir, fsync: "sometimes" as "never" })).toThrow(AuditConfigError);
    expect(() => new JsonlStore({ dir, rotation: "hourly" as "daily" })).toThrow(AuditConfigError);
  });
});

describe("damaged files", () => {
  it("skips and reports a torn last line; the next append terminates it and nothing is lost", async () => {
    const warnings: string[] = [];
    const store = new JsonlStore({ dir, rotation: "single", onWarning: (w) => warnings.push(w) });
    const first = makeEvents(3, (i) => ({ time: timeAt(i) }));
    await store.append(first);
    appendFileSync(join(dir, "audit.jsonl"), '{"id":"torn","type":"tool.st');
    expect((await store.query()).map((e) => e.id)).toEqual(first.map((e) => e.id));
    expect(warnings).toEqual([expect.stringContaining("torn last line")]);
    expect(store.badLines).toBe(1);
    const next = makeEvents(2, (i) => ({ time: timeAt(10 + i) }));
    await store.append(next);
    const again = new JsonlStore({ dir, rotation: "single", onWarning: (w) => warnings.push(w) });
    expect((await again.query()).map((e) => e.id)).toEqual([...first, ...next].map((e) => e.id));
    expect((await again.query({ order: "desc" })).map((e) => e.id)).toEqual(
      [...first, ...next].reverse().map((e) => e.id),
    );
    expect(readFileSync(join(dir, "audit.jsonl"), "utf8").split("\n")[3]).toBe(
      '{"id":"torn","type":"tool.st',
    );
    expect(again.badLines).toBe(1);
  });

  it("counts malformed lines in the middle and never throws on them", async () => {
    const warnings: string[] = [];
    const store = new JsonlStore({ dir, rotation: "single", onWarning: (w) => warnings.push(w) });
    const events = makeEvents(4, (i) => ({ time: timeAt(i) }));
    await store.append(events.slice(0, 2));
    appendFileSync(
      join(dir, "audit.jsonl"),
      'not json at all\n{"valid":"json","but":"no event"}\n\u0000\u0001 binary junk\n',
    );
    await store.append(events.slice(2));
    expect((await store.query()).map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(await store.count()).toBe(4);
    expect(await store.get(events[3]!.id)).toEqual(events[3]);
    expect(store.badLines).toBe(3);
    expect(warnings).toHaveLength(3);
  });
});

describe("prune", () => {
  it("deletes whole old files and rewrites only the one the cut goes through", async () => {
    const store = new JsonlStore({ dir });
    const all = Array.from({ length: 5 }, (_, d) =>
      makeEvents(10, (i) => ({ time: day(d + 1, i * 3_600_000) })),
    ).flat();
    await store.append(all);
    const untouched = ["audit-2026-01-04.jsonl", "audit-2026-01-05.jsonl"].map(
      (f) => statSync(join(dir, f)).ino,
    );
    const deleted = await store.prune({ before: day(3, 5 * 3_600_000) });
    expect(deleted).toBe(25);
    expect(files()).toEqual([
      "audit-2026-01-03.jsonl",
      "audit-2026-01-04.jsonl",
      "audit-2026-01-05.jsonl",
    ]);
    expect(
      ["audit-2026-01-04.jsonl", "audit-2026-01-05.jsonl"].map((f) => statSync(join(dir, f)).ino),
    ).toEqual(untouched);
    expect(await store.count()).toBe(25);
    expect(await store.prune({ keep: 12 })).toBe(13);
    expect((await store.query()).map((e) => e.id)).toEqual(
      sorted(all)
        .slice(-12)
        .map((e) => e.id),
    );
  });
});

describe("read-only", () => {
  it("reads an existing directory and refuses to write or prune, creating nothing", async () => {
    const writer = new JsonlStore({ dir });
    await writer.append(makeEvents(3, (i) => ({ time: timeAt(i) })));
    await writer.close();
    const before = readdirSync(dir).sort();
    const reader = new JsonlStore({ dir, readOnly: true });
    expect(await reader.count()).toBe(3);
    await expect(reader.append([makeEvent()])).rejects.toThrow(/read-only/);
    await expect(reader.prune({ keep: 1 })).rejects.toThrow(/read-only/);
    await reader.close();
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it("gives every stored line's bytes, torn ones too, in read order", async () => {
    const writer = new JsonlStore({ dir, rotation: "single" });
    const events = makeEvents(5, (i) => ({ time: timeAt(i) }));
    await writer.append(events);
    await writer.close();
    appendFileSync(join(dir, "audit.jsonl"), '{"id":"torn');
    const reader = new JsonlStore({ dir, readOnly: true });
    const rows: { location: string; text: string }[] = [];
    for await (const r of reader.storedRows()) {
      expect(r.text).toBeInstanceOf(Uint8Array);
      expect(r.columns).toBeUndefined();
      rows.push({ location: r.location, text: Buffer.from(r.text as Uint8Array).toString() });
    }
    await reader.close();
    expect(rows.map((r) => r.location)).toEqual(
      [1, 2, 3, 4, 5, 6].map((n) => `audit.jsonl line ${n}`),
    );
    expect(rows.slice(0, 5).map((r) => JSON.parse(r.text).id)).toEqual(events.map((e) => e.id));
    expect(rows[5]!.text).toBe('{"id":"torn');
  });
});
