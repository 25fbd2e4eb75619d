import { prefixUpperBound, type ResolvedFilter, RISK_LEVELS } from "@audit/core";

/** A WHERE clause and its parameters. */
export interface SqlCondition {
  where: string;
  params: unknown[];
}

/**
 * Translates a resolved filter into SQL over the `audit_events` columns, in the same terms as
 * `eventMatches` in core. Type prefixes become ranges (`type >= 'tool.' AND type < 'tool/'`) so
 * they use the index and `_` or `%` in a type is never a wildcard.
 */
export function filterToSql(
  filter: ResolvedFilter,
  cursor: { time: string; id: string } | undefined,
): SqlCondition {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (filter.hasTypeCondition) {
    const alternatives: string[] = [];
    if (filter.types.length > 0) {
      alternatives.push(`type IN (${filter.types.map(() => "?").join(",")})`);
      params.push(...filter.types);
    }
    for (const p of filter.typePrefixes) {
      alternatives.push("(type >= ? AND type < ?)");
      params.push(p, prefixUpperBound(p));
    }
    parts.push(`(${alternatives.join(" OR ")})`);
  }
  const equal: [keyof ResolvedFilter, string][] = [
    ["actor", "actor"],
    ["sessionId", "session_id"],
    ["runId", "run_id"],
    ["approvalId", "approval_id"],
  ];
  for (const [key, column] of equal) {
    const v = filter[key];
    if (v !== undefined) {
      parts.push(`${column} = ?`);
      params.push(v);
    }
  }
  if (filter.risk !== undefined) {
    parts.push("risk_level >= ?");
    params.push(RISK_LEVELS.indexOf(filter.risk));
  }
  if (filter.since !== undefined) {
    parts.push("time >= ?");
    params.push(filter.since);
  }
  if (filter.until !== undefined) {
    parts.push("time < ?");
    params.push(filter.until);
  }
  if (filter.data !== undefined) {
    for (const [k, v] of Object.entries(filter.data)) {
      // json_type tells a boolean from the number 1 or 0, which json_extract alone would confuse.
      const path = `$.data.${JSON.stringify(k)}`;
      if (typeof v === "boolean") {
        parts.push("json_type(body, ?) = ?");
        params.push(path, v ? "true" : "false");
      } else if (typeof v === "number") {
        parts.push("json_type(body, ?) IN ('integer', 'real') AND json_extract(body, ?) = ?");
        params.push(path, path, v);
      } else {
        parts.push("json_type(body, ?) = 'text' AND json_extract(body, ?) = ?");
        params.push(path, path, v);
      }
    }
  }
  if (cursor) {
    const op = filter.order === "asc" ? ">" : "<";
    // A row-value comparison lets SQLite seek the (time, id) index; the equivalent OR form makes
    // it scan from the start on every page.
    parts.push(`(time, id) ${op} (?, ?)`);
    params.push(cursor.time, cursor.id);
  }
  return { where: parts.length > 0 ? `WHERE ${parts.join(" AND ")}` : "", params };
}
