import { createHmac, createPrivateKey, createPublicKey, type KeyObject, verify } from "node:crypto";
import { canonicalJson } from "./canonical.js";
import { AuditConfigError } from "./errors.js";
import type { AuditEvent, EventPayloads } from "./event.js";
import type { AuditExporter } from "./exporters/exporter.js";
import { uuidv7, uuidv7WithTime } from "./ids.js";
import { SealedLink } from "./integrity/event-text.js";
import { leafHash, MerkleFrontier, sha256Hex } from "./integrity/merkle.js";
import { noteSignedBy, parseNote, signNote } from "./integrity/signed-note.js";

/** Tamper evidence settings of an auditor. The hash chain is on unless `integrity: false`. */
export interface IntegrityOptions {
  /**
   * Secret key for the chain: hashes become HMAC-SHA-256, so nobody without the key can rewrite
   * the trail and recompute them. At least 16 bytes. Without it the chain uses plain SHA-256,
   * which detects accidents and partial edits but not an attacker who rewrites the whole chain.
   */
  key?: string | Uint8Array;
  /**
   * Ed25519 private key (PEM or KeyObject) that signs every checkpoint, as a C2SP signed note that
   * transparency-log witness tooling can read.
   */
  signingKey?: string | KeyObject;
  /**
   * The signer name in checkpoint notes (C2SP signed notes name their signer).
   * @default "audit"
   */
  signingKeyName?: string;
  /**
   * Write an `audit.checkpoint` after this many events of the chain.
   * @default 1000
   */
  checkpointEvery?: number;
  /**
   * Write a checkpoint when the chain has been quiet this long with events not yet covered by one.
   * @default 5000
   */
  checkpointIdleMs?: number;
  /**
   * A second system that receives every checkpoint (a witness): it lets `verifyChain` detect a
   * truncated tail even if the attacker also deleted the stored checkpoints.
   */
  witness?: AuditExporter;
}

/** The hash algorithm of a chain, as written in its checkpoints. */
export type ChainAlgorithm = "sha256" | "hmac-sha256";

/** Payload of an `audit.checkpoint` event. */
export type CheckpointData = EventPayloads["audit.checkpoint"] & {
  alg: ChainAlgorithm;
  /** Identifies the HMAC key (not the key itself), so a verifier can tell a wrong key. */
  keyId?: string;
  /** True on the checkpoint written by `close()`: nothing may follow it in the chain. */
  final?: boolean;
  /** `"prune"` when the checkpoint anchors a chain whose older events were pruned. */
  reason?: "prune";
  /**
   * Lowercase hex RFC 6962 Merkle tree hash over the chain's events 1..seq (leaf: SHA-256 of 0x00
   * and the event's chain input). Absent on prune anchors, whose writer does not hold that chain.
   */
  root?: string;
  /** The checkpoint as a C2SP signed note, when a signing key is configured. */
  note?: string;
};

function keyBytes(key: string | Uint8Array): Buffer {
  return typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key);
}

/** The id of an HMAC key as written in checkpoints: derived with the key, reveals nothing of it. */
export function keyIdOf(key: string | Uint8Array): string {
  return createHmac("sha256", keyBytes(key)).update("audit key id").digest("hex").slice(0, 16);
}

/**
 * The text that is hashed for an event: its canonical JSON (see `canonicalJson`) with `chain`
 * holding only `id`, `seq` and `prev` — the event without its own hash.
 */
export function chainInput(event: AuditEvent): string {
  return chainInputFast(event) ?? chainInputGeneric(event);
}

function chainInputGeneric(event: AuditEvent): string {
  const chain = event.chain;
  const { chain: _drop, ...rest } = event;
  return canonicalJson(
    chain ? { ...rest, chain: { id: chain.id, seq: chain.seq, prev: chain.prev } } : rest,
  );
}

// The event's own fields, in canonical (sorted) order.
const FIELDS = [
  "actor",
  "chain",
  "data",
  "id",
  "parentSpanId",
  "risk",
  "runId",
  "sessionId",
  "spanId",
  "time",
  "traceId",
  "type",
] as const;
const KNOWN = new Set<string>(FIELDS);

// The same text as the generic path, written field by field: an event has a fixed set of fields,
// so only `data` needs sorting. Anything unusual (an unknown field) takes the generic path.
function chainInputFast(event: AuditEvent): string | undefined {
  return chainInputParts(event)?.input;
}

