import { AuditValidationError } from "./errors.js";
import { type AuditEvent, isRisk, type Risk, riskAtLeast } from "./event.js";
import type { AuditFilter, PruneOptions } from "./store.js";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const RELATIVE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/**
 * Parses a point in time: a `Date`, an ISO 8601 string, or a duration back from `now` such as
 * `"15m"`, `"1h"`, `"7d"`, `"2w"`. Returns the RFC 3339 UTC string with milliseconds that events
 * use, so it compares correctly as text.
 */
export function parseTime(value: Date | string, now: number = Date.now()): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new AuditValidationError("invalid Date");
    return value.toISOString();
  }
  if (typeof value !== "string") {
    throw new AuditValidationError(`expected a Date or a time string, got ${typeof value}`);
  }
  const rel = RELATIVE.exec(value.trim());
  if (rel) return new Date(now - Number(rel[1]) * UNITS[rel[2]!]!).toISOString();
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new AuditValidationError(
      `cannot read "${value}" as a time; use an ISO date (2026-11-22T10:00:00Z) or a duration like 1h or 7d`,
    );
  }
  return new Date(ms).toISOString();
}

/** A filter with its parts checked and resolved, ready for a store to translate. */
export interface ResolvedFilter {
  /** Exact types to match (empty: no exact condition). */
  types: string[];
  /** Type prefixes to match, each ending in "." (`"tool.*"` → `"tool."`). */
  typePrefixes: string[];
  /** True when some type condition was given. */
  hasTypeCondition: boolean;
  actor?: string;
  sessionId?: string;
  runId?: string;
  approvalId?: string;
  risk?: Risk;
  /** Inclusive lower bound, RFC 3339 UTC with milliseconds. */
  since?: string;
  /** Exclusive upper bound, RFC 3339 UTC with milliseconds. */
  until?: string;
  data?: Record<string, string | number | boolean>;
  order: "asc" | "desc";
  limit?: number;
  after?: string;
}

const FILTER_KEYS = new Set([
  "type",
  "actor",
  "sessionId",
  "runId",
  "approvalId",
  "risk",
  "since",
  "until",
  "data",
  "order",
  "limit",
  "after",
]);

function optionalString(filter: AuditFilter, key: keyof AuditFilter): string | undefined {
  const v = filter[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0) {
    throw new AuditValidationError(`filter.${key} must be a non-empty string`);
  }
  return v;
}

/**
 * Checks a filter and resolves relative times and type patterns. Unknown keys and wrong types are
 * rejected with a clear error rather than silently matching everything.
 */
export function resolveFilter(filter: AuditFilter = {}, now: number = Date.now()): ResolvedFilter {
  if (filter === null || typeof filter !== "object") {
    throw new AuditValidationError("a filter must be an object");
  }
  for (const key of Object.keys(filter)) {
    if (!FILTER_KEYS.has(key)) {
      throw new AuditValidationError(
        `unknown filter key "${key}"; known keys: ${[...FILTER_KEYS].join(", ")}`,
      );
    }
  }
  const types: string[] = [];
  const typePrefixes: string[] = [];
  const rawTypes =
    filter.type === undefined ? [] : Array.isArray(filter.type) ? filter.type : [filter.type];
  let matchAll = false;
  for (const t of rawTypes) {
    if (typeof t !== "string" || t.length === 0) {
      throw new AuditValidationError("filter.type must be a string or a list of strings");
    }
    if (t === "*") matchAll = true;
    else if (t.endsWith(".*")) typePrefixes.push(t.slice(0, -1));
    else if (t.includes("*")) {
      throw new AuditValidationError(
        `filter.type "${t}": only a trailing ".*" pattern is supported, e.g. "tool.*"`,
      );
    } else types.push(t);
  }
  const resolved: ResolvedFilter = {
    types,
    typePrefixes,
    hasTypeCondition: !matchAll && rawTypes.length > 0,
    order: filter.order ?? "asc",
  };
  if (resolved.order !== "asc" && resolved.order !== "desc") {
    throw new AuditValidationError(`filter.order must be "asc" or "desc"`);
  }
  const actor = optionalString(filter, "actor");
  if (actor !== undefined) resolved.actor = actor;
  const sessionId = optionalString(filter, "sessionId");
  if (sessionId !== undefined) resolved.sessionId = sessionId;
  const runId = optionalString(filter, "runId");
  if (runId !== undefined) resolved.runId = runId;
  const approvalId = optionalString(filter, "approvalId");
  if (approvalId !== undefined) resolved.approvalId = approvalId;
  const after = optionalString(filter, "after");
  if (after !== undefined) resolved.after = after;
  if (filter.risk !== undefined) {
    if (!isRisk(filter.risk)) {
      throw new AuditValidationError(`filter.risk must be one of low, medium, high, critical`);
    }
    resolved.risk = filter.risk;
  }
  if (filter.since !== undefined) resolved.since = parseTime(filter.since, now);
  if (filter.until !== undefined) resolved.until = parseTime(filter.until, now);
  if (filter.limit !== undefined) {
    if (!Number.isInteger(filter.limit) || filter.limit < 0) {
      throw new AuditValidationError("filter.limit must be a whole number ≥ 0");
    }
    resolved.limit = filter.limit;
  }
  if (filter.data !== undefined) {
    if (filter.data === null || typeof filter.data !== "object" || Array.isArray(filter.data)) {
      throw new AuditValidationError("filter.data must be an object of field → value");
    }
    for (const [k, v] of Object.entries(filter.data)) {
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
        throw new AuditValidationError(
          `filter.data.${k} must be a string, number or boolean (top-level equality)`,
        );
      }
    }
    resolved.data = filter.data;
  }
  return resolved;
}

