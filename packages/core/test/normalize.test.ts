import { describe, expect, it } from "vitest";
import { CIRCULAR, normalize, normalizePayload } from "../src/index.js";

describe("normalize", () => {
  it("turns every awkward value into JSON that round-trips", () => {
    const err = new TypeError("bad thing");
    (err as Error & { code?: string }).code = "E_BAD";
    const value = {
      date: new Date("2026-11-22T05:44:30.123Z"),
      invalidDate: new Date("nope"),
      big: 12345678901234567890n,
      err,
      map: new Map<unknown, unknown>([
        ["a", 1],
        [2, new Set([1, 2])],
      ]),
      set: new Set(["x", "y"]),
      undef: undefined,
      fn: () => 1,
      sym: Symbol("s"),
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      arr: [1, undefined, () => 2, Symbol("t")],
      buf: Buffer.from("hello"),
      re: /a+b/g,
      url: new URL("https://example.com/a?b=1"),
      nested: { ok: true, n: null },
    };
    const out = normalize(value) as Record<string, unknown>;
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
    expect(out.date).toBe("2026-11-22T05:44:30.123Z");
    expect(out.invalidDate).toBe("Invalid Date");
    expect(out.big).toBe("12345678901234567890");
    expect(out.err).toMatchObject({ name: "TypeError", message: "bad thing", code: "E_BAD" });
    expect((out.err as { stack: string }).stack).toContain("TypeError: bad thing");
    expect(out.map).toEqual({ a: 1, "2": [1, 2] });
    expect(out.set).toEqual(["x", "y"]);
    expect("undef" in out).toBe(false);
    expect("fn" in out).toBe(false);
    expect("sym" in out).toBe(false);
    expect(out.nan).toBe("NaN");
    expect(out.inf).toBe("Infinity");
    expect(out.arr).toEqual([1, null, null, null]);
    expect(out.buf).toBe("[Buffer: 5 bytes]");
    expect(out.re).toBe("/a+b/g");
    expect(out.url).toBe("https://example.com/a?b=1");
    expect(out.nested).toEqual({ ok: true, n: null });
  });

  it("replaces real cycles with a marker but keeps shared references", () => {
    const shared = { v: 1 };
    const a: Record<string, unknown> = { shared, again: shared };
    a.self = a;
    const list: unknown[] = [1];
    list.push(list);
    a.list = list;
    const out = normalize(a) as Record<string, unknown>;
    expect(out.self).toBe(CIRCULAR);
    expect(out.shared).toEqual({ v: 1 });
    expect(out.again).toEqual({ v: 1 });
    expect(out.list).toEqual([1, CIRCULAR]);
  });

  it("keeps error causes, aggregate errors and cyclic causes", () => {
    const inner = new Error("inner");
    const outer = new Error("outer", { cause: inner });
    (inner as Error & { cause?: unknown }).cause = outer;
    const agg = new AggregateError([outer, "plain"], "many");
    const out = normalize(agg) as Record<string, unknown>;
    expect(out.message).toBe("many");
    const errors = out.errors as Record<string, unknown>[];
    expect(errors[0]).toMatchObject({
      message: "outer",
      cause: { message: "inner", cause: CIRCULAR },
    });
    expect(errors[1]).toBe("plain");
  });

  it("never throws on hostile objects", () => {
    const getterThrows = {
      get boom() {
        throw new Error("getter exploded");
      },
      fine: 1,
    };
    const toJsonThrows = {
      toJSON() {
        throw new Error("no json for you");
      },
    };
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("trap");
        },
      },
    );
    const weirdError = new Error("x");
    Object.defineProperty(weirdError, "message", {
      get() {
        throw new Error("message getter");
      },
    });
    const nullProto = Object.create(null) as Record<string, unknown>;
    nullProto.a = 1;
    const protoKey = JSON.parse('{"__proto__": {"polluted": true}}') as object;
    const out = normalize({
      getterThrows,
      toJsonThrows,
      proxy,
      weirdError,
      nullProto,
      protoKey,
    }) as Record<string, Record<string, unknown>>;
    expect(out.getterThrows).toEqual({ boom: "[Unreadable: getter exploded]", fine: 1 });
    expect(out.toJsonThrows).toBe("[Unreadable: toJSON threw no json for you]");
    expect(String(out.proxy)).toContain("[Unreadable: trap]");
    expect(out.weirdError!.name).toBe("Error");
    expect(out.nullProto).toEqual({ a: 1 });
    expect(Object.hasOwn(out.protoKey!, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("caps strings, depth and entries", () => {
    const long = "a".repeat(100);
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 50; i++) deep = { deep };
    const out = normalize(
      { long, deep, many: Array.from({ length: 20 }, (_, i) => i) },
      { maxStringLength: 10, maxDepth: 5, maxEntries: 5 },
    ) as Record<string, unknown>;
    expect(out.long).toBe(`${"a".repeat(10)}…[truncated 90 chars]`);
    expect(JSON.stringify(out.deep)).toContain("[MaxDepth]");
    expect(out.many).toEqual([0, 1, 2, 3, 4, "[… 15 more items]"]);
  });

  it("handles a huge payload without blowing the stack", () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => normalize(deep)).not.toThrow();
    const wide = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]));
    const out = normalize(wide) as Record<string, unknown>;
    expect(Object.keys(out)).toHaveLength(10_001);
  });

  it("wraps non-object payloads so data is always an object", () => {
    expect(normalizePayload("text")).toEqual({ value: "text" });
    expect(normalizePayload([1])).toEqual({ value: [1] });
    expect(normalizePayload(undefined)).toEqual({});
    expect(normalizePayload(new Error("e"))).toMatchObject({ name: "Error", message: "e" });
  });
});
