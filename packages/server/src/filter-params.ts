import { type AuditFilter, isRisk } from "@audit/core";
import { resolveFilter } from "@audit/core/store-kit";
import { HttpError } from "./http.js";

/** The query parameters every listing understands, and the filter key each one sets. */
const PARAMS = [
  "type",
  "actor",
  "session",
  "run",
  "approval",
  "risk",
  "since",
  "until",
  "data",
  "order",
  "limit",
  "after",
] as const;

/** Limits of one listing. */
export interface ListLimits {
  /** Page size when `limit` is not given. */
  defaultLimit: number;
  /** The largest `limit` accepted. */
  maxLimit: number;
  /** Parameters the caller reads itself (not part of the filter). */
  extra?: readonly string[];
  /** Parameters that make no sense here (a live tail has no `limit`). */
  without?: readonly string[];
}

function dataValue(raw: string): string | number | boolean {
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw !== "" && !Number.isNaN(Number(raw))) return Number(raw);
  return raw;
}

/**
 * Turns query parameters (the CLI's filter names) into an {@link AuditFilter}, checked by core's
 * `resolveFilter`, so a bad value is a 400 that says what is wrong rather than a surprise from the
 * store. Empty values are ignored because an HTML form submits its empty fields.
 */
export function filterFromParams(params: URLSearchParams, limits: ListLimits): AuditFilter {
  const allowed = new Set<string>(PARAMS.filter((p) => !limits.without?.includes(p)));
  for (const key of params.keys()) {
    if (!allowed.has(key) && !limits.extra?.includes(key))
      throw new HttpError(
        400,
        `unknown query parameter "${key}"; known: ${[...allowed, ...(limits.extra ?? [])].join(", ")}`,
      );
  }
  const one = (name: string): string | undefined => {
    const all = params.getAll(name).filter((v) => v !== "");
    if (all.length > 1) throw new HttpError(400, `"${name}" may be given once`);
    return all[0];
  };
  const filter: AuditFilter = {};
  const types = params
    .getAll("type")
    .flatMap((t) => t.split(","))
    .map((t) => t.trim())
    .filter(Boolean);
  if (types.length > 0) filter.type = types.length === 1 ? types[0]! : types;
  const actor = one("actor");
  if (actor !== undefined) filter.actor = actor;
  const session = one("session");
  if (session !== undefined) filter.sessionId = session;
  const run = one("run");
  if (run !== undefined) filter.runId = run;
  const approval = one("approval");
  if (approval !== undefined) filter.approvalId = approval;
  const risk = one("risk");
  if (risk !== undefined) {
    if (!isRisk(risk))
      throw new HttpError(400, `risk must be low, medium, high or critical, not "${risk}"`);
    filter.risk = risk;
  }
  const since = one("since");
  if (since !== undefined) filter.since = since;
  const until = one("until");
  if (until !== undefined) filter.until = until;
  const after = one("after");
  if (after !== undefined) filter.after = after;
  const order = one("order");
  if (order !== undefined) {
    if (order !== "asc" && order !== "desc")
      throw new HttpError(400, `order must be asc or desc, not "${order}"`);
    filter.order = order;
  }
  if (allowed.has("limit")) {
    const limit = one("limit");
    const n = limit === undefined ? limits.defaultLimit : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > limits.maxLimit)
      throw new HttpError(
        400,
        `limit must be a whole number from 1 to ${limits.maxLimit}, not "${limit}"`,
      );
    filter.limit = n;
  }
  for (const pair of params.getAll("data").filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new HttpError(400, `data takes KEY=VALUE, not "${pair}"`);
    filter.data = { ...filter.data, [pair.slice(0, eq)]: dataValue(pair.slice(eq + 1)) };
  }
  // Core's own check: relative times, type patterns, everything the stores rely on.
  resolveFilter(filter);
  return filter;
}
