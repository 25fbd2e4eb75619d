import { readFileSync } from "node:fs";
import { openStore, verifyChain } from "@audit/core";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { formatOption } from "../output.js";
import { countingReads, progressLine } from "../progress.js";
import { STORE_OPTION, storeFrom } from "../store.js";

/** `audit verify`: checks every hash chain; exit 1 and each problem listed if there is any. */
export const verify: Command = {
  def: {
    name: "verify",
    summary: "check every hash chain (exit 1 on any problem)",
    usage: [
      "verify [--key KEY] [--public-key FILE] [--witness URL] [--require-closed] [--allow-empty] [-o table|json]",
    ],
    options: [
      {
        name: "key",
        type: "string",
        value: "KEY",
        description: "HMAC key of the chains (default: AUDIT_CHAIN_KEY)",
      },
      {
        name: "public-key",
        type: "string",
        value: "FILE",
        description: "Ed25519 public key (PEM) to check checkpoint signatures",
      },
      {
        name: "witness",
        type: "string",
        value: "URL",
        description: "a store holding witnessed checkpoints",
      },
      {
        name: "require-closed",
        type: "boolean",
        description: "a chain without its final checkpoint is a problem",
      },
      {
        name: "allow-empty",
        type: "boolean",
        description: "an existing store with no events is OK (otherwise it fails)",
      },
      formatOption(["table", "json"], "table"),
      STORE_OPTION,
    ],
    notes:
      "The store is opened read-only: a store that does not exist is an error, and nothing is created. A progress line shows on stderr while it runs, when stderr is a terminal.",
    examples: [
      "audit verify --store sqlite:./audit.db",
      "AUDIT_CHAIN_KEY=… audit verify --public-key audit-signing.pub --require-closed",
    ],
  },
  async run({ values }, io) {
    const format = (values.format as string | undefined) ?? "table";
    if (format !== "table" && format !== "json")
      throw new UsageError(`--format must be table or json, not "${format}"`);
    let publicKey: string | undefined;
    if (values["public-key"]) {
      try {
        publicKey = readFileSync(values["public-key"] as string, "utf8");
      } catch (err) {
        throw new UsageError(
          `cannot read the public key ${values["public-key"]}: ${(err as Error).message}`,
        );
      }
    }
    // Read-only: verifying a mistyped path must not create an empty store there.
    const store = await storeFrom(values.store, io, { readOnly: true });
    const witness = values.witness
      ? await openStore(values.witness as string, { readOnly: true }).catch(
          async (err: unknown) => {
            await store.close();
            throw err;
          },
        )
      : undefined;
    const progress = progressLine(io, "verifying…");
    try {
      const key = (values.key as string | undefined) ?? io.env.AUDIT_CHAIN_KEY;
      const reading = io.stderr.isTTY
        ? countingReads(store, (n) => progress.update(`${n} events`))
        : store;
      const report = await verifyChain(reading, {
        ...(key && { key }),
        ...(publicKey && { publicKey }),
        ...(witness && { witness: witness.stream({ type: "audit.checkpoint" }) }),
        requireClosed: values["require-closed"] === true,
      });
      progress.end();
      if (report.events === 0 && values["allow-empty"] !== true) {
        io.stderr.write(
          "audit verify: the store holds no events, so there is no trail to verify (pass --allow-empty if an empty trail is expected)\n",
        );
        return 1;
      }
      if (format === "json") {
        io.stdout.write(JSON.stringify(report, null, 2) + "\n");
      } else {
        io.stdout.write(`checked ${report.events} events in ${report.chains.length} chains\n`);
        for (const p of report.problems) io.stdout.write(`PROBLEM ${p.kind}: ${p.message}\n`);
        for (const w of report.warnings) io.stdout.write(`warning ${w.kind}: ${w.message}\n`);
        if (report.unlisted > 0) io.stdout.write(`… and ${report.unlisted} more problems\n`);
        io.stdout.write(
          report.ok
            ? "OK: every chain verifies\n"
            : `FAILED: ${report.problems.length + report.unlisted} problems\n`,
        );
      }
      return report.ok ? 0 : 1;
    } finally {
      progress.end();
      await store.close();
      await witness?.close();
    }
  },
};
