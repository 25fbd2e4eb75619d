import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AuditConfigError,
  type AuditEvent,
  Auditor,
  AuditValidationError,
  canonicalJson,
  chainInput,
  MemoryStore,
} from "../src/index.js";
import {
  assertValidEvent,
  compileFilter,
  cursorOf,
  describeStore,
  eventDataText,
  eventText,
  isEventTime,
  keysetPages,
  readUrlParams,
  resolveFilter,
  type SqlDialect,
  StatsCollector,
  splitStoreUrl,
  statsFromGroups,
  trailStats,
} from "../src/store-kit/index.js";

const QMARK: SqlDialect = {
  placeholder: () => "?",
  dataEquals: (data, bind) => Object.entries(data).map(([k, v]) => `data_${k} = ${bind(v)}`),
};

describe("compileFilter", () => {
  it("puts every condition and the cursor in one WHERE, with parameters in placeholder order", () => {
    const f = resolveFilter({
      type: ["tool.*", "llm.end"],
      actor: "bot",
      sessionId: "s",
      runId: "r",
      approvalId: "a",
      risk: "high",
      since: "2026-01-01T00:00:00.000Z",
      until: "2026-02-01T00:00:00.000Z",
      data: { tool: "search" },
      order: "desc",
    });
    const { where, params } = compileFilter(
      f,
      { time: "2026-01-15T00:00:00.000Z", id: "x" },
      {
        ...QMARK,
        placeholder: (n) => `$${n}`,
      },
    );
    expect(where).toBe(
      "WHERE (type IN ($1) OR (type >= $2 AND type < $3)) AND actor = $4 AND session_id = $5 AND run_id = $6 AND approval_id = $7 AND risk_level >= $8 AND time >= $9 AND time < $10 AND data_tool = $11 AND (time, id) < ($12, $13)",
    );
    expect(params).toEqual([
      "llm.end",
      "tool.",
      "tool/",
      "bot",
      "s",
      "r",
      "a",
      2,
      "2026-01-01T00:00:00.000Z",
      "2026-02-01T00:00:00.000Z",
      "search",
      "2026-01-15T00:00:00.000Z",
      "x",
    ]);
  });

  it("lets a dialect bind times its own way and rename columns", () => {
    const f = resolveFilter({ since: "2026-01-01T00:00:00.000Z" });
    const { where, params } = compileFilter(
      f,
      { time: "2026-01-01T00:00:00.001Z", id: "i" },
      {
        ...QMARK,
        columns: { time: "t_ms" },
        time: (iso, bind) => bind(Date.parse(iso)),
      },
    );
    expect(where).toBe("WHERE t_ms >= ? AND (t_ms, id) > (?, ?)");
    expect(params).toEqual([1767225600000, 1767225600001, "i"]);
  });

  it("gives no WHERE for an empty filter", () => {
    expect(compileFilter(resolveFilter({}), undefined, QMARK)).toEqual({ where: "", params: [] });
  });
});

describe("keysetPages", () => {
  const events = Array.from({ length: 2500 }, (_, i) => ({
    // Many events share a time: the key is (time, id).
    time: `2026-01-01T00:00:0${Math.floor(i / 1000)}.000Z`,
    id: String(i).padStart(5, "0"),
  }));
  const after = (c: { time: string; id: string } | undefined) =>
    events.filter((e) => !c || e.time > c.time || (e.time === c.time && e.id > c.id));

  it("reads every item once, in order, page by page", async () => {
    const sizes: number[] = [];
    const out: string[] = [];
    for await (const e of keysetPages(
      (c, size) => {
        sizes.push(size);
        return after(c).slice(0, size);
      },
      { pageSize: 1000 },
    ))
      out.push(e.id);
    expect(out).toEqual(events.map((e) => e.id));
    expect(sizes).toEqual([1000, 1000, 1000]);
  });

  it("stops at the limit without asking for more than it needs, and starts after a cursor", async () => {
    const sizes: number[] = [];
    const out: string[] = [];
    for await (const e of keysetPages(
      (c, size) => {
        sizes.push(size);
        return after(c).slice(0, size);
      },
      { pageSize: 400, limit: 500, start: events[9] },
    ))
      out.push(e.id);
    expect(out).toEqual(events.slice(10, 510).map((e) => e.id));
    expect(sizes).toEqual([400, 100]);
  });

  it("calls check before each page, so a closed store stops the read", async () => {
    let pages = 0;
    const read = async () => {
      for await (const _ of keysetPages((c, size) => after(c).slice(0, size), {
        pageSize: 100,
        check: () => {
          if (++pages > 2) throw new Error("closed");
        },
      }));
    };
    await expect(read()).rejects.toThrow("closed");
  });

  it("refuses a cursor that names no event", async () => {
    await expect(cursorOf("nope", () => undefined)).rejects.toBeInstanceOf(AuditValidationError);
    await expect(cursorOf(undefined, () => undefined)).resolves.toBeUndefined();
  });
});

