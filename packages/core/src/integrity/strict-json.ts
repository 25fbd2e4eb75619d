import { AuditValidationError } from "../errors.js";

// A stored event must mean one thing to every reader. JSON.parse keeps the last of two equal keys
// while SQL's JSON functions may take the first; it reads 1e400 as Infinity, which JSON.stringify
// writes back as null; and it lets lone surrogates through, which other languages refuse or
// replace. So stored text is checked against RFC 8259 plus these rules before it is believed.

/** Which rule of strict JSON a text breaks. */
export type StrictJsonRule =
  /** Not JSON at all (RFC 8259 grammar): a torn line, a truncated body, trailing garbage. */
  | "syntax"
  /** An object names one key twice (also when the two are written differently, `"a"` and `"\u0061"`). */
  | "duplicate-key"
  /** A number too large for a double (`1e400`): it would read as Infinity. */
  | "non-finite-number"
  /** A string holds a lone UTF-16 surrogate (escaped as `\udxxx` or literally). */
  | "lone-surrogate"
  /** The stored bytes are not valid UTF-8. */
  | "invalid-utf8";

/** Where and how a text breaks strict JSON. */
export interface StrictJsonViolation {
  rule: StrictJsonRule;
  /** Offset in the decoded text (UTF-16 code units), or in the bytes for `invalid-utf8`. */
  offset: number;
  /** What was found there, for a message. */
  detail: string;
}

/** Thrown by {@link parseStrictJson}: carries the rule and the offset. */
export class StrictJsonError extends AuditValidationError {
  readonly rule: StrictJsonRule;
  readonly offset: number;

  constructor(violation: StrictJsonViolation) {
    super(`not strict JSON (${violation.rule} at ${violation.offset}): ${violation.detail}`, {
      stage: "verify",
    });
    this.rule = violation.rule;
    this.offset = violation.offset;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 bytes, or tells where they are not valid UTF-8. */
export function decodeUtf8Strict(
  bytes: Uint8Array,
): { text: string } | { violation: StrictJsonViolation } {
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    const offset = firstInvalidUtf8(bytes);
    return {
      violation: {
        rule: "invalid-utf8",
        offset,
        detail: `byte 0x${(bytes[offset] ?? 0).toString(16).padStart(2, "0")} at ${offset} does not continue valid UTF-8`,
      },
    };
  }
}

// The offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF).
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined) return i;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += need + 1;
  }
  return b.length;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

interface Frame {
  object: boolean;
  keys: Set<string> | undefined;
}

/**
 * Checks a JSON text against RFC 8259 and the rules above, in one pass over the text (time linear
 * in its length, no recursion, so any nesting depth is safe). Returns the first violation, or
 * undefined for strict JSON.
 */
