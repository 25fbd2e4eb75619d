/** A JSON value: what every payload becomes after normalisation. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Limits applied while normalising a value. */
export interface NormalizeOptions {
  /**
   * Strings longer than this many characters are cut and marked with `…[truncated N chars]`.
   * @default 32768
   */
  maxStringLength?: number;
  /**
   * Nesting deeper than this becomes the string `"[MaxDepth]"`.
   * @default 32
   */
  maxDepth?: number;
  /**
   * Arrays, sets, maps and objects keep at most this many entries; the rest is summarised.
   * @default 10000
   */
  maxEntries?: number;
}

const DEFAULTS = { maxStringLength: 32_768, maxDepth: 32, maxEntries: 10_000 };

/** The marker a circular reference is replaced with. */
export const CIRCULAR = "[Circular]";

/**
 * Turns any value into JSON, never throwing: Date → ISO string, Error → `{name, message, stack?,
 * cause?}`, BigInt → string, Map → object, Set → array, circular references → `"[Circular]"`,
 * functions, symbols and `undefined` dropped (`null` inside arrays, as JSON does), non-finite
 * numbers → `"NaN"` / `"Infinity"`, binary data → a short description, strings over the cap
 * truncated with a marker. Getters and `toJSON` methods that throw become `"[Unreadable: …]"`.
 */
export function normalize(value: unknown, options?: NormalizeOptions): JsonValue {
  const limits = options ? { ...DEFAULTS, ...options } : DEFAULTS;
  const out = walk(value, limits, [], 0);
  return out === undefined ? null : out;
}

/**
 * Normalises an event payload: like {@link normalize}, but the result is always an object (a
 * non-object payload is wrapped as `{ value }`).
 */
export function normalizePayload(
  value: unknown,
  options?: NormalizeOptions,
): { [key: string]: JsonValue } {
  if (value === undefined || value === null) return {};
  const out = normalize(value, options);
  if (out !== null && typeof out === "object" && !Array.isArray(out)) return out;
  return { value: out };
}

type Limits = typeof DEFAULTS;

// String.prototype.isWellFormed / toWellFormed (Node 20+; not yet in the TypeScript lib we target).
type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };

/**
 * Makes a string storable in every store the same way: NUL (refused by PostgreSQL text and jsonb)
 * and lone surrogates (not valid UTF-8, so each store would write them differently) become U+FFFD.
 * The chain hash is computed over the result, so it covers exactly what every store keeps.
 */
export function storableString(s: string): string {
  // Both checks are native scans, some 30 times faster than a regular expression on long strings.
  const w = s as unknown as WellFormed;
  if (w.isWellFormed() && !s.includes("\u0000")) return s;
  return w.toWellFormed().replaceAll("\u0000", "\uFFFD");
}

/**
 * Cuts a string to at most `max` UTF-16 units plus a marker, never between the two halves of a
 * surrogate pair (a cut emoji would otherwise leave a lone surrogate behind).
 */
