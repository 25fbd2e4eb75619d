import { readFileSync } from "node:fs";
import { type EvidenceReport, verifyEvidenceBundle } from "@audit/core";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { bareMessage } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { formatOf, formatOption } from "../output.js";
import { readKeyFile } from "./evidence.js";

function printReport(report: EvidenceReport, io: CliIo): void {
  io.stdout.write(`checked ${report.events} events of run ${report.runId || "(unknown)"}\n`);
  for (const p of report.problems) io.stdout.write(`PROBLEM ${p.kind}: ${p.message}\n`);
  for (const w of report.warnings) io.stdout.write(`warning: ${w}\n`);
  io.stdout.write(
    report.ok
      ? "OK: every event is proven by a signed checkpoint\n"
      : `FAILED: ${report.problems.length} problems\n`,
  );
}

/** `audit verify-bundle`: checks an evidence bundle offline. */
export const verifyBundle: Command = {
  def: {
    name: "verify-bundle",
    summary: "check an evidence bundle without the store (exit 1 on any problem)",
    usage: ["verify-bundle FILE [--public-key FILE] [--key KEY] [-o table|json]"],
    options: [
      {
        name: "public-key",
        type: "string",
        value: "FILE",
        description:
          "the Ed25519 public key you trust (PEM); without it the bundle's own key is\nused, which shows the bundle is consistent but not who signed it",
      },
      {
        name: "key",
        type: "string",
        value: "KEY",
        description:
          "HMAC key of keyed chains, to check their hashes too (default: AUDIT_CHAIN_KEY)",
      },
      formatOption(["table", "json"], "table"),
    ],
    maxPositionals: 1,
    examples: ["audit verify-bundle run.json --public-key audit-signing.pub"],
  },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new UsageError("give one bundle file");
    const format = formatOf(values, io, ["table", "json"], "table");
    const file = values["public-key"] as string | undefined;
    const publicKey = file ? readKeyFile(file) : undefined;
    let text: string;
    try {
      text = readFileSync(positionals[0]!, "utf8");
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    let bundle: unknown;
    try {
      bundle = JSON.parse(text);
    } catch (err) {
      bundle = undefined;
      io.stderr.write(
        `audit verify-bundle: ${positionals[0]} is not JSON: ${(err as Error).message}\n`,
      );
    }
    const key = (values.key as string | undefined) ?? io.env.AUDIT_CHAIN_KEY;
    let report: EvidenceReport;
    try {
      report = verifyEvidenceBundle(bundle, {
        ...(publicKey !== undefined && { publicKey }),
        ...(key && { key }),
      });
    } catch (err) {
      // Only the trusted key can make it throw: not an Ed25519 key.
      throw new UsageError(bareMessage(err));
    }
    if (format === "json") io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else printReport(report, io);
    return report.ok ? 0 : 1;
  },
};
