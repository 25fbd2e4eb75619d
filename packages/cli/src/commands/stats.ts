import type { Command } from "../command.js";
import { FILTER_OPTIONS, filterFrom } from "../filters.js";
import { escapeCell } from "../format.js";
import { resolveFilterRun } from "../ids.js";
import { formatOf, formatOption, printRows, ROW_FORMATS, type Row } from "../output.js";
import { STORE_OPTION, storeFrom } from "../store.js";

interface Count {
  count: number;
  first: string;
  last: string;
}

function add(counts: Map<string, Count>, key: string, time: string): void {
  const c = counts.get(key);
  if (!c) counts.set(key, { count: 1, first: time, last: time });
  else {
    c.count++;
    if (time < c.first) c.first = time;
    if (time > c.last) c.last = time;
  }
}

const sorted = (counts: Map<string, Count>) =>
  [...counts].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));

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
    const groups = {
      type: new Map<string, Count>(),
      actor: new Map<string, Count>(),
      risk: new Map<string, Count>(),
    };
    const all = new Map<string, Count>();
    try {
      await resolveFilterRun(store, filter);
      for await (const e of store.stream(filter)) {
        add(all, "events", e.time);
        add(groups.type, e.type, e.time);
        add(groups.actor, e.actor ?? "(none)", e.time);
        add(groups.risk, e.risk ?? "(none)", e.time);
      }
    } finally {
      await store.close();
    }
    const total = all.get("events")?.count ?? 0;
    const first = all.get("events")?.first;
    const last = all.get("events")?.last;
    if (format === "json") {
      const counts = (m: Map<string, Count>) =>
        Object.fromEntries([...m].map(([k, c]) => [k, c.count]));
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
