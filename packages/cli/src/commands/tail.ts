import type { AuditEvent } from "@audit/core";
import { eventMatches, resolveFilter } from "@audit/core/store-kit";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { FILTER_OPTIONS, filterFrom, limitFrom, listingOptions } from "../filters.js";
import { csvHeader, csvRow, escapeCell, type Format, summarize } from "../format.js";
import { resolveFilterRun } from "../ids.js";
import type { CliIo } from "../io.js";
import { formatOf, formatOption, noteCapped, ROW_FORMATS } from "../output.js";
import { STORE_OPTION, storeFrom } from "../store.js";

const DEFAULT_LINES = 20;

function writer(format: Format, io: CliIo): (events: AuditEvent[]) => void {
  if (format === "csv") io.stdout.write(csvHeader());
  return (events) => {
    for (const e of events) {
      if (format === "table")
        io.stdout.write(
          `${escapeCell(`${e.time}  ${e.type}  ${e.actor ?? ""}`)}  ${summarize(e)}\n`,
        );
      else if (format === "csv") io.stdout.write(csvRow(e));
      // json as well as jsonl: one object per line, so followed output can be read as it comes.
      else io.stdout.write(`${JSON.stringify(e)}\n`);
    }
  };
}

/** `audit tail`: the newest events, and with `-f` every new one as it arrives. */
export const tail: Command = {
  def: {
    name: "tail",
    summary: "the newest events; -f to follow new ones",
    usage: ["tail [-f] [-n N | --all] [filters]"],
    description:
      "One line per event on a terminal (time, type, actor, detail); -o json and -o jsonl\nprint one JSON object per line, so followed output can be read as it comes.",
    options: [
      {
        name: "follow",
        short: "f",
        type: "boolean",
        description:
          "keep printing new events (live where the store supports it, polling otherwise)",
      },
      {
        name: "lines",
        short: "n",
        type: "string",
        value: "N",
        description: `how many recent events to show first (default ${DEFAULT_LINES})`,
      },
      {
        name: "interval",
        type: "string",
        value: "MS",
        description: "polling interval with -f (default 1000)",
      },
      ...FILTER_OPTIONS,
      ...listingOptions(DEFAULT_LINES),
      formatOption(ROW_FORMATS, "table on a terminal, jsonl otherwise"),
      STORE_OPTION,
    ],
    examples: ["audit tail -n 50", "audit tail -f --type 'approval.*'", "audit tail --all -o csv"],
  },
  async run({ values }, io) {
    const filter = filterFrom(values);
    if (values.lines !== undefined && (values.limit !== undefined || values.all))
      throw new UsageError("-n is --limit for tail: give one of -n, --limit or --all");
    const lines = limitFrom({ ...values, limit: values.lines ?? values.limit }, DEFAULT_LINES);
    const format = formatOf(values, io, ROW_FORMATS, "auto");
    const interval = Number(values.interval ?? 1000);
    if (!Number.isInteger(interval) || interval < 1)
      throw new UsageError(
        `--interval must be a whole number of milliseconds, not "${values.interval}"`,
      );
    // A store that follows by polling (SQLite, JSONL) polls at the --interval asked for.
    const store = await storeFrom(
      values.store,
      io,
      values.follow && values.interval !== undefined ? { pollIntervalMs: interval } : undefined,
    );
    const out = writer(format, io);
    try {
      await resolveFilterRun(store, filter);
      let recent: AuditEvent[];
      let capped = false;
      if (lines === undefined) recent = await store.query({ ...filter, order: "asc" });
      else {
        recent = await store.query({ ...filter, order: "desc", limit: lines + 1 });
        capped = recent.length > lines;
        recent = recent.slice(0, lines).reverse();
      }
      out(recent);
      if (capped && !values.follow) noteCapped(io, "tail", recent.length, "newest events");
      if (!values.follow) return 0;
      const interrupted =
        io.interrupted ?? new Promise<void>((r) => process.once("SIGINT", () => r()));
      // Stores keep their polling timers from holding a process open; following must hold it.
      const keepAlive = setInterval(() => undefined, 1 << 30);
      void interrupted.then(() => clearInterval(keepAlive));
      let last =
        recent[recent.length - 1]?.id ?? (await store.query({ order: "desc", limit: 1 }))[0]?.id;
      if (store.capabilities.subscribe && store.subscribe) {
        const stop = store.subscribe({ ...filter, order: "asc" }, (e) => out([e]));
        await interrupted;
        stop();
      } else {
        let stopped = false;
        void interrupted.then(() => {
          stopped = true;
        });
        const wanted = resolveFilter({ ...filter, order: "asc" });
        while (!stopped) {
          await Promise.race([new Promise((r) => setTimeout(r, interval)), interrupted]);
          if (stopped) break;
          // Poll by keyset: everything after the last event seen, then the filter.
          const fresh = await store.query({ order: "asc", ...(last && { after: last }) });
          if (fresh.length > 0) last = fresh[fresh.length - 1]!.id;
          out(fresh.filter((e) => eventMatches(wanted, e)));
        }
      }
    } finally {
      await store.close();
    }
    return 0;
  },
};
