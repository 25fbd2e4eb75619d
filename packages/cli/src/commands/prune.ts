import { Auditor, type AuditStore } from "@audit/core";
import { resolvePrune } from "@audit/core/store-kit";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import type { CliIo } from "../io.js";
import { assertKeysFitTrail, KEY_OPTIONS, writerIntegrity } from "../keys.js";
import { progressLine } from "../progress.js";
import { STORE_OPTION, storeFrom } from "../store.js";

/**
 * What a prune would delete, by the rule every store follows: the events older than `before`,
 * or all but the `keep` newest, whichever is more; the oldest first.
 */
async function wouldDelete(
  store: AuditStore,
  options: { before?: string; keep?: number },
): Promise<{ count: number; oldest?: string; newest?: string }> {
  const { before, keep } = resolvePrune(options);
  let count = before === undefined ? 0 : await store.count({ until: before });
  if (keep !== undefined) count = Math.max(count, (await store.count()) - keep);
  if (count === 0) return { count };
  let oldest: string | undefined;
  let newest: string | undefined;
  for await (const e of store.stream({ order: "asc", limit: count })) {
    oldest ??= e.time;
    newest = e.time;
  }
  return { count, ...(oldest && { oldest }), ...(newest && { newest }) };
}

async function dryRun(store: AuditStore, options: { before?: string; keep?: number }, io: CliIo) {
  const w = await wouldDelete(store, options);
  io.stdout.write(
    w.count === 0
      ? "dry run: would delete no events; nothing deleted\n"
      : `dry run: would delete ${w.count} events, from ${w.oldest} to ${w.newest}; nothing deleted\n`,
  );
}

/** `audit prune`: old events deleted, the chains kept verifiable by prune checkpoints. */
export const prune: Command = {
  def: {
    name: "prune",
    summary: "delete old events, keeping the chains verifiable",
    usage: ["prune --before T | --keep N [--dry-run] [--key-file FILE] [--signing-key-file FILE]"],
    description:
      "Deletes the events older than --before, or all but the --keep newest (both: whichever deletes\nmore), and writes prune checkpoints so the chains still verify. The prune checkpoints are\nwritten with the application's keys; a keyed or signed trail refuses a prune without them.",
    options: [
      {
        name: "before",
        type: "string",
        value: "T",
        description: "delete events older than T: 30d, 12h or an ISO time",
      },
      { name: "keep", type: "string", value: "N", description: "keep only the N newest events" },
      {
        name: "dry-run",
        type: "boolean",
        description: "say how many events would be deleted, and from when to when; delete nothing",
      },
      ...KEY_OPTIONS,
      STORE_OPTION,
    ],
    notes: `A progress line shows on stderr while it runs, when stderr is a terminal.`,
    examples: [
      "audit prune --before 30d --dry-run",
      "audit prune --before 30d",
      "audit prune --keep 1000000",
      "AUDIT_KEY=… AUDIT_SIGNING_KEY=./signing.pem audit prune --before 90d",
    ],
  },
  async run({ values }, io) {
    if (values.before === undefined && values.keep === undefined)
      throw new UsageError("needs --before T or --keep N");
    const keep = values.keep === undefined ? undefined : Number(values.keep);
    if (keep !== undefined && (!Number.isInteger(keep) || keep < 0 || values.keep === ""))
      throw new UsageError(`--keep must be a whole number, not "${values.keep}"`);
    const options = {
      ...(values.before !== undefined && { before: values.before as string }),
      ...(keep !== undefined && { keep }),
    };
    if (values["dry-run"]) {
      const store = await storeFrom(values.store, io);
      try {
        await dryRun(store, options, io);
      } finally {
        await store.close();
      }
      return 0;
    }
    const integrity = writerIntegrity(values as Record<string, string | undefined>, io.env);
    const store = await storeFrom(values.store, io);
    try {
      await assertKeysFitTrail(store, integrity);
    } catch (err) {
      await store.close();
      throw err;
    }
    // Through an auditor with the application's keys, so every pruned chain gets its prune
    // checkpoint, covered like the rest of the trail.
    const audit = new Auditor({ store, spool: false, actor: "audit-cli", integrity });
    const progress = progressLine(io, "pruning…");
    try {
      const n = await audit.prune(options);
      progress.end();
      io.stdout.write(`pruned ${n} events\n`);
    } finally {
      progress.end();
      await audit.close();
      await store.close();
    }
    return 0;
  },
};
