import type { KeyObject } from "node:crypto";
import type { AuditEvent } from "./event.js";
import { uuidFromName } from "./ids.js";
import {
  type CheckpointData,
  checkpointSignatureValid,
  hashEvent,
  keyIdOf,
  toPublicKey,
} from "./integrity.js";
import type { AuditStore } from "./store.js";

/** What kind of problem `verifyChain` found. */
export type ChainProblemKind =
  /** The event's content does not match its hash: it was modified. */
  | "hash-mismatch"
  /** The event's `prev` is not the hash of the event before it. */
  | "broken-link"
  /** Events are missing from the chain: deleted. */
  | "gap"
  /** A second event claims a seq already taken: an inserted event. */
  | "duplicate"
  /** The event is stored out of chain order (its time was changed). */
  | "reordered"
  /** A checkpoint names a seq the store no longer reaches: the tail was cut off. */
  | "truncated"
  /** A checkpoint disagrees with the event it names. */
  | "checkpoint-mismatch"
  /** A checkpoint signature does not verify with the public key. */
  | "bad-signature"
  /** A public key was given but a checkpoint is not signed. */
  | "unsigned-checkpoint"
  /** The chain was written with another key (or with / without one). */
  | "wrong-key"
  /** Events were added after the chain's final checkpoint. */
  | "after-final"
  /** An event carries no chain at all. */
  | "unchained"
  /** The chain has no final checkpoint (still open, crashed, or its tail was cut). */
  | "unclosed";

/** One finding of `verifyChain`, naming the chain, the seq and the event. */
export interface ChainProblem {
  kind: ChainProblemKind;
  chainId?: string;
  seq?: number;
  eventId?: string;
  message: string;
}

/** A chain as `verifyChain` saw it. */
export interface ChainSummary {
  id: string;
  /** Events of the chain found in the store. */
  events: number;
  firstSeq: number;
  lastSeq: number;
  /** True when the chain ends with a final checkpoint (its auditor was closed). */
  closed: boolean;
  alg?: "sha256" | "hmac-sha256";
}

/** The result of `verifyChain`. */
export interface VerifyReport {
  /** True when there is no problem (warnings do not count). */
  ok: boolean;
  /** Events read. */
  events: number;
  chains: ChainSummary[];
  /** Evidence of tampering or damage, each with chain id, seq and event id where known. */
  problems: ChainProblem[];
  /** Things to know that are not evidence by themselves (open chains, unchecked signatures). */
  warnings: ChainProblem[];
  /** Problems found beyond `maxProblems`, counted but not listed. */
  unlisted: number;
}

/** Options of `verifyChain`. */
export interface VerifyOptions {
  /** The HMAC key the chains were written with. */
  key?: string | Uint8Array;
  /** Ed25519 public key (PEM or KeyObject) to check checkpoint signatures. */
  publicKey?: string | KeyObject;
  /** Checkpoints kept by a witness (events of type `audit.checkpoint`, e.g. read from its store). */
  witness?: Iterable<AuditEvent> | AsyncIterable<AuditEvent>;
  /** Report chains without a final checkpoint as problems rather than warnings. @default false */
  requireClosed?: boolean;
  /** The most problems listed; the rest are counted in `unlisted`. @default 1000 */
  maxProblems?: number;
}

interface Claim {
  chainId: string;
  seq: number;
  hash: string;
  eventId: string;
  source: "witness" | "store";
  prune: boolean;
}

interface ChainState {
  id: string;
  count: number;
  bad: number;
  firstSeq: number;
  firstPrev: string;
  firstEventId: string;
  next: number;
  lastHash: string;
  lastEventId: string;
  maxSeq: number;
  maxSeqEventId: string;
  pending: Map<number, { prev: string; hash: string; eventId: string }>;
  linkErrors: number;
  mismatches: ChainProblem[];
  finalSeq?: number;
  alg?: "sha256" | "hmac-sha256";
  keyId?: string;
  standalone: boolean;
}

const PENDING_LIMIT = 10_000;

/**
 * Verifies every hash chain in a store, streaming it once. It recomputes each event's hash, follows
 * `prev` links and `seq` numbers, checks checkpoints (and their signatures with `publicKey`), and
 * compares the store with checkpoints a witness kept. Every problem names the chain, the seq and the
 * event id. Chains that start after seq 1 verify when a prune checkpoint anchors their first event.
 */