describe("store URL parameters", () => {
  const spec = {
    maxEvents: { kind: "integer", min: 1 },
    readOnly: { kind: "boolean" },
    mode: { kind: "choice", values: ["fast", "safe"] },
  } as const;

  it("reads typed values", () => {
    const { location, query } = splitStoreUrl(
      "kv://./data%20dir?maxEvents=10&readonly=1&mode=safe",
      "kv",
      "kv:./dir",
    );
    expect(location).toBe("./data dir");
    const { values } = readUrlParams("kv", query, spec, { aliases: { readonly: "readOnly" } });
    expect(values).toEqual({ maxEvents: 10, readOnly: true, mode: "safe" });
  });

  it("refuses unknown, repeated and malformed parameters with the known ones listed", () => {
    const read = (q: string) => () => readUrlParams("kv", new URLSearchParams(q), spec);
    expect(read("maxEvent=10")).toThrow(
      '[kv] unknown option "maxEvent" in the store URL; known: maxEvents, readOnly, mode',
    );
    expect(read("maxEvents=1&maxEvents=2")).toThrow(/given twice/);
    expect(read("maxEvents=0")).toThrow(/whole number ≥ 1, got "0"/);
    expect(read("maxEvents=1e3")).toThrow(AuditConfigError);
    expect(read("maxEvents=-1")).toThrow(AuditConfigError);
    expect(read("readOnly=yes")).toThrow(/true or false/);
    expect(read("mode=turbo")).toThrow(/mode must be fast or safe/);
    expect(() => splitStoreUrl("other:x", "kv", "kv:./dir")).toThrow(/use kv:\.\/dir/);
  });

  it("never repeats a secret from the URL in its errors", () => {
    const token = "sk-live-abcdefghijklmnopqrstuvwxyz012345";
    expect(() => readUrlParams("kv", new URLSearchParams(`mode=${token}`), spec)).toThrow(
      /REDACTED/,
    );
    try {
      readUrlParams("kv", new URLSearchParams(`mode=${token}`), spec);
    } catch (err) {
      expect((err as Error).message).not.toContain(token);
    }
  });

  it("passes a driver's parameters through", () => {
    const { values, rest } = readUrlParams("kv", new URLSearchParams("sslmode=require"), spec, {
      passThrough: ["sslmode"],
    });
    expect(values).toEqual({});
    expect(rest).toEqual([["sslmode", "require"]]);
  });
});

describe("the sealed text", () => {
  it("is the canonical JSON whose bytes were hashed, hash included, and never serialised again", async () => {
    const store = new MemoryStore();
    const audit = new Auditor({ store, spool: false });
    const recorded: AuditEvent[] = [];
    for (let i = 0; i < 20; i++) {
      recorded.push(
        audit.record({
          type: "custom.thing",
          actor: `a"chain":{"id":${i}`,
          data: { z: 1, a: { "😀": true, b: [1, "two"] }, chain: { id: "x" } },
        }),
      );
    }
    await audit.flush();
    for (const e of recorded) {
      const text = eventText(e);
      expect(text).toBe(canonicalJson(e));
      const withoutHash = text.replace(`"hash":"${e.chain!.hash}",`, "");
      expect(withoutHash).toBe(chainInput(e));
      expect(createHash("sha256").update(withoutHash).digest("hex")).toBe(e.chain!.hash);
      expect(eventDataText(e)).toBe(canonicalJson(e.data));
      // A changed copy shares the link, not the text: it is serialised as it is.
      const copy = { ...e, data: { changed: true } };
      expect(eventText(copy)).toBe(JSON.stringify(copy));
      expect(JSON.parse(JSON.stringify(e.chain))).toEqual({
        id: e.chain!.id,
        seq: e.chain!.seq,
        prev: e.chain!.prev,
        hash: e.chain!.hash,
      });
    }
    await audit.close();
  });

  it("is JSON.stringify for an event that was not sealed here (its payload: canonical)", () => {
    const e = { id: "x", time: "2026-01-01T00:00:00.000Z", type: "t", data: { b: 1, a: 2 } };
    expect(eventText(e)).toBe(JSON.stringify(e));
    expect(eventDataText(e)).toBe('{"a":2,"b":1}');
  });
});

