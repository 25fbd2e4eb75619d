/**
 * The canonical JSON encoding hashed by the integrity chain: RFC 8785 (JSON Canonicalization
 * Scheme) for the JSON values events hold.
 *
 * - Objects: members sorted by key, comparing keys as sequences of UTF-16 code units (JavaScript's
 *   default string order); members whose value is `undefined` are left out.
 * - Arrays: elements in order.
 * - Strings: as `JSON.stringify` writes them (ECMAScript's escaping: `\"`, `\\`, `\b \f \n \r \t`,
 *   other control characters as lowercase `\u00xx`, lone surrogates as `\udxxx`, everything else
 *   literally), encoded as UTF-8.
 * - Numbers: ECMAScript's Number-to-String (`JSON.stringify`), e.g. `1`, `0.5`, `1e+21`;
 *   `-0` is written `0`. Non-finite numbers never occur (normalisation turns them into strings).
 * - `true`, `false`, `null` literally; no whitespace anywhere.
 */
export function canonicalJson(value: unknown): string {
  // Native JSON.stringify of a copy whose keys are put in order is about twice as fast as a
  // replacer function (called back for every value) and faster than building the text by hand;
  // objects whose keys are already in order are not copied. Array-index-like keys ("2" before
  // "10") cannot be ordered in a JavaScript object (they always come first, numerically), and a
  // `toJSON` method would be bypassed by the copy: values with either are written by hand.
  const ordered = inKeyOrder(value);
  if (ordered !== UNORDERABLE) {
    const text = JSON.stringify(ordered);
    if (text !== undefined) return text;
  }
  // The slower general path: a replacer orders keys after any toJSON ran.
  indexKeySeen = false;
  const text = JSON.stringify(value, sortKeys);
  return indexKeySeen || text === undefined ? canonicalByHand(value) : text;
}

let indexKeySeen = false;

function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  let ordered = true;
  for (let i = 0; i < keys.length; i++) {
    if (INDEX_KEY.test(keys[i]!) || keys[i] === "__proto__") {
      indexKeySeen = true;
      return value;
    }
    if (i > 0 && keys[i - 1]! > keys[i]!) ordered = false;
  }
  if (ordered) return value;
  keys.sort();
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = (value as Record<string, unknown>)[k];
  return out;
}

const INDEX_KEY = /^(?:0|[1-9]\d*)$/;
const UNORDERABLE = Symbol("unorderable");

// The value with every object's keys in UTF-16 order: the same objects where they already are.
function inKeyOrder(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return UNORDERABLE;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const c = inKeyOrder(v);
      if (c === UNORDERABLE) return UNORDERABLE;
      if (c !== v) {
        out ??= value.slice();
        out[i] = c;
      }
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  let sorted = true;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const c0 = k.charCodeAt(0);
    // `__proto__` cannot be set as a plain key by assignment: the general path handles it.
    if ((c0 >= 48 && c0 <= 57 && INDEX_KEY.test(k)) || k === "__proto__") return UNORDERABLE;
    if (i > 0 && keys[i - 1]! > k) sorted = false;
  }
  if (!sorted) keys.sort();
  let out: Record<string, unknown> | undefined = sorted ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = obj[k];
    const c = inKeyOrder(v);
    if (c === UNORDERABLE) return UNORDERABLE;
    if (out) out[k] = c;
    else if (c !== v) {
      // A nested object changed: copy the members so far, then go on copying.
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = obj[keys[j]!];
      out[k] = c;
    }
  }
  return out ?? obj;
}

function canonicalByHand(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object":
      break;
    default:
      return "null";
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      const v = value[i];
      out += v === undefined ? "null" : canonicalByHand(v);
    }
    return out + "]";
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const v = obj[key];
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    if (!first) out += ",";
    first = false;
    out += JSON.stringify(key) + ":" + canonicalByHand(v);
  }
  return out + "}";
}
