import { prefixUpperBound, type ResolvedFilter, RISK_LEVELS } from "@audit/core";

/** A WHERE clause and its parameters (`$1`, `$2`, …). */
export interface SqlCondition {
  where: string;
  params: unknown[];
}

/**
 * Translates a resolved filter into SQL over the events columns, in the same terms as
 * `eventMatches` in core. `data` equality becomes `event->'data' @> '{…}'`, which the GIN index
 * serves and which tells `true` from `1` and `"1"` by JSON type.
 */
export function filterToSql(
  filter: ResolvedFilter,
  cursor: { time: string; id: string } | undefined,
): SqlCondition {
  const parts: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (filter.hasTypeCondition) {
    const alternatives: string[] = [];
    if (filter.types.length > 0) alternatives.push(`type = ANY(${p(filter.types)}::text[])`);
    for (const prefix of filter.typePrefixes) {
      alternatives.push(`(type >= ${p(prefix)} AND type < ${p(prefixUpperBound(prefix))})`);
    }
    parts.push(`(${alternatives.join(" OR ")})`);
  }
  if (filter.actor !== undefined) parts.push(`actor = ${p(filter.actor)}`);
  if (filter.sessionId !== undefined) parts.push(`session_id = ${p(filter.sessionId)}`);
  if (filter.runId !== undefined) parts.push(`run_id = ${p(filter.runId)}`);
  if (filter.approvalId !== undefined) parts.push(`approval_id = ${p(filter.approvalId)}`);
  if (filter.risk !== undefined) parts.push(`risk_level >= ${p(RISK_LEVELS.indexOf(filter.risk))}`);
  if (filter.since !== undefined) parts.push(`time >= ${p(filter.since)}::timestamptz`);
  if (filter.until !== undefined) parts.push(`time < ${p(filter.until)}::timestamptz`);
  if (filter.data !== undefined)
    parts.push(`(event -> 'data') @> ${p(JSON.stringify(filter.data))}::jsonb`);
  if (cursor) {
    const op = filter.order === "asc" ? ">" : "<";
    parts.push(`(time, id) ${op} (${p(cursor.time)}::timestamptz, ${p(cursor.id)})`);
  }
  return { where: parts.length > 0 ? `WHERE ${parts.join(" AND ")}` : "", params };
}
