import { ApprovalConflictError, ApprovalNotFoundError, Auditor } from "@audit/core";
import { closest, UsageError } from "../args.js";
import type { Command } from "../command.js";
import { bareMessage } from "../exit-codes.js";
import { limitFrom, listingOptions } from "../filters.js";
import { escapeCell } from "../format.js";
import { resolveAmong } from "../ids.js";
import { assertKeysFitTrail, KEY_OPTIONS, writerIntegrity } from "../keys.js";
import { formatOf, formatOption, noteCapped, printRows, ROW_FORMATS, type Row } from "../output.js";
import { STORE_OPTION, storeFrom } from "../store.js";

const COLUMNS = ["approvalId", "time", "action", "reason", "runId"];

/** `audit approvals`: pending approvals listed, or one resolved. */
export const approvals: Command = {
  def: {
    name: "approvals",
    summary: "list pending approvals, or resolve one",
    usage: [
      "approvals list [--limit N | --all] [-o table|json|jsonl|csv]",
      "approvals resolve ID --outcome OUTCOME --by NAME [--comment TEXT]",
    ],
    description:
      "The first resolution wins; resolving one that is already resolved exits 1 and says who won.\nID is the approval's id, or a unique start or end of it. The resolution is a link of a hash\nchain written with the application's keys: a keyed or signed trail refuses a resolution\nwithout them.",
    options: [
      {
        name: "outcome",
        type: "string",
        value: "OUTCOME",
        description: "the decision: approve, deny or any word the application uses",
        group: "Resolve",
      },
      { name: "by", type: "string", value: "NAME", description: "who decides", group: "Resolve" },
      {
        name: "comment",
        type: "string",
        value: "TEXT",
        description: "why, kept with the resolution",
        group: "Resolve",
      },
      ...listingOptions(undefined, "approvals"),
      formatOption(ROW_FORMATS, "table"),
      ...KEY_OPTIONS,
      STORE_OPTION,
    ],
    maxPositionals: 2,
    examples: [
      "audit approvals list",
      'audit approvals resolve 01890a5d-… --outcome approve --by alice --comment "ok for this customer"',
    ],
  },
  async run({ values, positionals }, io) {
    const [sub, shown] = positionals;
    if (sub === undefined) throw new UsageError("needs list or resolve");
    if (sub !== "list" && sub !== "resolve") {
      const guess = closest(sub, ["list", "resolve"]);
      throw new UsageError(
        `unknown approvals command "${sub}"; ${guess ? `did you mean ${guess}? ` : ""}use list or resolve`,
      );
    }
    const limit = sub === "list" ? limitFrom(values, undefined) : undefined;
    const format = sub === "list" ? formatOf(values, io, ROW_FORMATS, "table") : "table";
    if (sub === "resolve") {
      if (!shown) throw new UsageError("resolve needs an approval id");
      if (!values.outcome || !values.by) throw new UsageError("resolve needs --outcome and --by");
    }
    const integrity = writerIntegrity(values as Record<string, string | undefined>, io.env);
    const store = await storeFrom(values.store, io);
    if (sub === "resolve") {
      try {
        await assertKeysFitTrail(store, integrity);
      } catch (err) {
        await store.close();
        throw err;
      }
    }
    // A resolution is a link of this auditor's chain: written with the application's keys.
    const audit = new Auditor({ store, spool: false, actor: "audit-cli", integrity });
    try {
      const pending = await audit.approvals.pending();
      if (sub === "list") {
        const shownList = limit === undefined ? pending : pending.slice(0, limit);
        if (format === "json") io.stdout.write(`${JSON.stringify(shownList, null, 2)}\n`);
        else if (format === "table" && shownList.length === 0)
          io.stdout.write("no pending approvals\n");
        else {
          const rows: Row[] = shownList.map((p) => ({
            approvalId: p.approvalId,
            time: p.request.time,
            action: p.request.data.action,
            reason: p.request.data.reason,
            runId: format === "table" ? (p.request.runId?.slice(-8) ?? "") : p.request.runId,
          }));
          printRows(rows, COLUMNS, format, io);
        }
        if (shownList.length < pending.length)
          noteCapped(io, "approvals", shownList.length, "pending approvals");
        return 0;
      }
      const id =
        resolveAmong(
          "approval id",
          pending.map((p) => p.approvalId),
          shown!,
        ) ?? shown!;
      const e = await audit.approvals.resolve(id, {
        outcome: values.outcome as string,
        resolvedBy: values.by as string,
        ...(values.comment !== undefined && { comment: values.comment as string }),
      });
      io.stdout.write(
        `${escapeCell(`resolved ${id}: ${e.data.outcome} by ${e.data.resolvedBy}`)}\n`,
      );
      return 0;
    } catch (err) {
      if (err instanceof ApprovalConflictError || err instanceof ApprovalNotFoundError) {
        io.stderr.write(`audit approvals: ${bareMessage(err)}\n`);
        return 1;
      }
      throw err;
    } finally {
      await audit.close();
      await store.close();
    }
  },
};
