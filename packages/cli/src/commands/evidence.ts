import { readFileSync, writeFileSync } from "node:fs";
import { AuditError, buildEvidenceBundle, openStore } from "@audit/core";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { bareMessage } from "../exit-codes.js";
import { resolveRunId } from "../ids.js";
import { STORE_OPTION } from "../store.js";

/** A key file's text. */
export function readKeyFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read the public key ${path}: ${(err as Error).message}`);
  }
}

/** `audit evidence`: writes the evidence bundle of one run. */
export const evidence: Command = {
  def: {
    name: "evidence",
    summary: "proof of one run (events, Merkle proofs, signed checkpoints) to check offline",
    usage: ["evidence --run ID [--public-key FILE] [-o bundle.json] [--store URL]"],
    description:
      'The bundle holds the run\'s events, for each its Merkle leaf and an RFC 6962 inclusion proof\nagainst the first signed checkpoint of its chain that covers it, those checkpoints and the public\nkey. Check it with audit verify-bundle (see docs/FORMAT.md, "Evidence bundles").',
    options: [
      {
        name: "run",
        type: "string",
        value: "ID",
        description: "the run to prove (a full id, or the short form the tables show)",
      },
      {
        name: "public-key",
        type: "string",
        value: "FILE",
        description:
          "the Ed25519 key the checkpoints are signed with (PEM; a private key file works\ntoo); default: the key in AUDIT_SIGNING_KEY",
      },
      {
        name: "output",
        short: "o",
        type: "string",
        value: "FILE",
        description: "where to write the bundle (default: standard output)",
      },
      STORE_OPTION,
    ],
    examples: [
      "audit evidence --store sqlite:./audit.db --run 01890a5d-… --public-key audit-signing.pub -o run.json",
    ],
  },
  async run({ values }, io) {
    const shown = values.run as string | undefined;
    if (!shown) throw new UsageError("--run ID is required");
    const url = (values.store as string | undefined) ?? io.env.AUDIT_STORE;
    if (!url) throw new UsageError("no store: pass --store URL or set AUDIT_STORE");
    const file = values["public-key"] as string | undefined;
    const fromEnv = io.env.AUDIT_SIGNING_KEY;
    // Like the other commands: AUDIT_SIGNING_KEY holds the PEM itself, or the path of a PEM file.
    const publicKey = file
      ? readKeyFile(file)
      : fromEnv && !fromEnv.includes("-----BEGIN")
        ? readKeyFile(fromEnv)
        : fromEnv;
    if (!publicKey)
      throw new UsageError(
        "no key: pass --public-key FILE (the checkpoints' signing key) or set AUDIT_SIGNING_KEY",
      );
    const store = await openStore(url);
    try {
      const runId = (await resolveRunId(store, shown)) ?? shown;
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
        io.stderr.write(`audit evidence: ${bareMessage(err)}\n`);
        return 1;
      }
      throw err;
    } finally {
      await store.close();
    }
  },
};
