import type { StatsGroup, TrailStats } from "@audit/core";
import { trailStats } from "@audit/core/store-kit";
import type { Command } from "../command.js";
import { FILTER_OPTIONS, filterFrom } from "../filters.js";
import { escapeCell } from "../format.js";
import { resolveFilterRun } from "../ids.js";
import { formatOf, formatOption, printRows, ROW_FORMATS, type Row } from "../output.js";
import { STORE_OPTION, storeFrom } from "../store.js";

const sorted = (groups: Record<string, StatsGroup>) =>
  Object.entries(groups).sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));

/** `audit stats`: counts by type, actor and risk, and the time range. */
export const stats: Command = {
  def: {
    name: "stats",
    summary: "counts by type, actor and risk, and the time range",
    usage: ["stats [filters] [-o table|json|jsonl|csv]"],
    description:
      "-o json gives one object (total, first, last, byType, byActor, byRisk); jsonl and csv give one\nrow per group and key: group (all, type, actor, risk), key, count, first, last.",
    options: [...FILTER_OPTIONS, formatOption(ROW_FORMATS, "table"), STORE_OPTION],
    examples: [
      "audit stats --since 24h",
      "audit stats -o json",
      "audit stats --since 7d -o csv > counts.csv",
    ],
  },
  async run({ values }, io) {
    const filter = filterFrom(values);
    const format = formatOf(values, io, ROW_FORMATS, "table");
    const store = await storeFrom(values.store, io);
    let stats: TrailStats;
    try {
      await resolveFilterRun(store, filter);
      // SQL stores count with GROUP BY in the database; others are read once, as a stream.
      stats = await trailStats(store, filter);
    } finally {
      await store.close();
    }
    const { total, first, last } = stats;
    const groups = { type: stats.byType, actor: stats.byActor, risk: stats.byRisk };
    if (format === "json") {
      const counts = (m: Record<string, StatsGroup>) =>
        Object.fromEntries(Object.entries(m).map(([k, c]) => [k, c.count]));
      const result = {
        total,
        first,
        last,
        byType: counts(groups.type),
        byActor: counts(groups.actor),
        byRisk: counts(groups.risk),
      };
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    if (format === "jsonl" || format === "csv") {
      const rows: Row[] = [{ group: "all", key: "events", count: total, first, last }];
      for (const [group, m] of Object.entries(groups))
        for (const [key, c] of sorted(m)) rows.push({ group, key, ...c });
      printRows(rows, ["group", "key", "count", "first", "last"], format, io);
      return 0;
    }
    io.stdout.write(`events  ${total}\nfrom    ${first ?? "-"}\nto      ${last ?? "-"}\n`);
    for (const [title, m] of [
      ["by type", groups.type],
      ["by actor", groups.actor],
      ["by risk", groups.risk],
    ] as const) {
      io.stdout.write(`\n${title}\n`);
      const entries = sorted(m);
      const w = Math.max(...entries.map(([k]) => escapeCell(k).length), 4);
      for (const [k, c] of entries) io.stdout.write(`  ${escapeCell(k).padEnd(w)}  ${c.count}\n`);
    }
    return 0;
  },
};
