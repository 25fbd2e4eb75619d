import { RISK_LEVELS } from "../event.js";
import { prefixUpperBound, type ResolvedFilter } from "../filter.js";
import type { CursorKey } from "./keyset.js";

/** The indexed fields a filter reads, named as in {@link AuditFilter}. */
export type FilterField =
  | "id"
  | "time"
  | "type"
  | "actor"
  | "sessionId"
  | "runId"
  | "approvalId"
  | "riskLevel";

/** The usual snake-case column of each field (what both SQL adapters name them). */
export const DEFAULT_COLUMNS: Readonly<Record<FilterField, string>> = {
  id: "id",
  time: "time",
  type: "type",
  actor: "actor",
  sessionId: "session_id",
  runId: "run_id",
  approvalId: "approval_id",
  riskLevel: "risk_level",
};

/**
 * What differs between SQL databases when a filter becomes a WHERE clause. Everything else (which
 * conditions exist, how type prefixes become index ranges, the keyset cursor) is shared, so a
 * filter means the same thing in every SQL store.
 */
export interface SqlDialect {
  /** The placeholder of the n-th parameter, counting from 1: `?` or `$n`. */
  placeholder(n: number): string;
  /** Column names, when they differ from {@link DEFAULT_COLUMNS}. */
  columns?: Partial<Record<FilterField, string>>;
  /**
   * How a time is compared: the value to bind and the SQL around its placeholder (PostgreSQL casts
   * to `timestamptz`; a store keeping times as integers binds milliseconds).
   * @default the RFC 3339 text as is
   */
  time?(iso: string, bind: (value: unknown) => string): string;
  /**
   * How exact types are matched.
   * @default `type IN (?, ?, …)`
   */
  typeIn?(column: string, types: readonly string[], bind: (value: unknown) => string): string;
  /**
   * The condition for top-level payload equality `data.key === value`: it must tell `true` from
   * `1` and `"1"` by JSON type, as `eventMatches` does.
   */
  dataEquals(
    data: Readonly<Record<string, string | number | boolean>>,
    bind: (value: unknown) => string,
  ): string[];
}

/** A WHERE clause (empty, or starting with `WHERE`) and its parameters in order. */
export interface SqlCondition {
  where: string;
  params: unknown[];
}

/**
 * Translates a resolved filter (and a keyset cursor) into SQL, in the same terms as core's
 * `eventMatches`. Type prefixes become ranges (`type >= 'tool.' AND type < 'tool/'`), so they use
 * an index and `_` or `%` in a type is never a wildcard; the cursor is a row-value comparison on
 * `(time, id)`, which lets the database seek its index instead of scanning from the start.
 * `firstParam` numbers the placeholders after parameters the caller already has.
 */
export function compileFilter(
  filter: ResolvedFilter,
  cursor: CursorKey | undefined,
  dialect: SqlDialect,
  firstParam = 1,
): SqlCondition {
  const params: unknown[] = [];
  const bind = (value: unknown): string => {
    params.push(value);
    return dialect.placeholder(firstParam + params.length - 1);
  };
  const col = (f: FilterField) => dialect.columns?.[f] ?? DEFAULT_COLUMNS[f];
  const time = (iso: string) => (dialect.time ? dialect.time(iso, bind) : bind(iso));
  const parts: string[] = [];
  if (filter.hasTypeCondition) {
    const type = col("type");
    const alternatives: string[] = [];
    if (filter.types.length > 0) {
      alternatives.push(
        dialect.typeIn
          ? dialect.typeIn(type, filter.types, bind)
          : `${type} IN (${filter.types.map((t) => bind(t)).join(", ")})`,
      );
    }
    for (const prefix of filter.typePrefixes) {
      alternatives.push(
        `(${type} >= ${bind(prefix)} AND ${type} < ${bind(prefixUpperBound(prefix))})`,
      );
    }
    parts.push(`(${alternatives.join(" OR ")})`);
  }
  for (const f of ["actor", "sessionId", "runId", "approvalId"] as const) {
    const v = filter[f];
    if (v !== undefined) parts.push(`${col(f)} = ${bind(v)}`);
  }
  if (filter.risk !== undefined) {
    parts.push(`${col("riskLevel")} >= ${bind(RISK_LEVELS.indexOf(filter.risk))}`);
  }
  if (filter.since !== undefined) parts.push(`${col("time")} >= ${time(filter.since)}`);
  if (filter.until !== undefined) parts.push(`${col("time")} < ${time(filter.until)}`);
  if (filter.data !== undefined) parts.push(...dialect.dataEquals(filter.data, bind));
  if (cursor) {
    const op = filter.order === "asc" ? ">" : "<";
    parts.push(`(${col("time")}, ${col("id")}) ${op} (${time(cursor.time)}, ${bind(cursor.id)})`);
  }
  return { where: parts.length > 0 ? `WHERE ${parts.join(" AND ")}` : "", params };
}

/** `ORDER BY time, id` in the filter's direction, with the dialect's column names. */
export function orderBy(filter: ResolvedFilter, dialect: Pick<SqlDialect, "columns"> = {}): string {
  const dir = filter.order === "asc" ? "ASC" : "DESC";
  const time = dialect.columns?.time ?? DEFAULT_COLUMNS.time;
  const id = dialect.columns?.id ?? DEFAULT_COLUMNS.id;
  return `ORDER BY ${time} ${dir}, ${id} ${dir}`;
}