/**
 * The smallest string greater than every string that starts with `prefix`: a type pattern
 * `"tool.*"` is the range `type >= "tool." AND type < "tool/"`, which an index serves and in which
 * `_` or `%` are never wildcards.
 */
export function prefixUpperBound(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** True when `type` satisfies the type condition of `filter`. */
export function typeMatches(filter: ResolvedFilter, type: string): boolean {
  if (!filter.hasTypeCondition) return true;
  if (filter.types.includes(type)) return true;
  for (const p of filter.typePrefixes) if (type.startsWith(p)) return true;
  return false;
}

/**
 * True when `event` satisfies every condition of `filter` except `order`, `limit` and `after`.
 * Stores that filter in JavaScript (memory, JSONL) use this; SQL stores translate the same rules.
 */
export function eventMatches(filter: ResolvedFilter, event: AuditEvent): boolean {
  if (!typeMatches(filter, event.type)) return false;
  if (filter.actor !== undefined && event.actor !== filter.actor) return false;
  if (filter.sessionId !== undefined && event.sessionId !== filter.sessionId) return false;
  if (filter.runId !== undefined && event.runId !== filter.runId) return false;
  if (filter.approvalId !== undefined && event.data?.approvalId !== filter.approvalId) return false;
  if (filter.risk !== undefined && !riskAtLeast(event.risk, filter.risk)) return false;
  if (filter.since !== undefined && event.time < filter.since) return false;
  if (filter.until !== undefined && event.time >= filter.until) return false;
  if (filter.data !== undefined) {
    for (const [k, v] of Object.entries(filter.data)) {
      if (event.data?.[k] !== v) return false;
    }
  }
  return true;
}

/** The order of the trail: by `time`, then by `id`. Both compare correctly as plain text. */
export function compareEvents(
  a: Pick<AuditEvent, "time" | "id">,
  b: Pick<AuditEvent, "time" | "id">,
): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

/** True when `event` comes after the cursor event in the given order. */
export function isAfterCursor(
  event: Pick<AuditEvent, "time" | "id">,
  cursor: Pick<AuditEvent, "time" | "id">,
  order: "asc" | "desc",
): boolean {
  const c = compareEvents(event, cursor);
  return order === "asc" ? c > 0 : c < 0;
}

/** The error a store throws when the `after` cursor names no stored event. */
export function cursorNotFound(id: string): AuditValidationError {
  return new AuditValidationError(
    `the cursor event ${id} is not in the store (pruned, or from another store); restart the listing with "since" instead`,
  );
}

/** Checks prune options and resolves `before` to an RFC 3339 string. */
export function resolvePrune(
  options: PruneOptions,
  now: number = Date.now(),
): { before?: string; keep?: number } {
  if (options === null || typeof options !== "object") {
    throw new AuditValidationError("prune needs { before } and/or { keep }");
  }
  const out: { before?: string; keep?: number } = {};
  if (options.before !== undefined) out.before = parseTime(options.before, now);
  if (options.keep !== undefined) {
    if (!Number.isInteger(options.keep) || options.keep < 0) {
      throw new AuditValidationError("prune keep must be a whole number ≥ 0");
    }
    out.keep = options.keep;
  }
  if (out.before === undefined && out.keep === undefined) {
    throw new AuditValidationError(
      "prune needs { before } and/or { keep }; refusing to delete everything",
    );
  }
  return out;
}