// The chain input and, separately, the canonical text of `data` (which the input contains).
function chainInputParts(event: AuditEvent): { input: string; data: string } | undefined {
  for (const k in event) if (!KNOWN.has(k)) return undefined;
  const e = event as unknown as Record<string, unknown>;
  let out = "{";
  let data = "";
  for (const f of FIELDS) {
    const v = e[f];
    if (v === undefined) continue;
    let text: string;
    if (f === "chain") {
      const c = v as { id: string; seq: number; prev: string };
      text = `{"id":${JSON.stringify(c.id)},"prev":${JSON.stringify(c.prev)},"seq":${JSON.stringify(c.seq)}}`;
    } else if (f === "data") text = data = canonicalJson(v);
    else if (typeof v === "string") text = JSON.stringify(v);
    else return undefined;
    out += `${out.length > 1 ? "," : ""}"${f}":${text}`;
  }
  return { input: `${out}}`, data };
}

/** The chain hash of an event: lowercase hex SHA-256, or HMAC-SHA-256 with `key`. */
export function hashEvent(event: AuditEvent, key?: string | Uint8Array): string {
  return hashInput(chainInput(event), key === undefined ? undefined : keyBytes(key));
}

function hashInput(input: string, key: Buffer | undefined): string {
  if (key === undefined) return sha256Hex(input);
  return createHmac("sha256", key).update(input, "utf8").digest("hex");
}

/** The bytes a legacy checkpoint `signature` covers: the canonical JSON of its data without it. */
export function checkpointSigningInput(data: CheckpointData): string {
  const { signature: _drop, note: _note, ...rest } = data;
  return canonicalJson(rest);
}

/**
 * The body of a checkpoint's signed note, in the C2SP tlog-checkpoint form: the origin, the tree
 * size (the seq covered) and the base64 Merkle root, then extension lines. A prune anchor has no
 * Merkle root: its origin says so and its third line carries the anchored link's hash instead.
 */
export function checkpointNoteBody(data: CheckpointData): string {
  const anchor = data.root === undefined;
  const third = Buffer.from(anchor ? data.hash : data.root!, "hex").toString("base64");
  let body = `audit/${anchor ? "anchor" : "chain"}/${data.chainId}\n${data.seq}\n${third}\n`;
  body += `head ${data.hash}\nalg ${data.alg}\n`;
  if (data.keyId !== undefined) body += `keyid ${data.keyId}\n`;
  if (data.final) body += "final\n";
  if (data.reason !== undefined) body += `reason ${data.reason}\n`;
  return body;
}

/** Reads a PEM string or KeyObject as an Ed25519 private key. */
export function toPrivateKey(key: string | KeyObject): KeyObject {
  const k = typeof key === "string" ? createPrivateKey(key) : key;
  if (k.type !== "private" || k.asymmetricKeyType !== "ed25519") {
    throw new AuditConfigError("integrity.signingKey must be an Ed25519 private key");
  }
  return k;
}

/** Reads a PEM string or KeyObject as an Ed25519 public key (a private key gives its public half). */
export function toPublicKey(key: string | KeyObject): KeyObject {
  const k =
    typeof key === "string"
      ? createPublicKey(key)
      : key.type === "private"
        ? createPublicKey(key)
        : key;
  if (k.asymmetricKeyType !== "ed25519") {
    throw new AuditConfigError("the checkpoint public key must be an Ed25519 key");
  }
  return k;
}

/** Signs checkpoint data: returns its C2SP signed note. */
export function signCheckpoint(
  data: CheckpointData,
  privateKey: KeyObject,
  name = "audit",
): string {
  return signNote(checkpointNoteBody(data), name, privateKey, createPublicKey(privateKey));
}

/**
 * True when the checkpoint is signed by `publicKey`: its note's body is exactly the body of its
 * data, and a signature line verifies. (Checkpoints written before notes carry a `signature`
 * over their canonical JSON instead; that is checked too.)
 */