describe("stats", () => {
  it("streams when the store cannot count in place, and merges group rows when it can", async () => {
    const store = new MemoryStore();
    const t = (s: number) => `2026-01-01T00:00:0${s}.000Z`;
    await store.append([
      { id: "1", time: t(1), type: "a", actor: "x", data: {} },
      { id: "2", time: t(2), type: "b", risk: "high", data: {} },
      { id: "3", time: t(3), type: "a", actor: "x", data: {} },
    ]);
    const streamed = await trailStats(store);
    expect(streamed).toEqual({
      total: 3,
      first: t(1),
      last: t(3),
      byType: {
        a: { count: 2, first: t(1), last: t(3) },
        b: { count: 1, first: t(2), last: t(2) },
      },
      byActor: {
        x: { count: 2, first: t(1), last: t(3) },
        "(none)": { count: 1, first: t(2), last: t(2) },
      },
      byRisk: {
        "(none)": { count: 2, first: t(1), last: t(3) },
        high: { count: 1, first: t(2), last: t(2) },
      },
    });
    const merged = statsFromGroups({
      type: [
        { key: "a", count: 2, first: t(1), last: t(3) },
        { key: "b", count: 1, first: t(2), last: t(2) },
      ],
      actor: [
        { key: "x", count: 2, first: t(1), last: t(3) },
        { key: null, count: 1, first: t(2), last: t(2) },
      ],
      risk: [
        { key: null, count: 2, first: t(1), last: t(3) },
        { key: "high", count: 1, first: t(2), last: t(2) },
      ],
    });
    expect(merged).toEqual(streamed);
    const c = new StatsCollector();
    expect(c.result()).toEqual({ total: 0, byType: {}, byActor: {}, byRisk: {} });
  });

  it("uses the store's own stats unless the filter pages", async () => {
    const store = new MemoryStore();
    let called = 0;
    const own = Object.assign(store, {
      stats: async () => {
        called++;
        return { total: 42, byType: {}, byActor: {}, byRisk: {} };
      },
    });
    expect((await trailStats(own)).total).toBe(42);
    expect((await trailStats(own, { limit: 5 })).total).toBe(0);
    expect(called).toBe(1);
  });
});

describe("describeStore", () => {
  it("scrubs a secret out of the location", () => {
    const d = describeStore(
      { id: "x", capabilities: { persistent: true, multiProcess: false, subscribe: false } },
      "postgres://me:sk-live-abcdefghijklmnopqrstuvwxyz012345@host/db",
      true,
    );
    expect(d.location).not.toContain("sk-live-abcdefghijklmnopqrstuvwxyz012345");
    expect(d).toMatchObject({ id: "x", readOnly: true });
  });
});

describe("event times", () => {
  it("refuses a time JavaScript would roll over to another instant", () => {
    expect(isEventTime("2026-02-28T23:59:59.999Z")).toBe(true);
    expect(isEventTime("2024-02-29T00:00:00.000Z")).toBe(true);
    expect(isEventTime("2026-12-31T23:00:00.000Z")).toBe(true);
    expect(isEventTime("2026-02-29T00:00:00.000Z")).toBe(false);
    expect(isEventTime("2026-02-30T00:00:00.000Z")).toBe(false);
    expect(isEventTime("2026-04-31T00:00:00.000Z")).toBe(false);
    expect(isEventTime("2026-01-01T24:00:00.000Z")).toBe(false);
    expect(() =>
      assertValidEvent({ id: "x", type: "t", time: "2026-02-30T00:00:00.000Z", data: {} }),
    ).toThrow("is not a real UTC instant");
  });
});