export function truncateString(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…[truncated ${s.length - end} chars]`;
}

function truncate(s: string, max: number): string {
  return storableString(truncateString(s, max));
}

function describeError(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return "unknown";
  }
}

// `ancestors` holds only the objects on the path from the root, so a value shared by two siblings
// is written twice (as JSON.stringify would) and only a real cycle becomes "[Circular]".
function walk(
  value: unknown,
  limits: Limits,
  ancestors: object[],
  depth: number,
): JsonValue | undefined {
  switch (typeof value) {
    case "string":
      return truncate(value, limits.maxStringLength);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (ancestors.includes(obj)) return CIRCULAR;
  if (depth >= limits.maxDepth) return "[MaxDepth]";
  try {
    return walkObject(obj, limits, ancestors, depth);
  } catch (err) {
    // Proxies and exotic objects can throw from any trap.
    return `[Unreadable: ${truncate(describeError(err), 200)}]`;
  }
}

function walkObject(
  obj: object,
  limits: Limits,
  ancestors: object[],
  depth: number,
): JsonValue | undefined {
  if (obj instanceof Date) {
    return Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString();
  }
  if (ArrayBuffer.isView(obj)) {
    return `[${obj.constructor?.name ?? "Binary"}: ${obj.byteLength} bytes]`;
  }
  if (obj instanceof ArrayBuffer) return `[ArrayBuffer: ${obj.byteLength} bytes]`;
  if (obj instanceof RegExp) return obj.toString();
  if (obj instanceof URL) return obj.href;
  if (obj instanceof WeakMap || obj instanceof WeakSet) return `[${obj.constructor.name}]`;
  if (obj instanceof Promise) return "[Promise]";

  ancestors.push(obj);
  try {
    if (obj instanceof Error) return walkError(obj, limits, ancestors, depth);
    if (Array.isArray(obj)) return walkList(obj, obj.length, limits, ancestors, depth);
    if (obj instanceof Set) return walkList(obj, obj.size, limits, ancestors, depth);
    if (obj instanceof Map) return walkMap(obj, limits, ancestors, depth);
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") {
      let json: unknown;
      try {
        json = toJSON.call(obj);
      } catch (err) {
        return `[Unreadable: toJSON threw ${truncate(describeError(err), 200)}]`;
      }
      if (json !== obj) return walk(json, limits, ancestors, depth + 1);
    }
    return walkRecord(obj as Record<string, unknown>, limits, ancestors, depth);
  } finally {
    ancestors.pop();
  }
}

function walkList(
  items: Iterable<unknown>,
  size: number,
  limits: Limits,
  ancestors: object[],
  depth: number,
): JsonValue[] {
  const out: JsonValue[] = [];
  for (const item of items) {
    if (out.length >= limits.maxEntries) {
      out.push(`[… ${size - limits.maxEntries} more items]`);
      break;
    }
    const v = walk(item, limits, ancestors, depth + 1);
    out.push(v === undefined ? null : v);
  }
  return out;
}

function mapKey(key: unknown): string {
  if (typeof key === "string") return key;
  if (typeof key === "symbol") return key.toString();
  if (key !== null && typeof key === "object") {
    const n = normalize(key, { maxDepth: 3, maxStringLength: 200 });
    return typeof n === "string" ? n : JSON.stringify(n);
  }
  return String(key);
}

function walkMap(
  map: Map<unknown, unknown>,
  limits: Limits,
  ancestors: object[],
  depth: number,
): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  let n = 0;
  for (const [k, v] of map) {
    if (n++ >= limits.maxEntries) {
      out["[truncated]"] = `${map.size - limits.maxEntries} more entries`;
      break;
    }
    const nv = walk(v, limits, ancestors, depth + 1);
    if (nv !== undefined) out[truncate(mapKey(k), limits.maxStringLength)] = nv;
  }
  return out;
}

function walkRecord(
  obj: Record<string, unknown>,
  limits: Limits,
  ancestors: object[],
  depth: number,
): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  const keys = Object.keys(obj);
  const total = keys.length;
  for (let i = 0; i < total; i++) {
    if (i >= limits.maxEntries) {
      out["[truncated]"] = `${total - limits.maxEntries} more keys`;
      break;
    }
    const key = keys[i]!;
    let raw: unknown;
    try {
      raw = obj[key];
    } catch (err) {
      out[storableString(key)] = `[Unreadable: ${truncate(describeError(err), 200)}]`;
      continue;
    }
    const v = walk(raw, limits, ancestors, depth + 1);
    // "__proto__" as an own key must stay data, never become the prototype.
    if (v !== undefined) {
      if (key === "__proto__")
        Object.defineProperty(out, key, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else out[truncate(key, limits.maxStringLength)] = v;
    }
  }
  return out;
}

function walkError(
  err: Error,
  limits: Limits,
  ancestors: object[],
  depth: number,
): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  const read = (key: string): unknown => {
    try {
      return (err as unknown as Record<string, unknown>)[key];
    } catch {
      return undefined;
    }
  };
  const name = read("name");
  out.name = typeof name === "string" ? truncate(name, 200) : "Error";
  const message = read("message");
  out.message = truncate(
    typeof message === "string" ? message : String(message ?? ""),
    limits.maxStringLength,
  );
  const stack = read("stack");
  if (typeof stack === "string") out.stack = truncate(stack, limits.maxStringLength);
  // Own enumerable fields such as `code`, `status`, `errno` carry the useful detail of most errors.
  let keys: string[] = [];
  try {
    keys = Object.keys(err);
  } catch {
    keys = [];
  }
  for (const key of keys) {
    if (key === "name" || key === "message" || key === "stack") continue;
    const v = walk(read(key), limits, ancestors, depth + 1);
    if (v !== undefined) out[storableString(key)] = v;
  }
  const cause = read("cause");
  if (cause !== undefined) {
    const v = walk(cause, limits, ancestors, depth + 1);
    if (v !== undefined) out.cause = v;
  }
  if (err instanceof AggregateError) {
    const errors = read("errors");
    if (Array.isArray(errors))
      out.errors = walkList(errors, errors.length, limits, ancestors, depth);
  }
  return out;
}
