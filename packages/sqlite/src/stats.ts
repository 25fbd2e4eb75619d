import { type AuditStore, RISK_LEVELS } from "@audit/core";
import { type GroupCount, type ResolvedFilter, statsFromGroups } from "@audit/core/store-kit";
import type { Database } from "better-sqlite3";
import { whereOf } from "./dialect.js";
import { timeText } from "./row-layout.js";

// Core's contract returns it; core does not export it by name yet.
type TrailStats = Awaited<ReturnType<NonNullable<AuditStore["stats"]>>>;

/**
 * Counts of the events matching `filter` by type, actor and risk, without reading them: `GROUP BY
 * type` over its covering index; actors and risks grouped from their partial indexes, the events
 * without one being the rest of the total, their first and last time found by two probes of the
 * time index. One read transaction, so the three agree while other processes write.
 */
export function groupStats(db: Database, filter: ResolvedFilter): TrailStats {
  const { where, params } = whereOf(filter, undefined);
  const and = where ? `${where} AND` : "WHERE";
  const groups = (column: string, key: (value: unknown) => string, condition = where) =>
    (
      db
        .prepare(
          `SELECT ${column} AS key, count(*) AS count, min(time) AS first, max(time) AS last FROM audit_events ${condition} GROUP BY ${column}`,
        )
        .all(...params) as { key: unknown; count: number; first: unknown; last: unknown }[]
    ).map((g) => ({
      key: key(g.key),
      count: g.count,
      first: timeText(g.first),
      last: timeText(g.last),
    }));
  const edge = (column: string, dir: "ASC" | "DESC") =>
    timeText(
      (
        db
          .prepare(
            `SELECT time FROM audit_events ${and} ${column} IS NULL ORDER BY time ${dir} LIMIT 1`,
          )
          .get(...params) as { time: unknown }
      ).time,
    );
  const withNone = (column: string, key: (value: unknown) => string, total: number) => {
    const found: GroupCount[] = groups(column, key, `${and} ${column} IS NOT NULL`);
    const none = total - found.reduce((n, g) => n + g.count, 0);
    if (none === 0) return found;
    return [
      ...found,
      { key: null, count: none, first: edge(column, "ASC"), last: edge(column, "DESC") },
    ];
  };
  return db.transaction(() => {
    const type = groups("type", String);
    const total = type.reduce((n, g) => n + g.count, 0);
    return statsFromGroups({
      type,
      actor: withNone("actor", String, total),
      risk: withNone("risk_level", (v) => RISK_LEVELS[v as number] ?? String(v), total),
    });
  })();
}
