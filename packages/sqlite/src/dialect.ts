import { RISK_LEVELS } from "@audit/core";
import {
  type CursorKey,
  compileFilter,
  type ResolvedFilter,
  type SqlCondition,
  type SqlDialect,
} from "@audit/core/store-kit";
import { timeValue } from "./row-layout.js";

/**
 * SQLite's part of a filter: `?` placeholders, times compared as stored (milliseconds), and
 * payload equality on the `data` column with `json_type`, which tells `true` from `1` and `"1"`.
 */
export const sqliteDialect: SqlDialect = {
  placeholder: () => "?",
  time: (iso, bind) => bind(timeValue(iso)),
  // "This risk and above" as the list of levels it means: SQLite's planner, which knows nothing
  // of how rare high risks are, takes the risk index for a list, but for a range with a bound
  // limit prefers to walk the whole time index.
  riskAtLeast: (column, level, bind) =>
    `${column} IN (${RISK_LEVELS.slice(level)
      .map((_, i) => bind(level + i))
      .join(", ")})`,
  dataEquals(data, bind) {
    return Object.entries(data).map(([key, value]) => {
      const path = `$.${JSON.stringify(key)}`;
      if (typeof value === "boolean") {
        return `json_type(data, ${bind(path)}) = ${bind(String(value))}`;
      }
      const types = typeof value === "number" ? "('integer', 'real')" : "('text')";
      return `json_type(data, ${bind(path)}) IN ${types} AND json_extract(data, ${bind(path)}) = ${bind(value)}`;
    });
  },
};

/** The WHERE clause of a filter, in SQLite's terms. */
export function whereOf(filter: ResolvedFilter, cursor: CursorKey | undefined): SqlCondition {
  return compileFilter(filter, cursor, sqliteDialect);
}
