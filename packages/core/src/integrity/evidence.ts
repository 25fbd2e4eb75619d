import { createPublicKey, type KeyObject } from "node:crypto";
import { AuditError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import {
  type CheckpointData,
  chainInput,
  checkpointSignatureValid,
  hashEvent,
  keyIdOf,
  toPublicKey,
} from "../integrity.js";
import type { AuditStore } from "../store.js";
import { inclusionProof, leafHash, merkleRoot, verifyInclusion } from "./merkle.js";
import { noteVerifierKey, parseNote } from "./signed-note.js";

/** The `format` of an evidence bundle written by this version. */
export const EVIDENCE_FORMAT = "audit-evidence/1";

/** A checkpoint carried by an evidence bundle: the `audit.checkpoint` event's id and its data. */
export interface EvidenceCheckpoint {
  /** The id of the `audit.checkpoint` event in the trail. */
  eventId: string;
  /** Its payload, with `root` and the signed `note`. */
  data: CheckpointData;
}

/** One event of the run with what proves it belongs to its chain's signed tree. */
export interface EvidenceEntry {
  /** The event exactly as stored. */
  event: AuditEvent;
  /** Lowercase hex RFC 6962 leaf hash: SHA-256(0x00 ‖ UTF-8 chain input). */
  leaf: string;
  /** 0-based leaf index in its chain's tree: `chain.seq - 1`. */
  index: number;
  /** The `eventId` of the bundle's checkpoint whose root the proof leads to. */
  checkpoint: string;
  /** The RFC 6962 audit path from the leaf to that root, lowercase hex, bottom up. */
  proof: string[];
}

/** Proof of one run, checkable without the store (see `docs/FORMAT.md`, "Evidence bundles"). */
export interface EvidenceBundle {
  format: typeof EVIDENCE_FORMAT;
  /** The run the bundle proves. */
  runId: string;
  /** The Ed25519 key that signed the checkpoints: PEM (SPKI) and the C2SP verifier-key text. */
  publicKey: { pem: string; verifierKey: string };
  /** The checkpoints the proofs lead to. */
  checkpoints: EvidenceCheckpoint[];
  /** The run's events in the store's order. */
  entries: EvidenceEntry[];
}

/** Options of {@link buildEvidenceBundle}. */
export interface BuildEvidenceOptions {
  /** The Ed25519 public key (PEM or KeyObject; a private key gives its public half). */
  publicKey: string | KeyObject;
  /**
   * The signer name written in the verifier key; by default the name on the checkpoints' notes.
   * @default the first signature line's name
   */
  signerName?: string;
}

function evidenceError(message: string): AuditError {
  return new AuditError(message, { code: "AUDIT_EVIDENCE", stage: "verify" });
}

/**
 * Builds the evidence bundle of one run: its events, and for each an RFC 6962 inclusion proof
 * against the root of the first checkpoint of its chain that covers it and is signed by
 * `publicKey`. Fails with a clear error when an event is not covered by such a checkpoint yet, or
 * when the stored chain does not give the signed root (the trail does not verify).
 */
export async function buildEvidenceBundle(
  store: AuditStore,
  runId: string,
  options: BuildEvidenceOptions,
): Promise<EvidenceBundle> {
  const publicKey = toPublicKey(options.publicKey);
  const events: AuditEvent[] = [];
  for await (const e of store.stream({ runId })) {
    if (!e.chain) throw evidenceError(`event ${e.id} of run ${runId} carries no chain link`);
    events.push(e);
  }
  if (events.length === 0) throw evidenceError(`the store holds no event of run ${runId}`);

  // The signed checkpoints of the chains the run touches, smallest seq first.
  const chains = new Set(events.map((e) => e.chain!.id));
  const signed = new Map<string, EvidenceCheckpoint[]>();
  let signerName = options.signerName;
  for await (const e of store.stream({ type: "audit.checkpoint" })) {
    const data = e.data as unknown as CheckpointData;
    if (!chains.has(data.chainId) || data.root === undefined || data.reason === "prune") continue;
    if (!checkpointSignatureValid(data, publicKey)) continue;
    signerName ??= parseNote(data.note ?? "")?.signatures[0]?.name;
    const list = signed.get(data.chainId) ?? [];
    list.push({ eventId: e.id, data });
    signed.set(data.chainId, list);
  }
  for (const list of signed.values()) list.sort((a, b) => a.data.seq - b.data.seq);
  const covering = events.map((e) => {
    const c = signed.get(e.chain!.id)?.find((cp) => cp.data.seq >= e.chain!.seq);
    if (!c) {
      throw evidenceError(
        `event ${e.id} (chain ${e.chain!.id} seq ${e.chain!.seq}) is not covered by a checkpoint signed with this key yet; close its auditor (or wait for its next checkpoint) and try again`,
      );
    }
    return c;
  });

  // The leaves of each chain up to the largest checkpoint used.
  const size = new Map<string, number>();
  for (const c of covering)
    size.set(c.data.chainId, Math.max(size.get(c.data.chainId) ?? 0, c.data.seq));
  const leaves = new Map<string, (Buffer | undefined)[]>();
  for (const [id, n] of size) leaves.set(id, new Array<Buffer | undefined>(n));
  for await (const e of store.stream()) {
    const c = e.chain;
    const list = c ? leaves.get(c.id) : undefined;
    if (!c || !list || c.seq < 1 || c.seq > list.length) continue;
    if (list[c.seq - 1]) {
      throw evidenceError(`chain ${c.id} holds two events at seq ${c.seq}; run audit verify`);
    }
    list[c.seq - 1] = leafHash(chainInput(e));
  }
  for (const [id, list] of leaves) {
    const missing = list.findIndex((l) => l === undefined);
    if (missing >= 0) {
      throw evidenceError(`chain ${id} misses seq ${missing + 1} in the store; run audit verify`);
    }
  }

  const used = new Map<string, EvidenceCheckpoint>();
  const entries: EvidenceEntry[] = events.map((event, i) => {
    const cp = covering[i]!;
    const tree = (leaves.get(cp.data.chainId) as Buffer[]).slice(0, cp.data.seq);
    if (!used.has(cp.eventId)) {
      if (merkleRoot(tree).toString("hex") !== cp.data.root) {
        throw evidenceError(
          `the stored events of chain ${cp.data.chainId} do not give the root of checkpoint ${cp.eventId}; run audit verify`,
        );
      }
      used.set(cp.eventId, cp);
    }
    const index = event.chain!.seq - 1;
    return {
      event,
      leaf: tree[index]!.toString("hex"),
      index,
      checkpoint: cp.eventId,
      proof: inclusionProof(index, tree).map((b) => b.toString("hex")),
    };
  });
  return {
    format: EVIDENCE_FORMAT,
    runId,
    publicKey: {
      pem: publicKey.export({ format: "pem", type: "spki" }).toString(),
      verifierKey: noteVerifierKey(signerName ?? "audit", publicKey),
    },
    checkpoints: [...used.values()],
    entries,
  };
}

/** What {@link verifyEvidenceBundle} can find wrong with a bundle. */
export type EvidenceProblemKind =
  /** The bundle, an entry or a checkpoint lacks a field or has one of the wrong type. */
  | "malformed"
  /** The bundle's key disagrees with itself (PEM vs verifier key) or with the trusted key given. */
  | "key-mismatch"
  /** A checkpoint carries no signed note. */
  | "unsigned-checkpoint"
  /** A checkpoint's note does not verify with the key, or its body is not the checkpoint's. */
  | "bad-signature"
  /** An entry names no checkpoint of the bundle, or one of another chain or that does not cover it. */
  | "missing-checkpoint"
  /** An event belongs to another run. */
  | "wrong-run"
  /** The entry's leaf is not the leaf hash of its event. */
  | "leaf-mismatch"
  /** The event's chain hash does not match its content (checked for SHA-256, or with the key). */
  | "hash-mismatch"
  /** The index is not `seq - 1`, or the audit path does not lead to the checkpoint's root. */
  | "bad-proof";

/** One finding of {@link verifyEvidenceBundle}, naming the event or checkpoint. */
export interface EvidenceProblem {
  kind: EvidenceProblemKind;
  eventId?: string;
  message: string;
}

/** The result of {@link verifyEvidenceBundle}. */
export interface EvidenceReport {
  /** True when there is no problem. */
  ok: boolean;
  runId: string;
  /** Entries checked. */
  events: number;
  problems: EvidenceProblem[];
  /** Things to know: the key was taken from the bundle itself, HMAC hashes were not checked. */
  warnings: string[];
}

/** Options of {@link verifyEvidenceBundle}. */
export interface VerifyEvidenceOptions {
  /**
   * The Ed25519 public key the reviewer trusts (PEM or KeyObject). Without it the bundle's own key
   * is used, which proves the bundle is consistent but not who signed it.
   */
  publicKey?: string | KeyObject;
  /** The HMAC key of keyed chains, to check their event hashes too. */
  key?: string | Uint8Array;
}

const HEX64 = /^[0-9a-f]{64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Checks an evidence bundle offline: each event's leaf, its inclusion proof against its
 * checkpoint's root, each checkpoint's signed note, and that every event belongs to the run.
 * Never throws on a bad bundle: everything wrong is a problem in the report.
 */
export function verifyEvidenceBundle(
  bundle: unknown,
  options: VerifyEvidenceOptions = {},
): EvidenceReport {
  const problems: EvidenceProblem[] = [];
  const warnings: string[] = [];
  const b = isObject(bundle) ? bundle : {};
  const runId = typeof b.runId === "string" ? b.runId : "";
  const report = (): EvidenceReport => ({
    ok: problems.length === 0,
    runId,
    events: Array.isArray(b.entries) ? b.entries.length : 0,
    problems,
    warnings,
  });
  const pk = isObject(b.publicKey) ? b.publicKey : {};
  if (
    b.format !== EVIDENCE_FORMAT ||
    !runId ||
    typeof pk.pem !== "string" ||
    !Array.isArray(b.checkpoints) ||
    !Array.isArray(b.entries)
  ) {
    problems.push({
      kind: "malformed",
      message: `not an evidence bundle (${EVIDENCE_FORMAT}): format, runId, publicKey.pem, checkpoints and entries are required`,
    });
    return report();
  }

  let bundleKey: KeyObject | undefined;
  try {
    bundleKey = createPublicKey(pk.pem);
    if (bundleKey.asymmetricKeyType !== "ed25519") bundleKey = undefined;
  } catch {
    bundleKey = undefined;
  }
  let key: KeyObject | undefined;
  if (options.publicKey !== undefined) {
    key = toPublicKey(options.publicKey);
    if (!bundleKey || !key.equals(bundleKey)) {
      problems.push({
        kind: "key-mismatch",
        message: "the bundle's public key is not the trusted public key given",
      });
    }
  } else {
    key = bundleKey;
    warnings.push(
      "no trusted public key given: the bundle's own key was used, which shows the bundle is consistent but not who signed it",
    );
  }
  if (!bundleKey) {
    problems.push({ kind: "malformed", message: "publicKey.pem is not an Ed25519 public key" });
  } else if (typeof pk.verifierKey === "string") {
    const name = pk.verifierKey.split("+")[0] ?? "";
    if (noteVerifierKey(name, bundleKey) !== pk.verifierKey) {
      problems.push({
        kind: "key-mismatch",
        message: "publicKey.verifierKey does not encode the same key as publicKey.pem",
      });
    }
  }

  const checkpoints = new Map<string, CheckpointData>();
  for (const c of b.checkpoints as unknown[]) {
    const cp = isObject(c) ? c : {};
    const d = isObject(cp.data) ? (cp.data as unknown as CheckpointData) : undefined;
    if (
      typeof cp.eventId !== "string" ||
      !d ||
      typeof d.chainId !== "string" ||
      !Number.isInteger(d.seq) ||
      typeof d.root !== "string" ||
      !HEX64.test(d.root)
    ) {
      problems.push({
        kind: "malformed",
        message: "a checkpoint lacks eventId, chainId, seq or root",
      });
      continue;
    }
    checkpoints.set(cp.eventId, d);
    if (typeof d.note !== "string") {
      problems.push({
        kind: "unsigned-checkpoint",
        eventId: cp.eventId,
        message: `checkpoint ${cp.eventId} carries no signed note`,
      });
    } else if (!key || !checkpointSignatureValid(d, key)) {
      problems.push({
        kind: "bad-signature",
        eventId: cp.eventId,
        message: `checkpoint ${cp.eventId}: its note does not verify with the public key, or its body is not this checkpoint's`,
      });
    }
  }

  const hmacKeyId = options.key === undefined ? undefined : keyIdOf(options.key);
  let hmacUnchecked = false;
  for (const x of b.entries as unknown[]) {
    const entry = isObject(x) ? x : {};
    const e = isObject(entry.event) ? (entry.event as unknown as AuditEvent) : undefined;
    const c = e?.chain;
    if (
      !e ||
      typeof e.id !== "string" ||
      !c ||
      typeof c.id !== "string" ||
      !Number.isInteger(c.seq) ||
      typeof entry.leaf !== "string" ||
      !Number.isInteger(entry.index) ||
      typeof entry.checkpoint !== "string" ||
      !Array.isArray(entry.proof) ||
      !entry.proof.every((p) => typeof p === "string" && HEX64.test(p))
    ) {
      problems.push({
        kind: "malformed",
        ...(typeof e?.id === "string" && { eventId: e.id }),
        message: "an entry lacks event (with chain), leaf, index, checkpoint or proof",
      });
      continue;
    }
    const id = e.id;
    if (e.runId !== runId) {
      problems.push({
        kind: "wrong-run",
        eventId: id,
        message: `event ${id} belongs to run ${e.runId ?? "(none)"}, not ${runId}`,
      });
    }
    let input: string;
    try {
      input = chainInput(e);
    } catch {
      problems.push({ kind: "malformed", eventId: id, message: `event ${id} is not JSON` });
      continue;
    }
    const leaf = leafHash(input);
    if (leaf.toString("hex") !== entry.leaf) {
      problems.push({
        kind: "leaf-mismatch",
        eventId: id,
        message: `event ${id}: its leaf hash is not the one in the bundle; the event was modified`,
      });
    }
    const cp = checkpoints.get(entry.checkpoint);
    if (!cp || cp.chainId !== c.id || cp.seq < c.seq) {
      problems.push({
        kind: "missing-checkpoint",
        eventId: id,
        message: `event ${id}: checkpoint ${entry.checkpoint} is not in the bundle, or is of another chain, or does not cover seq ${c.seq}`,
      });
      continue;
    }
    if (cp.alg === "sha256" || (cp.alg === "hmac-sha256" && hmacKeyId === cp.keyId && hmacKeyId)) {
      if (hashEvent(e, cp.alg === "sha256" ? undefined : options.key) !== c.hash) {
        problems.push({
          kind: "hash-mismatch",
          eventId: id,
          message: `event ${id} does not match its chain hash`,
        });
      }
    } else {
      hmacUnchecked = true;
    }
    const proof = (entry.proof as string[]).map((p) => Buffer.from(p, "hex"));
    if (
      entry.index !== c.seq - 1 ||
      !verifyInclusion(leaf, entry.index, cp.seq, proof, Buffer.from(cp.root!, "hex"))
    ) {
      problems.push({
        kind: "bad-proof",
        eventId: id,
        message: `event ${id}: its inclusion proof does not lead to the root of checkpoint ${entry.checkpoint}`,
      });
    }
  }
  if (hmacUnchecked) {
    warnings.push(
      "keyed (HMAC-SHA-256) chain hashes were not checked without the key; the Merkle proofs were",
    );
  }
  return report();
}
