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
  // Native JSON.stringify with keys put in order is about twice as fast as building the text by
  // hand. It cannot order array-index-like keys ("2" before "10"): JavaScript objects always list
  // those first, numerically, so for values that have them the text is built by hand.
  indexKeySeen = false;
  const text = JSON.stringify(value, sortKeys);
  return indexKeySeen || text === undefined ? canonicalByHand(value) : text;
}

const INDEX_KEY = /^(?:0|[1-9]\d*)$/;
let indexKeySeen = false;

function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  let ordered = true;
  for (let i = 0; i < keys.length; i++) {
    if (INDEX_KEY.test(keys[i]!)) {
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
