import type { KeyObject } from "node:crypto";
import type { AuditEvent } from "../event.js";
import { type CheckpointData, checkpointSignatureValid } from "../integrity.js";
import type { Findings } from "./verify-report.js";

/** Where a checkpoint was read: the store itself, or a witness's copy. */
export type ClaimSource = "witness" | "store";

/** A checkpoint's claim that chain `chainId` reached `seq` with head `hash`. */
export interface Claim {
  chainId: string;
  seq: number;
  hash: string;
  eventId: string;
  source: ClaimSource;
}

/** A checkpoint's claim of the Merkle root of its chain's events 1..seq. */
export interface RootClaim {
  root: string;
  eventId: string;
  source: ClaimSource;
}

/** What the stored checkpoints say of one chain. */
export interface ChainFacts {
  alg?: "sha256" | "hmac-sha256";
  keyId?: string;
  finalSeq?: number;
  anchor?: { seq: number; hash: string };
}

/**
 * The checkpoint rules, first pass: every checkpoint (stored or witnessed) has a valid signature
 * when a public key is given (`bad-signature`, `unsigned-checkpoint`), and what each claims — head
 * hashes, Merkle roots, final seqs, prune anchors — is kept for the chain pass to compare with.
 * Memory grows with the number of checkpoints, not of events.
 */
export class CheckpointClaims {
  /** Every head claim read (prune anchors excepted). */
  readonly claims: Claim[] = [];
  readonly #facts = new Map<string, ChainFacts>();
  readonly #witnessBySeq = new Map<string, Claim>();
  readonly #roots = new Map<string, RootClaim[]>();
  readonly #publicKey: KeyObject | undefined;
  readonly #findings: Findings;
  #signaturesUnchecked = false;
  /** True once a prune anchor was seen: the trail's head was pruned. */
  pruned = false;

  constructor(publicKey: KeyObject | undefined, findings: Findings) {
    this.#publicKey = publicKey;
    this.#findings = findings;
  }

  /** What the stored checkpoints say of chain `id` (empty when nothing). */
  factsOf(id: string): ChainFacts {
    return this.#facts.get(id) ?? {};
  }

  /** The witness's claim for this link, if it has one. */
  witnessed(chainId: string, seq: number): Claim | undefined {
    return this.#witnessBySeq.get(`${chainId}:${seq}`);
  }

  /** The Merkle roots claimed for chain `chainId`'s events 1..seq. */
  rootsAt(chainId: string, seq: number): RootClaim[] | undefined {
    return this.#roots.get(`${chainId}:${seq}`);
  }

  /** Reads one checkpoint event (others are ignored). */
  read(e: AuditEvent, source: ClaimSource): void {
    if (e.type !== "audit.checkpoint") return;
    const d = e.data as unknown as CheckpointData;
    const signed = d.note !== undefined || d.signature !== undefined;
    if (this.#publicKey) {
      if (!signed) {
        this.#findings.problem({
          kind: "unsigned-checkpoint",
          chainId: e.chain?.id ?? d.chainId,
          seq: e.chain?.seq,
          eventId: e.id,
          message: `${source} checkpoint ${e.id} is not signed`,
        });
      } else if (!checkpointSignatureValid(d, this.#publicKey)) {
        this.#findings.problem({
          kind: "bad-signature",
          chainId: e.chain?.id ?? d.chainId,
          seq: e.chain?.seq,
          eventId: e.id,
          message: `${source} checkpoint ${e.id} has a signature that does not verify with the public key`,
        });
      }
    } else if (signed) {
      this.#signaturesUnchecked = true;
    }
    if (d.reason === "prune") {
      this.pruned = true;
      const f = this.#mutableFacts(d.chainId);
      if (!f.anchor || d.seq > f.anchor.seq) f.anchor = { seq: d.seq, hash: d.hash };
      return;
    }
    const claim: Claim = { chainId: d.chainId, seq: d.seq, hash: d.hash, eventId: e.id, source };
    this.claims.push(claim);
    if (typeof d.root === "string") {
      const key = `${d.chainId}:${d.seq}`;
      const list = this.#roots.get(key) ?? [];
      list.push({ root: d.root, eventId: e.id, source });
      this.#roots.set(key, list);
    }
    if (source === "witness") this.#witnessBySeq.set(`${d.chainId}:${d.seq}`, claim);
    if (source === "store" && e.chain && d.chainId === e.chain.id) {
      const f = this.#mutableFacts(e.chain.id);
      if (d.alg) f.alg = d.alg;
      if (d.keyId !== undefined) f.keyId = d.keyId;
      if (d.final) f.finalSeq = e.chain.seq;
    }
  }

  /** Warns once when signatures exist but no public key was given to check them. */
  finishReading(): void {
    if (this.#signaturesUnchecked) {
      this.#findings.warnings.push({
        kind: "unsigned-checkpoint",
        message:
          "checkpoints are signed but no public key was given, so signatures were not checked",
      });
    }
  }

  /**
   * The truncation rule, last: every claim beyond what the store holds of its chain is a cut-off
   * tail (`truncated`). `lastSeq` gives a chain's highest stored seq and its event.
   */
  checkTruncation(lastSeq: (chainId: string) => { seq: number; eventId: string } | undefined) {
    for (const c of this.claims) {
      if ((this.#facts.get(c.chainId)?.anchor?.seq ?? 0) >= c.seq) continue;
      const last = lastSeq(c.chainId);
      if (!last) {
        this.#findings.problem({
          kind: "truncated",
          chainId: c.chainId,
          seq: c.seq,
          eventId: c.eventId,
          message: `${c.source} checkpoint ${c.eventId} names chain ${c.chainId} up to seq ${c.seq}, but the store holds none of that chain`,
        });
      } else if (c.seq > last.seq) {
        this.#findings.problem({
          kind: "truncated",
          chainId: c.chainId,
          seq: c.seq,
          eventId: c.eventId,
          message: `${c.source} checkpoint ${c.eventId} names chain ${c.chainId} up to seq ${c.seq}, but the store ends at seq ${last.seq} (event ${last.eventId}): the tail was cut off`,
        });
      }
    }
  }

  #mutableFacts(id: string): ChainFacts {
    let f = this.#facts.get(id);
    if (!f) {
      f = {};
      this.#facts.set(id, f);
    }
    return f;
  }
}
