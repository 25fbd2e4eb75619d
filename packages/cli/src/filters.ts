import { type AuditFilter, isRisk } from "@audit/core";
import { type OptionDef, UsageError } from "./args.js";

/** The filter options of every command that reads events. */
export const FILTER_OPTIONS: OptionDef[] = [
  {
    name: "type",
    type: "string",
    multiple: true,
    value: "T",
    description: "event type or prefix pattern (tool.*); repeat for several",
    group: "Filters",
  },
  { name: "session", type: "string", value: "ID", description: "one session", group: "Filters" },
  {
    name: "run",
    type: "string",
    value: "ID",
    description: "one run (a full id, or the short form the tables show)",
    group: "Filters",
  },
  { name: "actor", type: "string", value: "NAME", description: "one actor", group: "Filters" },
  {
    name: "risk",
    type: "string",
    value: "LEVEL",
    description: "low | medium | high | critical (this level and above)",
    group: "Filters",
  },
  {
    name: "since",
    type: "string",
    value: "T",
    description: "1h, 7d, 30m or an ISO time (inclusive)",
    group: "Filters",
  },
  {
    name: "until",
    type: "string",
    value: "T",
    description: "like --since (exclusive)",
    group: "Filters",
  },
  {
    name: "data",
    type: "string",
    multiple: true,
    value: "K=V",
    description:
      "top-level payload field K equals the string V; K:=V compares with the JSON number,\nboolean or string V (--data amount:=500, --data ok:=true); repeat for several",
    group: "Filters",
  },
  { name: "order", type: "string", value: "asc|desc", description: "time order", group: "Filters" },
  {
    name: "after",
    type: "string",
    value: "ID",
    description: "continue after this event id (keyset cursor)",
    group: "Filters",
  },
];

/** `--limit` and `--all`, for the commands that list. */
export function listingOptions(defaultLimit: number | undefined, what = "events"): OptionDef[] {
  return [
    {
      name: "limit",
      type: "string",
      value: "N",
      description: `at most N ${what}${defaultLimit === undefined ? "" : ` (default ${defaultLimit})`}; a note on stderr says when more match`,
      group: "Listing",
    },
    {
      name: "all",
      type: "boolean",
      description: `every matching ${what.replace(/s$/, "")}, no limit`,
      group: "Listing",
    },
  ];
}

/**
 * The limit a listing command applies: `--limit N`, none with `--all`, else the default.
 * @throws {UsageError} for a limit that is not a whole number, or `--limit` with `--all`.
 */
export function limitFrom(
  values: Record<string, unknown>,
  defaultLimit: number | undefined,
): number | undefined {
  if (values.all && values.limit !== undefined)
    throw new UsageError("--limit and --all do not go together");
  if (values.all) return undefined;
  if (values.limit === undefined) return defaultLimit;
  const n = Number(values.limit);
  if (!Number.isInteger(n) || n < 0 || values.limit === "")
    throw new UsageError(`--limit must be a whole number, not "${values.limit}"`);
  return n;
}

/**
 * One `--data` condition: `key=value` compares with the string `value` as written, `key:=json`
 * with the JSON value (`5`, `true`, `"5"`): stores compare top-level payload fields by equality
 * with a string, a number or a boolean.
 * @throws {UsageError} for a missing key or `=`, or JSON that does not parse or is not one of those.
 */
export function parseDataCondition(pair: string): [string, string | number | boolean] {
  const eq = pair.indexOf("=");
  if (eq <= 0) throw new UsageError(`--data takes KEY=VALUE or KEY:=JSON, not "${pair}"`);
  const raw = pair.slice(eq + 1);
  if (pair[eq - 1] === ":") {
    const key = pair.slice(0, eq - 1);
    if (key === "") throw new UsageError(`--data takes KEY:=JSON, not "${pair}"`);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
      throw new UsageError(
        `--data ${key}:= needs a JSON number, boolean or string (5, true, "text"), not ${JSON.stringify(raw)}; use ${key}=… to compare with a string as written`,
      );
    return [key, value];
  }
  return [pair.slice(0, eq), raw];
}

/**
 * The filter the options describe, without its limit (see {@link limitFrom}).
 * @throws {UsageError} for a value the filter cannot take.
 */
export function filterFrom(values: Record<string, unknown>): AuditFilter {
  const f: AuditFilter = {};
  const types = values.type as string[] | undefined;
  if (types && types.length > 0) f.type = types.length === 1 ? types[0]! : types;
  if (values.session) f.sessionId = values.session as string;
  if (values.run) f.runId = values.run as string;
  if (values.actor) f.actor = values.actor as string;
  if (values.risk !== undefined) {
    if (!isRisk(values.risk))
      throw new UsageError(`--risk must be low, medium, high or critical, not "${values.risk}"`);
    f.risk = values.risk;
  }
  if (values.since) f.since = values.since as string;
  if (values.until) f.until = values.until as string;
  if (values.after) f.after = values.after as string;
  if (values.order !== undefined) {
    if (values.order !== "asc" && values.order !== "desc")
      throw new UsageError(`--order must be asc or desc, not "${values.order}"`);
    f.order = values.order;
  }
  for (const pair of (values.data as string[] | undefined) ?? []) {
    const [key, value] = parseDataCondition(pair);
    f.data = { ...f.data, [key]: value };
  }
  return f;
}
