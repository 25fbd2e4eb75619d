import { readFileSync } from "node:fs";
import {
  type AuditStore,
  AuditValidationError,
  type CheckpointData,
  type IntegrityOptions,
  keyIdOf,
} from "@audit/core";
import type { OptionDef } from "./args.js";

const KEYS_GROUP = "Keys (to write into a keyed or signed trail, as the application does)";

/** The command-line options that name the application's keys. */
export const KEY_OPTIONS: OptionDef[] = [
  {
    name: "key-file",
    type: "string",
    value: "FILE",
    description: "the chain's HMAC key (default: AUDIT_KEY)",
    group: KEYS_GROUP,
  },
  {
    name: "signing-key-file",
    type: "string",
    value: "FILE",
    description:
      "the Ed25519 private key (PEM) that signs checkpoints\n(default: AUDIT_SIGNING_KEY, PEM text or a file path)",
    group: KEYS_GROUP,
  },
];

function readKeyFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new AuditValidationError(`cannot read the ${what} ${path}: ${(err as Error).message}`);
  }
}

/**
 * The integrity settings the CLI writes with: the application's HMAC key and checkpoint signing
 * key, from the options or the environment, so that what the CLI writes (an approval decision, a
 * prune checkpoint) is covered like everything the application writes.
 */
export function writerIntegrity(
  values: { "key-file"?: string | undefined; "signing-key-file"?: string | undefined },
  env: NodeJS.ProcessEnv,
): IntegrityOptions {
  const integrity: IntegrityOptions = {};
  const key = values["key-file"]
    ? readKeyFile(values["key-file"], "key file").trim()
    : (env.AUDIT_KEY ?? env.AUDIT_CHAIN_KEY);
  if (key) integrity.key = key;
  let signing = values["signing-key-file"]
    ? readKeyFile(values["signing-key-file"], "signing key file")
    : env.AUDIT_SIGNING_KEY;
  if (signing && !signing.includes("-----BEGIN"))
    signing = readKeyFile(signing, "signing key file");
  if (signing) integrity.signingKey = signing;
  return integrity;
}

/**
 * Refuses to write into a trail with the wrong keys: a trail whose checkpoints say it is keyed
 * (`hmac-sha256`) needs the same key (compared by key id), and a trail whose checkpoints are signed
 * needs a signing key. Reads the newest checkpoints only.
 * @throws {AuditValidationError} naming what is missing and how to pass it.
 */
export async function assertKeysFitTrail(
  store: AuditStore,
  integrity: IntegrityOptions,
): Promise<void> {
  const recent = await store.query({ type: "audit.checkpoint", order: "desc", limit: 50 });
  const ours = integrity.key === undefined ? undefined : keyIdOf(integrity.key);
  for (const e of recent) {
    const d = e.data as unknown as CheckpointData;
    if (d.alg === "hmac-sha256" && ours === undefined) {
      throw new AuditValidationError(
        `this trail is keyed (hmac-sha256, key id ${d.keyId ?? "?"}): writing without its key would break its chains; pass the key with AUDIT_KEY or --key-file`,
      );
    }
    if (d.alg === "hmac-sha256" && d.keyId !== undefined && d.keyId !== ours) {
      throw new AuditValidationError(
        `this trail is keyed with key id ${d.keyId}, and the key given has id ${ours}: pass the application's key`,
      );
    }
    if ((d.note !== undefined || d.signature !== undefined) && !integrity.signingKey) {
      throw new AuditValidationError(
        "this trail's checkpoints are signed: pass the signing key with AUDIT_SIGNING_KEY or --signing-key-file so what the CLI writes is signed too",
      );
    }
  }
}