export function checkpointSignatureValid(data: CheckpointData, publicKey: KeyObject): boolean {
  if (typeof data.note === "string") {
    const parsed = parseNote(data.note);
    if (!parsed) return false;
    const { note: _drop, ...rest } = data;
    return parsed.body === checkpointNoteBody(rest) && noteSignedBy(parsed, publicKey);
  }
  if (typeof data.signature !== "string") return false;
  try {
    return verify(
      null,
      Buffer.from(checkpointSigningInput(data)),
      publicKey,
      Buffer.from(data.signature, "base64url"),
    );
  } catch {
    return false;
  }
}

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * An id that sorts just after `id` and before any UUIDv7 made after it by this process: the same
 * timestamp and counter with the random bits at their maximum (a later id has a higher counter or
 * timestamp). For other ids, a suffix.
 */
export function idRightAfter(id: string): string {
  if (UUIDV7.test(id)) {
    const candidate = `${id.slice(0, 19)}bfff-ffffffffffff`;
    if (candidate > id) return candidate;
  }
  // Already at the top of its counter (a checkpoint right after a checkpoint): a numbered suffix,
  // fixed width so that string order is number order.
  const m = /^(.*)~(\d{4})$/.exec(id);
  if (m) return `${m[1]}~${String(Number(m[2]) + 1).padStart(4, "0")}`;
  return `${id}~0001`;
}

/** A saved chain state (see {@link ChainSealer.mark}). */
export interface SealerMark {
  readonly seq: number;
  readonly head: string;
  readonly headEvent: Pick<AuditEvent, "id" | "time"> | undefined;
  readonly since: number;
  readonly tree: ReturnType<MerkleFrontier["snapshot"]>;
}

/**
 * One auditor's hash chain. Events are sealed in the order they leave the queue, which is the
 * order they were recorded; sealing happens off the agent's path, when a batch is written.
 */
export class ChainSealer {
  /** The chain id: random per auditor. */
  readonly id = uuidv7();
  readonly alg: ChainAlgorithm;
  readonly keyId: string | undefined;
  readonly every: number;
  readonly idleMs: number;
  readonly witness: AuditExporter | undefined;
  readonly #key: Buffer | undefined;
  readonly #signingKey: KeyObject | undefined;
  readonly #signingKeyName: string;
  readonly #tree = new MerkleFrontier();
  #seq = 0;
  #head = "";
  #headEvent: Pick<AuditEvent, "id" | "time"> | undefined;
  #sinceCheckpoint = 0;

