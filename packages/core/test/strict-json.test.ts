import { describe, expect, it } from "vitest";
import { checkStrictJson, parseStrictJson, StrictJsonError } from "../src/index.js";

const ruleOf = (input: string | Uint8Array) => {
  try {
    parseStrictJson(input);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(StrictJsonError);
    return (err as StrictJsonError).rule;
  }
};

describe("strict JSON", () => {
  it("accepts what JSON.parse accepts and returns the same value", () => {
    const texts = [
      "0",
      "-0.5e-3",
      "1E+2",
      '"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9"',
      "true",
      " null ",
      "[]",
      "{}",
      '{"a":[1,{"b":null,"c":[true,false]}],"d":"\\ud83d\\ude00","e":"😀"}',
      '{ "a" : 1 ,\n\t"b" : [ 1 , 2 ] }',
      JSON.stringify({ id: "x", data: { nested: { deep: [1, 2, 3] } }, n: 1.7976931348623157e308 }),
    ];
    for (const t of texts) {
      expect(checkStrictJson(t)).toBeUndefined();
      expect(parseStrictJson(t)).toEqual(JSON.parse(t));
      expect(parseStrictJson(Buffer.from(t, "utf8"))).toEqual(JSON.parse(t));
    }
  });

  it("refuses a key given twice, however it is written", () => {
    expect(ruleOf('{"a":4900,"a":100}')).toBe("duplicate-key");
    expect(ruleOf('{"a":1,"\\u0061":2}')).toBe("duplicate-key");
    expect(ruleOf('{"x":{"a":1,"b":{"a":2},"a":3}}')).toBe("duplicate-key");
    // The same key in sibling objects is fine.
    expect(ruleOf('[{"a":1},{"a":2}]')).toBeUndefined();
    const v = checkStrictJson('{"a":4900,"a":100}')!;
    expect(v.offset).toBe(10);
    expect(v.detail).toContain('"a"');
  });

  it("refuses numbers beyond a double's range", () => {
    expect(ruleOf("1e400")).toBe("non-finite-number");
    expect(ruleOf('{"n":-1e400}')).toBe("non-finite-number");
    expect(ruleOf(`[${"9".repeat(400)}]`)).toBe("non-finite-number");
    // Underflow reads as 0, which is a number: not a violation.
    expect(ruleOf("1e-400")).toBeUndefined();
  });

  it("refuses lone surrogates, escaped or literal", () => {
    expect(ruleOf('"\\ud800"')).toBe("lone-surrogate");
    expect(ruleOf('"\\udc00"')).toBe("lone-surrogate");
    expect(ruleOf('"\\ud800\\u0041"')).toBe("lone-surrogate");
    expect(ruleOf('"\\ud800x"')).toBe("lone-surrogate");
    expect(ruleOf('{"\\ud800":1}')).toBe("lone-surrogate");
    expect(ruleOf('"\ud800"')).toBe("lone-surrogate");
    expect(ruleOf('"\udc00\ud800"')).toBe("lone-surrogate");
    expect(ruleOf('"\\ud83d\\ude00"')).toBeUndefined();
  });

  it("refuses bytes that are not UTF-8, naming the byte", () => {
    const bad = [
      [0x22, 0xff, 0x22],
      [0x22, 0xc0, 0xaf, 0x22], // overlong "/"
      [0x22, 0xed, 0xa0, 0x80, 0x22], // a surrogate encoded in UTF-8
      [0x22, 0xe2, 0x82, 0x22], // cut short
      [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], // beyond U+10FFFF
    ];
    for (const b of bad) expect(ruleOf(Uint8Array.from(b))).toBe("invalid-utf8");
    try {
      parseStrictJson(Uint8Array.from([0x22, 0x61, 0xff, 0x22]));
    } catch (err) {
      expect((err as StrictJsonError).offset).toBe(2);
    }
  });

  it("refuses what RFC 8259 does not allow", () => {
    for (const t of [
      "",
      "[1,]",
      '{"a":1,}',
      "01",
      "1.",
      ".5",
      "+1",
      "NaN",
      "Infinity",
      "[1] x",
      "\ufeff{}",
      '{"a" 1}',
      "{a:1}",
      "'a'",
      '"\t"',
      '"\\x41"',
      '"\\u12"',
      "[1 2]",
      "// c\n1",
      '"open',
      "[",
      '{"a":',
      "tru",
    ]) {
      expect(ruleOf(t), t).toBe("syntax");
    }
  });

  it("checks any depth without recursion", () => {
    const depth = 200_000;
    expect(checkStrictJson("[".repeat(depth) + "]".repeat(depth))).toBeUndefined();
    expect(checkStrictJson('{"a":'.repeat(depth) + "1" + "}".repeat(depth))).toBeUndefined();
    expect(checkStrictJson("[".repeat(depth) + "]".repeat(depth - 1))?.rule).toBe("syntax");
  });
});