export async function verifyChain(store: AuditStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const maxProblems = options.maxProblems ?? 1000;
  const publicKey = options.publicKey === undefined ? undefined : toPublicKey(options.publicKey);
  const ourKeyId = options.key === undefined ? undefined : keyIdOf(options.key);
  const problems: ChainProblem[] = [];
  const warnings: ChainProblem[] = [];
  let unlisted = 0;
  const problem = (p: ChainProblem) => {
    if (problems.length < maxProblems) problems.push(p);
    else unlisted++;
  };
  let unsignedWarned = false;

  const chains = new Map<string, ChainState>();
  const claims: Claim[] = [];
  // Witness claims are known up front, so the hash of each claimed seq is compared as it streams by.
  const witnessBySeq = new Map<string, Claim>();
  if (options.witness) {
    for await (const e of options.witness as AsyncIterable<AuditEvent>) {
      if (e.type !== "audit.checkpoint") continue;
      const d = e.data as unknown as CheckpointData;
      checkSignature(e, d, "witness");
      const claim: Claim = { chainId: d.chainId, seq: d.seq, hash: d.hash, eventId: e.id, source: "witness", prune: d.reason === "prune" };
      claims.push(claim);
      witnessBySeq.set(`${d.chainId}:${d.seq}`, claim);
    }
  }

  function checkSignature(e: AuditEvent, d: CheckpointData, where: string): void {
    if (publicKey) {
      if (d.signature === undefined) {
        problem({ kind: "unsigned-checkpoint", chainId: e.chain?.id ?? d.chainId, seq: e.chain?.seq, eventId: e.id, message: `${where} checkpoint ${e.id} is not signed` });
      } else if (!checkpointSignatureValid(d, publicKey)) {
        problem({ kind: "bad-signature", chainId: e.chain?.id ?? d.chainId, seq: e.chain?.seq, eventId: e.id, message: `${where} checkpoint ${e.id} has a signature that does not verify with the public key` });
      }
    } else if (d.signature !== undefined && !unsignedWarned) {
      unsignedWarned = true;
      warnings.push({ kind: "unsigned-checkpoint", message: "checkpoints are signed but no public key was given, so signatures were not checked" });
    }
  }

  function stateOf(e: AuditEvent): ChainState {
    const link = e.chain!;
    let s = chains.get(link.id);
    if (!s) {
      s = {
        id: link.id,
        count: 0,
        bad: 0,
        firstSeq: link.seq,
        firstPrev: link.prev,
        firstEventId: e.id,
        next: link.seq,
        lastHash: link.prev,
        lastEventId: "",
        maxSeq: 0,
        maxSeqEventId: "",
        pending: new Map(),
        linkErrors: 0,
        mismatches: [],
        standalone: link.id === uuidFromName(`audit:standalone-chain:${e.id}`),
      };
      chains.set(link.id, s);
    }
    return s;
  }

  // Accepts the event with seq === s.next; `afterGap` skips the link check after missing events.
  function advance(s: ChainState, seq: number, prev: string, hash: string, eventId: string, afterGap: boolean): void {
    if (!afterGap && seq !== s.firstSeq && prev !== s.lastHash) {
      s.linkErrors++;
      problem({ kind: "broken-link", chainId: s.id, seq, eventId, message: `chain ${s.id} seq ${seq} (event ${eventId}): prev does not match the hash of seq ${seq - 1}${s.lastEventId ? ` (event ${s.lastEventId})` : ""}` });
    }
    s.next = seq + 1;
    s.lastHash = hash;
    s.lastEventId = eventId;
  }

  function drain(s: ChainState): void {
    for (let p = s.pending.get(s.next); p; p = s.pending.get(s.next)) {
      s.pending.delete(s.next);
      advance(s, s.next, p.prev, p.hash, p.eventId, false);
    }
  }

  // Reports missing seqs before the smallest pending one and carries on from there.
  function skipGap(s: ChainState): void {
    const min = Math.min(...s.pending.keys());
    const p = s.pending.get(min)!;
    problem({ kind: "gap", chainId: s.id, seq: s.next, eventId: p.eventId, message: `chain ${s.id}: seq ${s.next}${min - 1 > s.next ? `..${min - 1}` : ""} missing (deleted) before seq ${min} (event ${p.eventId})${s.lastEventId ? `, after event ${s.lastEventId}` : ""}` });
    s.pending.delete(min);
    advance(s, min, p.prev, p.hash, p.eventId, true);
    drain(s);
  }

  let events = 0;
  for await (const e of store.stream()) {
    events++;
    const link = e.chain;
    if (!link || typeof link.id !== "string" || !Number.isInteger(link.seq) || typeof link.hash !== "string") {
      problem({ kind: "unchained", eventId: e.id, message: `event ${e.id} (${e.type}, ${e.time}) carries no valid chain link` });
      continue;
    }
    const s = stateOf(e);
    s.count++;
    const witnessed = witnessBySeq.get(`${link.id}:${link.seq}`);
    if (witnessed && witnessed.hash !== link.hash) {
      problem({ kind: "checkpoint-mismatch", chainId: link.id, seq: link.seq, eventId: e.id, message: `witness checkpoint ${witnessed.eventId} names hash ${witnessed.hash.slice(0, 16)}… for chain ${link.id} seq ${link.seq}, but event ${e.id} has ${link.hash.slice(0, 16)}…` });
    }
    if (hashEvent(e, options.key) !== link.hash) {
      s.bad++;
      s.mismatches.push({ kind: "hash-mismatch", chainId: link.id, seq: link.seq, eventId: e.id, message: `chain ${link.id} seq ${link.seq}: event ${e.id} (${e.type}) does not match its hash: its content was modified` });
    }
    if (link.seq > s.maxSeq) {
      s.maxSeq = link.seq;
      s.maxSeqEventId = e.id;
    }
    if (s.finalSeq !== undefined && link.seq > s.finalSeq) {
      problem({ kind: "after-final", chainId: link.id, seq: link.seq, eventId: e.id, message: `chain ${link.id} seq ${link.seq}: event ${e.id} comes after the chain's final checkpoint (seq ${s.finalSeq})` });
    }
    if (link.seq === s.next) {
      if (s.pending.size > 0) {
        problem({ kind: "reordered", chainId: link.id, seq: link.seq, eventId: e.id, message: `chain ${link.id} seq ${link.seq}: event ${e.id} is stored after later events of its chain (seq ${Math.min(...s.pending.keys())}); its time was changed` });
      }
      advance(s, link.seq, link.prev, link.hash, e.id, false);
      drain(s);
    } else if (link.seq < s.next) {
      if (link.seq < s.firstSeq) {
        problem({ kind: "reordered", chainId: link.id, seq: link.seq, eventId: e.id, message: `chain ${link.id} seq ${link.seq}: event ${e.id} is stored after seq ${s.firstSeq} (event ${s.firstEventId}); its time was changed` });
      } else {
        problem({ kind: "duplicate", chainId: link.id, seq: link.seq, eventId: e.id, message: `chain ${link.id} seq ${link.seq}: event ${e.id} claims a seq another event already holds: an inserted event` });
      }
    } else {
      if (s.pending.has(link.seq)) {
        problem({ kind: "duplicate", chainId: link.id, seq: link.seq, eventId: e.id, message: `chain ${link.id} seq ${link.seq}: event ${e.id} claims a seq another event already holds: an inserted event` });
      } else {
        s.pending.set(link.seq, { prev: link.prev, hash: link.hash, eventId: e.id });
        if (s.pending.size > PENDING_LIMIT) skipGap(s);
      }
    }
    if (e.type === "audit.checkpoint") {
      const d = e.data as unknown as CheckpointData;
      checkSignature(e, d, "stored");
      s.alg = d.alg ?? s.alg;
      if (d.keyId !== undefined) s.keyId = d.keyId;
      const prune = d.reason === "prune";
      claims.push({ chainId: d.chainId, seq: d.seq, hash: d.hash, eventId: e.id, source: "store", prune });
      if (!prune && d.chainId === link.id) {
        if (d.seq !== link.seq - 1 || d.hash !== link.prev) {
          problem({ kind: "checkpoint-mismatch", chainId: link.id, seq: link.seq, eventId: e.id, message: `chain ${link.id} seq ${link.seq}: checkpoint ${e.id} names seq ${d.seq} but follows seq ${link.seq - 1}` });
        }
        if (d.final) s.finalSeq = link.seq;
      }
    }
  }

  // Out-of-order arrivals that were filled in later mean the store order disagrees with the chain.
  for (const s of chains.values()) {
    while (s.pending.size > 0) {
      const min = Math.min(...s.pending.keys());
      if (min === s.next) drain(s);
      else skipGap(s);
    }
  }

  const anchors = new Set(claims.filter((c) => c.prune).map((c) => `${c.chainId}:${c.seq}:${c.hash}`));
  const prunedThrough = new Map<string, number>();
  for (const c of claims) if (c.prune) prunedThrough.set(c.chainId, Math.max(prunedThrough.get(c.chainId) ?? 0, c.seq));

  const summaries: ChainSummary[] = [];
  for (const s of chains.values()) {
    // Hashes that all fail while the links between them hold point at the key, not at edits.
    const keyMismatch =
      s.keyId !== undefined && s.keyId !== ourKeyId
        ? ourKeyId === undefined
          ? `chain ${s.id} is keyed (HMAC-SHA-256, key id ${s.keyId}); pass its key to verify it`
          : `chain ${s.id} was written with key id ${s.keyId}, not with the given key (key id ${ourKeyId})`
        : s.alg === "sha256" && ourKeyId !== undefined
          ? `chain ${s.id} is not keyed (plain SHA-256); verify it without a key`
          : s.bad === s.count && s.count >= 2 && s.linkErrors === 0
            ? `none of the ${s.count} hashes of chain ${s.id} verify while its links hold: it was written with a different key (or with / without one)`
            : undefined;
    if (keyMismatch && s.bad > 0) {
      problem({ kind: "wrong-key", chainId: s.id, message: keyMismatch });
    } else {
      for (const m of s.mismatches) problem(m);
    }
    if (s.firstSeq > 1 && !anchors.has(`${s.id}:${s.firstSeq - 1}:${s.firstPrev}`)) {
      problem({ kind: "gap", chainId: s.id, seq: 1, eventId: s.firstEventId, message: `chain ${s.id}: seq 1..${s.firstSeq - 1} missing before event ${s.firstEventId}, and no prune checkpoint anchors the chain (deleted head)` });
    } else if (s.firstSeq === 1 && s.firstPrev !== "") {
      problem({ kind: "broken-link", chainId: s.id, seq: 1, eventId: s.firstEventId, message: `chain ${s.id} seq 1 (event ${s.firstEventId}) has a non-empty prev` });
    }
    const closed = s.standalone || s.finalSeq !== undefined;
    if (!closed) {
      const p: ChainProblem = { kind: "unclosed", chainId: s.id, seq: s.maxSeq, eventId: s.maxSeqEventId, message: `chain ${s.id} has no final checkpoint after seq ${s.maxSeq} (event ${s.maxSeqEventId}): its auditor is still open, crashed, or the tail was cut off` };
      if (options.requireClosed) problem(p);
      else warnings.push(p);
    }
    const summary: ChainSummary = { id: s.id, events: s.count, firstSeq: s.firstSeq, lastSeq: s.maxSeq, closed };
    if (s.alg) summary.alg = s.alg;
    summaries.push(summary);
  }

  for (const c of claims) {
    if (c.prune) continue;
    const s = chains.get(c.chainId);
    if ((prunedThrough.get(c.chainId) ?? 0) >= c.seq) continue;
    if (!s) {
      problem({ kind: "truncated", chainId: c.chainId, seq: c.seq, eventId: c.eventId, message: `${c.source} checkpoint ${c.eventId} names chain ${c.chainId} up to seq ${c.seq}, but the store holds none of that chain` });
    } else if (c.seq > s.maxSeq) {
      problem({ kind: "truncated", chainId: c.chainId, seq: c.seq, eventId: c.eventId, message: `${c.source} checkpoint ${c.eventId} names chain ${c.chainId} up to seq ${c.seq}, but the store ends at seq ${s.maxSeq} (event ${s.maxSeqEventId}): the tail was cut off` });
    }
  }

  return { ok: problems.length === 0 && unlisted === 0, events, chains: summaries, problems, warnings, unlisted };
}
