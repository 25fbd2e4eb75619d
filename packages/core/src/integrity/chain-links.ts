import type { AuditEvent } from "../event.js";
import type { CheckpointClaims } from "./checkpoint-claims.js";
import { MerkleFrontier } from "./merkle.js";
import type { ChainProblem, ChainSummary, Findings } from "./verify-report.js";

/** One event's link as the chain rules need it. */
export interface Link {
  seq: number;
  prev: string;
  hash: string;
  eventId: string;
  time: string;
  /** The event's Merkle leaf hash (RFC 6962), pushed when the link is accepted in seq order. */
  leaf: Buffer;
}

/** What the chain rules know of one chain while reading it. */
export interface ChainState {
  id: string;
  count: number;
  bad: number;
  /** The first seq expected: 1, or one past a prune anchor. */
  start: number;
  next: number;
  lastHash: string;
  last: Link | undefined;
  maxSeq: number;
  maxSeqEventId: string;
  pending: Map<number, Link>;
  /** A second event for the last accepted seq; the next link tells which of the two is genuine. */
  rival: Link | undefined;
  linkErrors: number;
  mismatches: ChainProblem[];
  /**
   * The Merkle tree of the chain's events so far, in seq order; dropped once it cannot match the
   * writer's (the chain starts after a prune anchor, or a gap or an inserted event broke it).
   */
  tree: MerkleFrontier | undefined;
}

const PENDING_LIMIT = 10_000;

/**
 * The chain rules: each chain's seqs are taken in order from 1 (or one past its prune anchor),
 * however the store orders them, with `prev` checked against the previous hash (`broken-link`),
 * times that never go back (`reordered`), a seq held twice (`duplicate`), missing seqs (`gap`),
 * and the chain's RFC 6962 Merkle tree rebuilt link by link against every root a checkpoint claims
 * (`root-mismatch`). At the end, per chain: one `wrong-key` instead of a mismatch per event when
 * the key is wrong, and `unclosed` for a chain without a final checkpoint. Memory: a few links per
 * chain, plus at most 10,000 waiting links when a chain arrives out of order.
 */
export class ChainLinks {
  readonly #chains = new Map<string, ChainState>();
  readonly #claims: CheckpointClaims;
  readonly #findings: Findings;

  constructor(claims: CheckpointClaims, findings: Findings) {
    this.#claims = claims;
    this.#findings = findings;
  }

  /** The state of the chain `event` belongs to (its chain link must be valid). */
  stateOf(event: AuditEvent): ChainState {
    const id = event.chain!.id;
    let s = this.#chains.get(id);
    if (!s) {
      const anchor = this.#claims.factsOf(id).anchor;
      s = {
        id,
        count: 0,
        bad: 0,
        start: anchor ? anchor.seq + 1 : 1,
        next: anchor ? anchor.seq + 1 : 1,
        lastHash: anchor ? anchor.hash : "",
        last: undefined,
        maxSeq: 0,
        maxSeqEventId: "",
        pending: new Map(),
        rival: undefined,
        linkErrors: 0,
        mismatches: [],
        // A pruned head's leaves are gone: the roots of such a chain cannot be recomputed.
        tree: anchor ? undefined : new MerkleFrontier(),
      };
      this.#chains.set(id, s);
    }
    return s;
  }

  /** The highest seq stored of a chain, and its event. */
  last(chainId: string): { seq: number; eventId: string } | undefined {
    const s = this.#chains.get(chainId);
    return s ? { seq: s.maxSeq, eventId: s.maxSeqEventId } : undefined;
  }

  /** Takes one link of a chain, in whatever order the store gave it. */
  add(s: ChainState, l: Link): void {
    if (l.seq > s.maxSeq) {
      s.maxSeq = l.seq;
      s.maxSeqEventId = l.eventId;
    }
    if (l.seq === s.next) {
      this.#accept(s, l, false);
      this.#drain(s);
    } else if (l.seq < s.next) {
      if (l.seq === s.next - 1 && !s.rival && l.seq >= s.start) s.rival = l;
      else this.#duplicate(s, l);
    } else if (s.pending.has(l.seq)) {
      this.#duplicate(s, l);
    } else {
      s.pending.set(l.seq, l);
      if (s.pending.size > PENDING_LIMIT) this.#skipGap(s);
    }
  }

