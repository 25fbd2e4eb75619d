import { type AuditEvent, type AuditStore, openStore } from "@audit/core";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { FILTER_OPTIONS, filterFrom } from "../filters.js";
import { resolveFilterRun } from "../ids.js";
import { NO_PROGRESS, progressLine } from "../progress.js";

/** `audit copy`: a trail from one backend to another. */
export const copy: Command = {
  def: {
    name: "copy",
    summary: "copy a trail between any two backends (streaming, resumable)",
    usage: ["copy --from URL --to URL [--resume] [--batch N] [filters]"],
    description:
      "Streams in order and writes in batches; copying again never duplicates (appends are idempotent by\nid), and --resume starts after the newest event already in the target. A progress bar shows on\nstderr when it is a terminal; otherwise one line at the end says how many events were copied.",
    options: [
      {
        name: "from",
        type: "string",
        value: "URL",
        description: "the store to read",
        group: "Stores",
      },
      {
        name: "to",
        type: "string",
        value: "URL",
        description: "the store to write",
        group: "Stores",
      },
      {
        name: "resume",
        type: "boolean",
        description: "start after the newest event already in the target",
      },
      {
        name: "batch",
        type: "string",
        value: "N",
        description: "events per write (default 1000)",
      },
      { name: "quiet", short: "q", type: "boolean", description: "no progress and no summary" },
      ...FILTER_OPTIONS,
    ],
    examples: [
      "audit copy --from sqlite:./audit.db --to jsonl:./archive",
      "audit copy --from jsonl:./audit-logs --to postgres://audit@db/app --resume",
    ],
  },
  async run({ values }, io) {
    if (!values.from || !values.to) throw new UsageError("needs --from URL and --to URL");
    const batchSize = Number(values.batch ?? 1000);
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new UsageError("--batch must be a whole number ≥ 1");
    const filter = filterFrom(values);
    filter.order = "asc";
    const from = await openStore(values.from as string);
    let to: AuditStore;
    try {
      to = await openStore(values.to as string);
    } catch (err) {
      await from.close();
      throw err;
    }
    let progress = NO_PROGRESS;
    try {
      await resolveFilterRun(from, filter);
      if (values.resume) {
        // Appends are idempotent, so resuming only saves work: start after the target's newest
        // event if the source has it too.
        const [newest] = await to.query({ order: "desc", limit: 1 });
        if (newest && (await from.get(newest.id))) filter.after = newest.id;
      }
      const total = await from.count(filter);
      let done = 0;
      let batch: AuditEvent[] = [];
      progress = values.quiet ? NO_PROGRESS : progressLine(io, "copying");
      const bar = () => {
        const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
        return `[${"#".repeat(Math.floor(pct / 5)).padEnd(20, ".")}] ${pct}% ${done}/${total}`;
      };
      for await (const e of from.stream(filter)) {
        batch.push(e);
        if (batch.length >= batchSize) {
          await to.append(batch);
          done += batch.length;
          batch = [];
          progress.update(bar());
        }
      }
      if (batch.length > 0) {
        await to.append(batch);
        done += batch.length;
      }
      if (!values.quiet) {
        if (io.stderr.isTTY) progress.end(`copying ${bar()}`);
        else io.stderr.write(`copied ${done} of ${total} events\n`);
      }
    } finally {
      // An error line starts on a line of its own, not after the bar.
      progress.end();
      await Promise.all([from.close(), to.close()]);
    }
    return 0;
  },
};
