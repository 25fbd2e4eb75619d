import type { AuditEvent } from "../event.js";
import type { AuditFilter, AuditStore, StatsGroup, TrailStats } from "../store.js";

/** What one group of a stats query counted: the key, how many, and their time range. */
export interface GroupCount {
  key: string | null;
  count: number;
  first: string;
  last: string;
}

/** The key shown for events that have no value in a group (no actor, no risk). */
export const NO_VALUE = "(none)";

/** Adds one event to running stats (the fallback for stores without `stats`). */
export class StatsCollector {
  readonly #stats: TrailStats = { total: 0, byType: {}, byActor: {}, byRisk: {} };

  add(e: AuditEvent): void {
    const s = this.#stats;
    s.total++;
    if (s.first === undefined || e.time < s.first) s.first = e.time;
    if (s.last === undefined || e.time > s.last) s.last = e.time;
    bump(s.byType, e.type, e.time);
    bump(s.byActor, e.actor ?? NO_VALUE, e.time);
    bump(s.byRisk, e.risk ?? NO_VALUE, e.time);
  }

  /** The stats so far. */
  result(): TrailStats {
    return this.#stats;
  }
}

function bump(groups: Record<string, StatsGroup>, key: string, time: string): void {
  const g = groups[key];
  if (!g) groups[key] = { count: 1, first: time, last: time };
  else {
    g.count++;
    if (time < g.first) g.first = time;
    if (time > g.last) g.last = time;
  }
}

/**
 * Builds {@link TrailStats} from the rows of per-group counting queries (`SELECT type, count(*),
 * min(time), max(time) … GROUP BY type`): how SQL stores answer `stats` without reading events.
 */
export function statsFromGroups(groups: {
  type: readonly GroupCount[];
  actor: readonly GroupCount[];
  risk: readonly GroupCount[];
}): TrailStats {
  const stats: TrailStats = { total: 0, byType: {}, byActor: {}, byRisk: {} };
  for (const g of groups.type) {
    stats.total += g.count;
    if (stats.first === undefined || g.first < stats.first) stats.first = g.first;
    if (stats.last === undefined || g.last > stats.last) stats.last = g.last;
  }
  const fill = (into: Record<string, StatsGroup>, rows: readonly GroupCount[]) => {
    for (const g of rows)
      into[g.key ?? NO_VALUE] = { count: g.count, first: g.first, last: g.last };
  };
  fill(stats.byType, groups.type);
  fill(stats.byActor, groups.actor);
  fill(stats.byRisk, groups.risk);
  return stats;
}

/**
 * Counts of the matching events by type, actor and risk: the store's own `stats` when it has one
 * (a SQL `GROUP BY`), otherwise one pass over `stream` in constant memory per distinct key.
 * A filter with `limit` or `after` is counted by streaming, since a group count cannot stop early.
 */
export async function trailStats(store: AuditStore, filter: AuditFilter = {}): Promise<TrailStats> {
  if (store.stats && filter.limit === undefined && filter.after === undefined) {
    return store.stats(filter);
  }
  const collector = new StatsCollector();
  for await (const e of store.stream(filter)) collector.add(e);
  return collector.result();
}