  /** Closes every chain: reports what is still missing, the key rule and the closing rule. */
  finish(ourKeyId: string | undefined, requireClosed: boolean): ChainSummary[] {
    const summaries: ChainSummary[] = [];
    for (const s of this.#chains.values()) {
      while (s.pending.size > 0) this.#skipGap(s);
      if (s.rival) this.#duplicate(s, s.rival);
      const f = this.#claims.factsOf(s.id);
      // Hashes that all fail while the links between them hold point at the key, not at edits.
      const keyMismatch =
        f.keyId !== undefined && f.keyId !== ourKeyId
          ? ourKeyId === undefined
            ? `chain ${s.id} is keyed (HMAC-SHA-256, key id ${f.keyId}); pass its key to verify it`
            : `chain ${s.id} was written with key id ${f.keyId}, not with the given key (key id ${ourKeyId})`
          : f.alg === "sha256" && ourKeyId !== undefined
            ? `chain ${s.id} is not keyed (plain SHA-256); verify it without a key`
            : s.bad === s.count && s.count >= 2 && s.linkErrors === 0
              ? `none of the ${s.count} hashes of chain ${s.id} verify while its links hold: it was written with a different key (or with / without one)`
              : undefined;
      if (keyMismatch && s.bad > 0)
        this.#findings.problem({ kind: "wrong-key", chainId: s.id, message: keyMismatch });
      else {
        for (const m of s.mismatches) this.#findings.problem(m);
        this.#findings.unlisted += s.bad - s.mismatches.length;
      }
      const closed = f.finalSeq !== undefined;
      if (!closed) {
        const p: ChainProblem = {
          kind: "unclosed",
          chainId: s.id,
          seq: s.maxSeq,
          eventId: s.maxSeqEventId,
          message: `chain ${s.id} has no final checkpoint after seq ${s.maxSeq} (event ${s.maxSeqEventId}): its auditor is still open, crashed, or the tail was cut off`,
        };
        if (requireClosed) this.#findings.problem(p);
        else this.#findings.warn(p);
      }
      const summary: ChainSummary = {
        id: s.id,
        events: s.count,
        firstSeq: s.start,
        lastSeq: s.maxSeq,
        closed,
      };
      if (f.alg) summary.alg = f.alg;
      summaries.push(summary);
    }
    return summaries;
  }

  #duplicate(s: ChainState, l: Link): void {
    this.#findings.problem({
      kind: "duplicate",
      chainId: s.id,
      seq: l.seq,
      eventId: l.eventId,
      message: `chain ${s.id} seq ${l.seq}: event ${l.eventId} claims a seq another event holds: an inserted event`,
    });
  }

  // Takes the event with seq === s.next. `afterGap` skips the link check after missing events.
  #accept(s: ChainState, l: Link, afterGap: boolean): void {
    if (afterGap) s.tree = undefined;
    if (!afterGap && l.prev !== s.lastHash) {
      if (s.rival && l.prev === s.rival.hash && s.last) {
        // The link points at the rival: the event accepted before it was the inserted one.
        this.#duplicate(s, s.last);
        s.rival = undefined;
        s.tree = undefined;
      } else {
        s.linkErrors++;
        this.#findings.problem({
          kind: "broken-link",
          chainId: s.id,
          seq: l.seq,
          eventId: l.eventId,
          message: `chain ${s.id} seq ${l.seq} (event ${l.eventId}): prev does not match the hash of ${s.last ? `seq ${s.last.seq} (event ${s.last.eventId})` : l.seq === 1 ? "nothing (the first event's prev must be empty)" : `the prune anchor at seq ${l.seq - 1}`}`,
        });
      }
    }
    if (s.rival) {
      this.#duplicate(s, s.rival);
      s.rival = undefined;
    }
    // A chain's times never go back. Within one millisecond the store's tie-break (the id) need not
    // follow the chain: a resolution's id is derived from its approval, not from its time.
    if (s.last && l.time < s.last.time) {
      this.#findings.problem({
        kind: "reordered",
        chainId: s.id,
        seq: l.seq,
        eventId: l.eventId,
        message: `chain ${s.id}: seq ${l.seq} (event ${l.eventId}) is stored before seq ${s.last.seq} (event ${s.last.eventId}); a time was changed`,
      });
    }
    if (s.tree) {
      s.tree.push(l.leaf);
      const claimed = this.#claims.rootsAt(s.id, l.seq);
      if (claimed) {
        const root = s.tree.root().toString("hex");
        for (const c of claimed) {
          if (c.root === root) continue;
          this.#findings.problem({
            kind: "root-mismatch",
            chainId: s.id,
            seq: l.seq,
            eventId: c.eventId,
            message: `${c.source} checkpoint ${c.eventId} names Merkle root ${c.root.slice(0, 16)}… for chain ${s.id} events 1..${l.seq}, but the stored events give ${root.slice(0, 16)}…`,
          });
        }
      }
    }
    s.next = l.seq + 1;
    s.lastHash = l.hash;
    s.last = l;
  }
  #drain(s: ChainState): void {
    for (let p = s.pending.get(s.next); p; p = s.pending.get(s.next)) {
      s.pending.delete(p.seq);
      this.#accept(s, p, false);
    }
  }
  // Reports the seqs missing before the smallest pending one and carries on from there.
  #skipGap(s: ChainState): void {
    let min = Number.POSITIVE_INFINITY;
    for (const k of s.pending.keys()) if (k < min) min = k;
    const p = s.pending.get(min)!;
    const range = min - 1 > s.next ? `${s.next}..${min - 1}` : `${s.next}`;
    const where = s.last
      ? `after seq ${s.last.seq} (event ${s.last.eventId})`
      : s.next === 1
        ? "at the start of the chain, with no prune checkpoint anchoring it (deleted head)"
        : `after the prune anchor at seq ${s.next - 1}`;
    this.#findings.problem({
      kind: "gap",
      chainId: s.id,
      seq: s.next,
      eventId: p.eventId,
      message: `chain ${s.id}: seq ${range} missing (deleted) before seq ${min} (event ${p.eventId}), ${where}`,
    });
    s.pending.delete(min);
    this.#accept(s, p, true);
    this.#drain(s);
  }
}
