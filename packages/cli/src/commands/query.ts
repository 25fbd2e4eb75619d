import type { Command } from "../command.js";
import { FILTER_OPTIONS, filterFrom, limitFrom, listingOptions } from "../filters.js";
import { resolveFilterRun } from "../ids.js";
import { EventWriter, formatOf, formatOption, noteCapped, ROW_FORMATS } from "../output.js";
import { STORE_OPTION, storeFrom } from "../store.js";

const DEFAULT_LIMIT = 100;

/** `audit query`: the events matching filters, in any format. */
export const query: Command = {
  def: {
    name: "query",
    summary: "list events matching filters",
    usage: ["query [filters] [--limit N | --all] [-o table|json|jsonl|csv]"],
    description:
      "jsonl and csv stream in constant memory; a note on stderr says when the limit cut the list.",
    options: [
      ...FILTER_OPTIONS,
      ...listingOptions(DEFAULT_LIMIT),
      formatOption(ROW_FORMATS, "table on a terminal, jsonl otherwise"),
      STORE_OPTION,
    ],
    examples: [
      "audit query --type 'tool.*' --since 1h",
      "audit query --session conv-42 -o json",
      "audit query --risk high --since 7d --limit 50 --order desc",
      "audit query --data tool=refund --data amount:=900 -o csv > refunds.csv",
      "audit query --all -o jsonl | head -1",
    ],
  },
  async run({ values }, io) {
    const filter = filterFrom(values);
    const limit = limitFrom(values, DEFAULT_LIMIT);
    const format = formatOf(values, io, ROW_FORMATS, "auto");
    const store = await storeFrom(values.store, io);
    try {
      await resolveFilterRun(store, filter);
      // One more than asked tells whether the limit cut the list, without counting the rest.
      if (limit !== undefined) filter.limit = limit + 1;
      const out = new EventWriter(format, io);
      let shown = 0;
      let capped = false;
      for await (const e of store.stream(filter)) {
        if (limit !== undefined && shown === limit) {
          capped = true;
          break;
        }
        out.write(e);
        shown++;
      }
      out.end();
      if (capped) noteCapped(io, "query", shown);
    } finally {
      await store.close();
    }
    return 0;
  },
};