export function checkStrictJson(text: string): StrictJsonViolation | undefined {
  const n = text.length;
  let i = 0;
  const stack: Frame[] = [];
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const syntax = (what: string): StrictJsonViolation => ({
    rule: "syntax",
    offset: i,
    detail: i >= n ? `the text ends early (${what})` : `${what} at ${JSON.stringify(text[i])}`,
  });

  // Scans a string starting at its opening quote; returns a violation, or leaves `i` after it.
  let stringHadEscape = false;
  const scanString = (): StrictJsonViolation | undefined => {
    i++;
    stringHadEscape = false;
    // A high surrogate waiting for its low half: "escaped" or "literal", with its offset.
    let pendingHigh: "escaped" | "literal" | undefined;
    let pendingAt = 0;
    const lone = (at: number): StrictJsonViolation => ({
      rule: "lone-surrogate",
      offset: at,
      detail: `a UTF-16 surrogate without its other half at ${at}`,
    });
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        if (pendingHigh) return lone(pendingAt);
        i++;
        return undefined;
      }
      if (c < 0x20) return syntax("an unescaped control character in a string");
      if (c === 0x5c) {
        stringHadEscape = true;
        const e = text.charCodeAt(i + 1);
        if (e === 0x75) {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            i += 2;
            return syntax("a \\u escape without four hex digits");
          }
          const u = Number.parseInt(hex, 16);
          if (u >= 0xdc00 && u <= 0xdfff) {
            if (pendingHigh !== "escaped") return lone(pendingHigh ? pendingAt : i);
            pendingHigh = undefined;
          } else {
            if (pendingHigh) return lone(pendingAt);
            if (u >= 0xd800 && u <= 0xdbff) {
              pendingHigh = "escaped";
              pendingAt = i;
            }
          }
          i += 6;
          continue;
        }
        if (
          e === 0x22 ||
          e === 0x5c ||
          e === 0x2f ||
          e === 0x62 ||
          e === 0x66 ||
          e === 0x6e ||
          e === 0x72 ||
          e === 0x74
        ) {
          if (pendingHigh) return lone(pendingAt);
          i += 2;
          continue;
        }
        i++;
        return syntax("an invalid escape");
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        if (c <= 0xdbff) {
          if (pendingHigh) return lone(pendingAt);
          pendingHigh = "literal";
          pendingAt = i;
        } else {
          if (pendingHigh !== "literal") return lone(pendingHigh ? pendingAt : i);
          pendingHigh = undefined;
        }
      } else if (pendingHigh) {
        return lone(pendingAt);
      }
      i++;
    }
    return syntax("an unterminated string");
  };

  // Scans one scalar (anything but an object or array) at `i`.
  const scanScalar = (): StrictJsonViolation | undefined => {
    const c = text.charCodeAt(i);
    if (c === 0x22) return scanString();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) return syntax("a malformed number");
      const token = m[0];
      if (!Number.isFinite(Number(token))) {
        return {
          rule: "non-finite-number",
          offset: i,
          detail: `the number ${token.length > 40 ? `${token.slice(0, 40)}…` : token} is beyond a double's range`,
        };
      }
      i += token.length;
      const next = text.charCodeAt(i);
      if ((next >= 0x30 && next <= 0x39) || next === 0x2e || next === 0x65 || next === 0x45)
        return syntax("a malformed number");
      return undefined;
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return undefined;
      }
    }
    return syntax("an unexpected character");
  };

  ws();
  // `expectValue`: the next token must be a value (start, after ':' or ',' in an array).
  let expectValue = true;
  for (;;) {
    if (expectValue) {
      ws();
      if (i >= n) return syntax("a value was expected");
      const c = text.charCodeAt(i);
      if (c === 0x7b || c === 0x5b) {
        stack.push({ object: c === 0x7b, keys: undefined });
        i++;
        ws();
        const close = c === 0x7b ? 0x7d : 0x5d;
        if (text.charCodeAt(i) === close) {
          i++;
          stack.pop();
          expectValue = false;
        } else if (c === 0x7b) {
          const v = scanKey(stack[stack.length - 1]!);
          if (v) return v;
        }
        continue;
      }
      const v = scanScalar();
      if (v) return v;
      expectValue = false;
      continue;
    }
    // After a value: the end, a comma, or the close of the container.
    ws();
    const top = stack[stack.length - 1];
    if (!top) {
      if (i < n) return syntax("text after the JSON value");
      return undefined;
    }
    const c = text.charCodeAt(i);
    if (c === 0x2c) {
      i++;
      if (top.object) {
        const v = scanKey(top);
        if (v) return v;
      } else expectValue = true;
      continue;
    }
    if (c === (top.object ? 0x7d : 0x5d)) {
      i++;
      stack.pop();
      continue;
    }
    return syntax(top.object ? "',' or '}' was expected" : "',' or ']' was expected");
  }

  // A key, its colon, and then a value is expected.
  function scanKey(frame: Frame): StrictJsonViolation | undefined {
    ws();
    if (text.charCodeAt(i) !== 0x22) return syntax("a key (a string) was expected");
    const start = i;
    const v = scanString();
    if (v) return v;
    const raw = text.slice(start, i);
    const key = stringHadEscape ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    frame.keys ??= new Set();
    if (frame.keys.has(key)) {
      return {
        rule: "duplicate-key",
        offset: start,
        detail: `the key ${JSON.stringify(key)} appears twice in one object`,
      };
    }
    frame.keys.add(key);
    ws();
    if (text.charCodeAt(i) !== 0x3a) return syntax("':' was expected");
    i++;
    expectValue = true;
    return undefined;
  }
}

/**
 * Parses JSON text (or UTF-8 bytes) strictly: RFC 8259, valid UTF-8, no duplicate keys, no number
 * beyond a double's range, no lone surrogate. Linear in the input; no `eval`.
 * @throws {StrictJsonError} naming the rule broken and where.
 */
export function parseStrictJson(input: string | Uint8Array): unknown {
  let text: string;
  if (typeof input === "string") text = input;
  else {
    const decoded = decodeUtf8Strict(input);
    if ("violation" in decoded) throw new StrictJsonError(decoded.violation);
    text = decoded.text;
  }
  const violation = checkStrictJson(text);
  if (violation) throw new StrictJsonError(violation);
  return JSON.parse(text);
}