  constructor(options: IntegrityOptions) {
    if (options.key !== undefined) {
      const bytes = keyBytes(options.key);
      if (bytes.length < 16) {
        throw new AuditConfigError("integrity.key must be at least 16 bytes; use a random secret");
      }
      this.#key = bytes;
    }
    this.alg = this.#key ? "hmac-sha256" : "sha256";
    this.keyId = this.#key ? keyIdOf(this.#key) : undefined;
    this.#signingKey =
      options.signingKey === undefined ? undefined : toPrivateKey(options.signingKey);
    this.#signingKeyName = options.signingKeyName ?? "audit";
    if (!/^[^\s+]+$/.test(this.#signingKeyName)) {
      throw new AuditConfigError("integrity.signingKeyName must be one word without spaces or +");
    }
    this.every = options.checkpointEvery ?? 1000;
    if (!Number.isInteger(this.every) || this.every < 1) {
      throw new AuditConfigError("integrity.checkpointEvery must be a whole number ≥ 1");
    }
    this.idleMs = options.checkpointIdleMs ?? 5000;
    if (typeof this.idleMs !== "number" || !(this.idleMs >= 0)) {
      throw new AuditConfigError("integrity.checkpointIdleMs must be a number ≥ 0");
    }
    this.witness = options.witness;
  }

  /** Events sealed since the last checkpoint. */
  get uncovered(): number {
    return this.#sinceCheckpoint;
  }

  /** The last sealed link: seq and hash. */
  get head(): { seq: number; hash: string } {
    return { seq: this.#seq, hash: this.#head };
  }

  /** Gives the event its link: the next seq, the previous hash, and its own hash. */
  seal(event: AuditEvent): void {
    const link = new SealedLink(this.id, ++this.#seq, this.#head);
    event.chain = link;
    const parts = chainInputParts(event);
    const input = parts?.input ?? chainInputGeneric(event);
    const hash = hashInput(input, this.#key);
    // The hashed text becomes the stored text (only from the field-by-field path, whose layout
    // is known: `chain` is a top-level member and nothing before it can hold one).
    if (parts) link.seal(event, hash, parts.input, parts.data);
    else link.hash = hash;
    this.#tree.push(leafHash(input));
    this.#head = link.hash;
    this.#headEvent = event;
    this.#sinceCheckpoint++;
  }

  /**
   * True when an event carries a chain link whose hash matches its content under this sealer's
   * algorithm and key (so, with a key, it was written by a key holder).
   */
  intact(event: AuditEvent): boolean {
    if (!event.chain || typeof event.chain.hash !== "string") return false;
    try {
      return hashEvent(event, this.#key) === event.chain.hash;
    } catch {
      return false;
    }
  }

  /** The chain's state, to return to with {@link ChainSealer.rewind}. */
  mark(): SealerMark {
    return {
      seq: this.#seq,
      head: this.#head,
      headEvent: this.#headEvent,
      since: this.#sinceCheckpoint,
      tree: this.#tree.snapshot(),
    };
  }

  /**
   * Undoes the links sealed since `mark`, for an event that provably never reached any store (an
   * approval resolution that lost the race), so the chain has no gap. Refuses (returns false) when
   * anything else was sealed since.
   */
  rewind(mark: SealerMark, expectedSeq: number): boolean {
    if (this.#seq !== expectedSeq || expectedSeq !== mark.seq + 1) return false;
    this.#seq = mark.seq;
    this.#head = mark.head;
    this.#headEvent = mark.headEvent;
    this.#sinceCheckpoint = mark.since;
    this.#tree.restore(mark.tree);
    return true;
  }

  /** Whether a checkpoint is due after the events sealed so far. */
  due(): boolean {
    return this.#sinceCheckpoint >= this.every;
  }

  /** Checkpoint data for the current head, signed when a signing key is configured. */
  checkpointData(extra: { final?: boolean } = {}): CheckpointData {
    return this.anchorData(this.id, this.#seq, this.#head, {
      ...extra,
      root: this.#tree.root().toString("hex"),
    });
  }

  /** Checkpoint data naming any chain's link (used to anchor pruned chains). */
  anchorData(
    chainId: string,
    seq: number,
    hash: string,
    extra: { final?: boolean; reason?: "prune"; root?: string } = {},
  ): CheckpointData {
    const data: CheckpointData = { chainId, seq, hash, alg: this.alg };
    if (extra.root !== undefined) data.root = extra.root;
    if (this.keyId !== undefined) data.keyId = this.keyId;
    if (extra.final) data.final = true;
    if (extra.reason) data.reason = extra.reason;
    if (this.#signingKey) data.note = signCheckpoint(data, this.#signingKey, this.#signingKeyName);
    return data;
  }

  /**
   * A new, unsealed `audit.checkpoint` event carrying `data`. With `at: "head"` (a checkpoint that
   * falls due right after an event, while later-recorded events still wait to be sealed) it takes
   * the head event's time and an id that sorts right after the head's, so the store's `(time, id)`
   * order keeps it exactly where the chain has it (retention by count relies on that order). With
   * `at: "now"` (nothing recorded before it waits behind it) it takes the current time, so a chain
   * of checkpoints alone still moves forward in time. `placeAfterHead` fixes it up if it is sealed
   * later.
   */
  checkpointEvent(
    data: CheckpointData,
    actor: string | undefined,
    at: "head" | "now" = "now",
  ): AuditEvent {
    const head = this.#headEvent;
    let id: string;
    let time: string;
    const t = uuidv7WithTime();
    const now = new Date(t.ms).toISOString();
    if (head && (at === "head" || now <= head.time)) {
      id = idRightAfter(head.id);
      time = head.time;
    } else {
      id = t.id;
      time = now;
    }
    const event: AuditEvent = {
      id,
      type: "audit.checkpoint",
      time,
      data: data as unknown as Record<string, unknown>,
    };
    if (actor !== undefined) event.actor = actor;
    return event;
  }

  /** A checkpoint made earlier and sealed now never sorts before the head it follows. */
  placeAfterHead(event: AuditEvent): void {
    const head = this.#headEvent;
    if (!head || event.time > head.time) return;
    event.time = head.time;
    event.id = idRightAfter(head.id);
  }

  /** Records that a checkpoint now covers the head. */
  covered(): void {
    this.#sinceCheckpoint = 0;
  }
}
