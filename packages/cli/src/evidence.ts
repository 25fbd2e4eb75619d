import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  AuditError,
  buildEvidenceBundle,
  type EvidenceReport,
  openStore,
  verifyEvidenceBundle,
} from "@audit/core";
import type { CliIo } from "./cli.js";

/** `audit evidence --help`. */
export const EVIDENCE_HELP = `audit evidence — proof of one run that a reviewer checks without the store

Usage: audit evidence --run ID [--public-key FILE] [-o bundle.json] [--store URL]

  --run ID           the run to prove
  --public-key FILE  the Ed25519 key the checkpoints are signed with (PEM; a private key file works
                     too); default: the key in AUDIT_SIGNING_KEY
  -o, --output FILE  where to write the bundle (default: standard output)
  --store URL        the trail (default: AUDIT_STORE)

The bundle holds the run's events, for each its Merkle leaf and an RFC 6962 inclusion proof
against the first signed checkpoint of its chain that covers it, those checkpoints and the public
key. Check it with audit verify-bundle (see docs/FORMAT.md, "Evidence bundles").

Examples:
  audit evidence --store sqlite:./audit.db --run 01890a5d-… --public-key audit-signing.pub -o run.json`;

/** `audit verify-bundle --help`. */
export const VERIFY_BUNDLE_HELP = `audit verify-bundle — check an evidence bundle offline (exit 1 on any problem)

Usage: audit verify-bundle FILE [--public-key FILE] [--key KEY] [--format table|json]

  --public-key FILE  the Ed25519 public key you trust (PEM); without it the bundle's own key is
                     used, which shows the bundle is consistent but not who signed it
  --key KEY          HMAC key of keyed chains, to check their hashes too (default: AUDIT_CHAIN_KEY)
  -o, --format F     table (default) or json

Examples:
  audit verify-bundle run.json --public-key audit-signing.pub`;

function usage(io: CliIo, command: string, message: string): number {
  io.stderr.write(`audit ${command}: ${message} (see audit ${command} --help)\n`);
  return 2;
}

function parse(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string }>,
) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read the public key ${path}: ${(err as Error).message}`);
  }
}

/** `audit evidence`: writes the evidence bundle of one run. */
export async function evidence(args: string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parse(args, {
      store: { type: "string" },
      run: { type: "string" },
      "public-key": { type: "string" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    }).values;
  } catch (err) {
    return usage(io, "evidence", (err as Error).message);
  }
  if (values.help) {
    io.stdout.write(`${EVIDENCE_HELP}\n`);
    return 0;
  }
  const runId = values.run as string | undefined;
  if (!runId) return usage(io, "evidence", "--run ID is required");
  const url = (values.store as string | undefined) ?? io.env.AUDIT_STORE;
  if (!url) return usage(io, "evidence", "no store: pass --store URL or set AUDIT_STORE");
  let publicKey: string;
  try {
    const file = values["public-key"] as string | undefined;
    const fromEnv = io.env.AUDIT_SIGNING_KEY;
    // Like the other commands: AUDIT_SIGNING_KEY holds the PEM itself, or the path of a PEM file.
    const key = file
      ? readKeyFile(file)
      : fromEnv && !fromEnv.includes("-----BEGIN")
        ? readKeyFile(fromEnv)
        : fromEnv;
    if (!key) {
      return usage(
        io,
        "evidence",
        "no key: pass --public-key FILE (the checkpoints' signing key) or set AUDIT_SIGNING_KEY",
      );
    }
    publicKey = key;
  } catch (err) {
    return usage(io, "evidence", (err as Error).message);
  }
  const store = await openStore(url);
  try {
    const bundle = await buildEvidenceBundle(store, runId, { publicKey });
    const text = `${JSON.stringify(bundle, null, 2)}\n`;
    const out = values.output as string | undefined;
    if (out) {
      writeFileSync(out, text, { mode: 0o644 });
      io.stderr.write(
        `wrote ${out}: ${bundle.entries.length} events of run ${runId}, ${bundle.checkpoints.length} checkpoints\n`,
      );
    } else {
      io.stdout.write(text);
    }
    return 0;
  } catch (err) {
    if (err instanceof AuditError && err.code === "AUDIT_EVIDENCE") {
      io.stderr.write(`audit evidence: ${err.message.replace(/^\[audit\] /, "")}\n`);
      return 1;
    }
    throw err;
  } finally {
    await store.close();
  }
}

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
export async function verifyBundle(args: string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args, {
      "public-key": { type: "string" },
      key: { type: "string" },
      format: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    });
  } catch (err) {
    return usage(io, "verify-bundle", (err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${VERIFY_BUNDLE_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) return usage(io, "verify-bundle", "give one bundle file");
  const format = (values.format as string | undefined) ?? "table";
  if (format !== "table" && format !== "json") {
    return usage(io, "verify-bundle", `--format must be table or json, not "${format}"`);
  }
  let bundle: unknown;
  let publicKey: string | undefined;
  try {
    const file = values["public-key"] as string | undefined;
    if (file) publicKey = readKeyFile(file);
    const text = readFileSync(positionals[0]!, "utf8");
    try {
      bundle = JSON.parse(text);
    } catch (err) {
      bundle = undefined;
      io.stderr.write(
        `audit verify-bundle: ${positionals[0]} is not JSON: ${(err as Error).message}\n`,
      );
    }
  } catch (err) {
    return usage(io, "verify-bundle", (err as Error).message);
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
    return usage(io, "verify-bundle", (err as Error).message.replace(/^\[audit\] /, ""));
  }
  if (format === "json") io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report, io);
  return report.ok ? 0 : 1;
}
