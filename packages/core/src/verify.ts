import { createHash, createHmac, type KeyObject } from "node:crypto";
import type { AuditEvent } from "./event.js";
import { ApprovalBinding } from "./integrity/approval-binding.js";
import { leafHash, MerkleFrontier } from "./integrity/merkle.js";
import { readStoredRow } from "./integrity/stored-rows.js";
import {
  type CheckpointData,
  chainInput,
  checkpointSignatureValid,
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
  | "unclosed"
  /**
   * An `approval.resolve` that is not bound to its request: not stored under the approval's
   * resolution id, no request in the store, dated (or chained) before its request, or a second
   * resolution of one approval. Named to the resolution.
   */
  | "unbound-resolution"
  /**
   * A checkpoint's Merkle `root` differs from the RFC 6962 root of its chain's events 1..seq as
   * stored. Named to the checkpoint. (Not checked for chains whose head was pruned.)
   */
  | "root-mismatch"
  /** An indexed column (type, risk, time, actor, session, run, ids…) differs from the body. */
  | "column-mismatch"
  /**
   * The stored text is not strict JSON: a duplicate key, a number beyond a double's range
   * (`1e400`), a lone surrogate, or bytes that are not valid UTF-8.
   */
  | "non-strict-json"
  /**
   * The store returns this event before one that sorts before it in `(time, id)` order: rows or
   * lines were swapped or moved, so readers see an order the chain does not have.
   */
  | "store-order"
  /** A stored row is not readable as an event (not JSON, or not an event): e.g. a torn line. */
  | "unreadable";

/** One finding of `verifyChain`, naming the chain, the seq and the event. */
export interface ChainProblem {
  kind: ChainProblemKind;
  chainId?: string;
  seq?: number;
  eventId?: string;
  /** Where the row is in the store (`"row 17"`, a file and line), for findings about stored rows. */
  location?: string;
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
}

interface RootClaim {
  root: string;
  eventId: string;
  source: "witness" | "store";
}

interface Link {
  seq: number;
  prev: string;
  hash: string;
  eventId: string;
  time: string;
  /** The event's Merkle leaf hash (RFC 6962), pushed when the link is accepted in seq order. */
  leaf: Buffer;
}

interface ChainState {
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

interface ChainFacts {
  alg?: "sha256" | "hmac-sha256";
  keyId?: string;
  finalSeq?: number;
  anchor?: { seq: number; hash: string };
}

const PENDING_LIMIT = 10_000;

/**
 * Verifies every hash chain in a store. It reads the checkpoints and approval requests first (the
 * stored ones and a witness's checkpoints), then reads the trail once: through the store's
 * `storedRows` when it has one (checking that stored text is strict JSON and that every indexed
 * column equals the body), through `stream` otherwise. For each event it checks the store's order,
 * recomputes its hash and its chain's Merkle root, follows `prev` links and `seq` numbers, binds
 * each approval resolution to its request, and compares the store with what the checkpoints
 * claim. Every problem names the rule (`kind`), the chain, the seq and the event id. A chain whose
 * older events were pruned verifies from its prune anchor. Memory is bounded by the number of
 * chains, checkpoints and approvals, not of events.
 */
export async function verifyChain(
  store: AuditStore,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const maxProblems = options.maxProblems ?? 1000;
  const publicKey = options.publicKey === undefined ? undefined : toPublicKey(options.publicKey);
  const ourKeyId = options.key === undefined ? undefined : keyIdOf(options.key);
  const keyBytes =
    options.key === undefined
      ? undefined
      : typeof options.key === "string"
        ? Buffer.from(options.key, "utf8")
        : Buffer.from(options.key);
  const problems: ChainProblem[] = [];
  const warnings: ChainProblem[] = [];
  let unlisted = 0;
  const problem = (p: ChainProblem) => {
    if (problems.length < maxProblems) problems.push(p);
    else unlisted++;
  };
  const warn = (p: ChainProblem) => {
    if (warnings.length < maxProblems) warnings.push(p);
  };

  // Pass 1: what the checkpoints claim, and which approvals were requested.
  const facts = new Map<string, ChainFacts>();
  const factsOf = (id: string) => {
    let f = facts.get(id);
    if (!f) {
      f = {};
      facts.set(id, f);
    }
    return f;
  };
  const claims: Claim[] = [];
  const witnessBySeq = new Map<string, Claim>();
  const rootClaims = new Map<string, RootClaim[]>();
  const approvals = new ApprovalBinding();
  let signaturesUnchecked = false;
  const readCheckpoint = (e: AuditEvent, source: "witness" | "store") => {
    if (e.type !== "audit.checkpoint") return;
    const d = e.data as unknown as CheckpointData;
    const signed = d.note !== undefined || d.signature !== undefined;
    if (publicKey) {
      if (!signed) {
        problem({
          kind: "unsigned-checkpoint",
          chainId: e.chain?.id ?? d.chainId,
          seq: e.chain?.seq,
          eventId: e.id,
          message: `${source} checkpoint ${e.id} is not signed`,
        });
      } else if (!checkpointSignatureValid(d, publicKey)) {
        problem({
          kind: "bad-signature",
          chainId: e.chain?.id ?? d.chainId,
          seq: e.chain?.seq,
          eventId: e.id,
          message: `${source} checkpoint ${e.id} has a signature that does not verify with the public key`,
        });
      }
    } else if (signed) {
      signaturesUnchecked = true;
    }
    if (d.reason === "prune") {
      approvals.pruned();
      const f = factsOf(d.chainId);
      if (!f.anchor || d.seq > f.anchor.seq) f.anchor = { seq: d.seq, hash: d.hash };
      return;
    }
    const claim: Claim = { chainId: d.chainId, seq: d.seq, hash: d.hash, eventId: e.id, source };
    claims.push(claim);
    if (typeof d.root === "string") {
      const key = `${d.chainId}:${d.seq}`;
      const list = rootClaims.get(key) ?? [];
      list.push({ root: d.root, eventId: e.id, source });
      rootClaims.set(key, list);
    }
    if (source === "witness") witnessBySeq.set(`${d.chainId}:${d.seq}`, claim);
    if (source === "store" && e.chain && d.chainId === e.chain.id) {
      const f = factsOf(e.chain.id);
      if (d.alg) f.alg = d.alg;
      if (d.keyId !== undefined) f.keyId = d.keyId;
      if (d.final) f.finalSeq = e.chain.seq;
    }
  };
  if (options.witness) {
    for await (const e of options.witness as AsyncIterable<AuditEvent>)
      readCheckpoint(e, "witness");
  }
  for await (const e of store.stream({ type: ["audit.checkpoint", "approval.request"] })) {
    if (e.type === "approval.request") approvals.request(e);
    else readCheckpoint(e, "store");
  }
  if (signaturesUnchecked) {
    warnings.push({
      kind: "unsigned-checkpoint",
      message: "checkpoints are signed but no public key was given, so signatures were not checked",
    });
  }

  // Pass 2: every event, in the store's order.
  const chains = new Map<string, ChainState>();
  const stateOf = (e: AuditEvent): ChainState => {
    const id = e.chain!.id;
    let s = chains.get(id);
    if (!s) {
      const anchor = facts.get(id)?.anchor;
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
      chains.set(id, s);
    }
    return s;
  };

  const duplicate = (s: ChainState, l: Link) =>
    problem({
      kind: "duplicate",
      chainId: s.id,
      seq: l.seq,
      eventId: l.eventId,
      message: `chain ${s.id} seq ${l.seq}: event ${l.eventId} claims a seq another event holds: an inserted event`,
    });

  // Takes the event with seq === s.next. `afterGap` skips the link check after missing events.
  const accept = (s: ChainState, l: Link, afterGap: boolean) => {
    if (afterGap) s.tree = undefined;
    if (!afterGap && l.prev !== s.lastHash) {
      if (s.rival && l.prev === s.rival.hash && s.last) {
        // The link points at the rival: the event accepted before it was the inserted one.
        duplicate(s, s.last);
        s.rival = undefined;
        s.tree = undefined;
      } else {
        s.linkErrors++;
        problem({
          kind: "broken-link",
          chainId: s.id,
          seq: l.seq,
          eventId: l.eventId,
          message: `chain ${s.id} seq ${l.seq} (event ${l.eventId}): prev does not match the hash of ${s.last ? `seq ${s.last.seq} (event ${s.last.eventId})` : l.seq === 1 ? "nothing (the first event's prev must be empty)" : `the prune anchor at seq ${l.seq - 1}`}`,
        });
      }
    }
    if (s.rival) {
      duplicate(s, s.rival);
      s.rival = undefined;
    }
    // A chain's times never go back. Within one millisecond the store's tie-break (the id) need not
    // follow the chain: a resolution's id is derived from its approval, not from its time.
    if (s.last && l.time < s.last.time) {
      problem({
        kind: "reordered",
        chainId: s.id,
        seq: l.seq,
        eventId: l.eventId,
        message: `chain ${s.id}: seq ${l.seq} (event ${l.eventId}) is stored before seq ${s.last.seq} (event ${s.last.eventId}); a time was changed`,
      });
    }
    if (s.tree) {
      s.tree.push(l.leaf);
      const claimed = rootClaims.get(`${s.id}:${l.seq}`);
      if (claimed) {
        const root = s.tree.root().toString("hex");
        for (const c of claimed) {
          if (c.root === root) continue;
          problem({
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
  };
  const drain = (s: ChainState) => {
    for (let p = s.pending.get(s.next); p; p = s.pending.get(s.next)) {
      s.pending.delete(p.seq);
      accept(s, p, false);
    }
  };
  // Reports the seqs missing before the smallest pending one and carries on from there.
  const skipGap = (s: ChainState) => {
    let min = Number.POSITIVE_INFINITY;
    for (const k of s.pending.keys()) if (k < min) min = k;
    const p = s.pending.get(min)!;
    const range = min - 1 > s.next ? `${s.next}..${min - 1}` : `${s.next}`;
    const where = s.last
      ? `after seq ${s.last.seq} (event ${s.last.eventId})`
      : s.next === 1
        ? "at the start of the chain, with no prune checkpoint anchoring it (deleted head)"
        : `after the prune anchor at seq ${s.next - 1}`;
    problem({
      kind: "gap",
      chainId: s.id,
      seq: s.next,
      eventId: p.eventId,
      message: `chain ${s.id}: seq ${range} missing (deleted) before seq ${min} (event ${p.eventId}), ${where}`,
    });
    s.pending.delete(min);
    accept(s, p, true);
    drain(s);
  };

  // One event as read from the store, in the store's order.
  let events = 0;
  let previous: AuditEvent | undefined;
  let previousLocation: string | undefined;
  const check = (e: AuditEvent, location: string | undefined) => {
    if (previous) {
      if (
        e.id === previous.id &&
        e.chain?.hash === previous.chain?.hash &&
        chainInput(e) === chainInput(previous)
      ) {
        // The same event stored twice side by side (a retried write): readers see it once.
        return;
      }
      if (outOfOrder(previous, e)) {
        problem({
          kind: "store-order",
          chainId: e.chain?.id,
          seq: e.chain?.seq,
          eventId: e.id,
          ...(location !== undefined && { location }),
          message: `event ${e.id} (${e.time}) is stored after event ${previous.id} (${previous.time})${previousLocation ? ` at ${previousLocation}` : ""} but sorts before it: stored rows were swapped or moved`,
        });
      }
    }
    previous = e;
    previousLocation = location;
    events++;
    if (e.type === "approval.resolve") {
      const unbound = approvals.check(e);
      if (unbound) {
        const finding: ChainProblem = {
          kind: "unbound-resolution",
          chainId: e.chain?.id,
          seq: e.chain?.seq,
          eventId: e.id,
          message: `resolution ${e.id} of approval ${String(e.data.approvalId)} is not bound to its request: ${unbound.reason}`,
        };
        if (unbound.maybePruned) {
          finding.message += " (the trail was pruned: the request may have been pruned with it)";
          warn(finding);
        } else problem(finding);
      }
    }
    const c = e.chain;
    if (
      !c ||
      typeof c.id !== "string" ||
      !Number.isInteger(c.seq) ||
      c.seq < 1 ||
      typeof c.hash !== "string" ||
      typeof c.prev !== "string"
    ) {
      problem({
        kind: "unchained",
        eventId: e.id,
        message: `event ${e.id} (${e.type}, ${e.time}) carries no valid chain link`,
      });
      return;
    }
    const s = stateOf(e);
    s.count++;
    const input = chainInput(e);
    const l: Link = {
      seq: c.seq,
      prev: c.prev,
      hash: c.hash,
      eventId: e.id,
      time: e.time,
      leaf: leafHash(input),
    };
    const hash = (keyBytes === undefined ? createHash("sha256") : createHmac("sha256", keyBytes))
      .update(input, "utf8")
      .digest("hex");
    if (hash !== c.hash) {
      s.bad++;
      // Bounded: a chain checked with the wrong key mismatches everywhere, and is reported once.
      if (s.mismatches.length < maxProblems) {
        s.mismatches.push({
          kind: "hash-mismatch",
          chainId: c.id,
          seq: c.seq,
          eventId: e.id,
          message: `chain ${c.id} seq ${c.seq}: event ${e.id} (${e.type}) does not match its hash: its content was modified`,
        });
      }
    }
    const witnessed = witnessBySeq.get(`${c.id}:${c.seq}`);
    if (witnessed && witnessed.hash !== c.hash) {
      problem({
        kind: "checkpoint-mismatch",
        chainId: c.id,
        seq: c.seq,
        eventId: e.id,
        message: `witness checkpoint ${witnessed.eventId} names hash ${witnessed.hash.slice(0, 16)}… for chain ${c.id} seq ${c.seq}, but event ${e.id} has ${c.hash.slice(0, 16)}…`,
      });
    }
    if (e.type === "audit.checkpoint") {
      const d = e.data as unknown as CheckpointData;
      if (
        d.reason !== "prune" &&
        d.chainId === c.id &&
        (d.seq !== c.seq - 1 || d.hash !== c.prev)
      ) {
        problem({
          kind: "checkpoint-mismatch",
          chainId: c.id,
          seq: c.seq,
          eventId: e.id,
          message: `chain ${c.id} seq ${c.seq}: checkpoint ${e.id} names seq ${d.seq}, not the event before it`,
        });
      }
    }
    const finalSeq = facts.get(c.id)?.finalSeq;
    if (finalSeq !== undefined && c.seq > finalSeq) {
      problem({
        kind: "after-final",
        chainId: c.id,
        seq: c.seq,
        eventId: e.id,
        message: `chain ${c.id} seq ${c.seq}: event ${e.id} comes after the chain's final checkpoint (seq ${finalSeq})`,
      });
    }
    if (c.seq > s.maxSeq) {
      s.maxSeq = c.seq;
      s.maxSeqEventId = e.id;
    }
    if (c.seq === s.next) {
      accept(s, l, false);
      drain(s);
    } else if (c.seq < s.next) {
      if (c.seq === s.next - 1 && !s.rival && c.seq >= s.start) s.rival = l;
      else duplicate(s, l);
    } else if (s.pending.has(c.seq)) {
      duplicate(s, l);
    } else {
      s.pending.set(c.seq, l);
      if (s.pending.size > PENDING_LIMIT) skipGap(s);
    }
  };

  if (store.storedRows) {
    const unknownColumns = new Set<string>();
    for await (const row of store.storedRows()) {
      const r = readStoredRow(row);
      if ("unreadable" in r) {
        warn({
          kind: "unreadable",
          ...(r.eventId !== undefined && { eventId: r.eventId }),
          location: r.location,
          message: `${r.location}${r.eventId ? ` (event ${r.eventId})` : ""} is ${r.unreadable}; it was skipped (a torn write, or damage: the chains report what it held)`,
        });
        continue;
      }
      const e = r.event;
      if (r.violation) {
        problem({
          kind: "non-strict-json",
          chainId: e.chain?.id,
          seq: e.chain?.seq,
          eventId: e.id,
          location: r.location,
          message: `event ${e.id} at ${r.location}: the stored text is not strict JSON (${r.violation.rule}): ${r.violation.detail}`,
        });
      }
      for (const d of r.columns) {
        problem({
          kind: "column-mismatch",
          chainId: e.chain?.id,
          seq: e.chain?.seq,
          eventId: e.id,
          location: r.location,
          message: `event ${e.id} at ${r.location}: indexed column ${d.column} holds ${JSON.stringify(d.stored)} but the body says ${JSON.stringify(d.body)}; filters on it see another trail`,
        });
      }
      for (const u of r.unknown) unknownColumns.add(u);
      check(e, r.location);
    }
    if (unknownColumns.size > 0) {
      warnings.push({
        kind: "column-mismatch",
        message: `the store reports columns verify does not know, not compared: ${[...unknownColumns].join(", ")}`,
      });
    }
  } else {
    for await (const e of store.stream()) check(e, undefined);
  }

  const summaries: ChainSummary[] = [];
  for (const s of chains.values()) {
    while (s.pending.size > 0) skipGap(s);
    if (s.rival) duplicate(s, s.rival);
    const f = facts.get(s.id) ?? {};
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
      problem({ kind: "wrong-key", chainId: s.id, message: keyMismatch });
    else {
      for (const m of s.mismatches) problem(m);
      unlisted += s.bad - s.mismatches.length;
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
      if (options.requireClosed) problem(p);
      else warn(p);
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

  for (const c of claims) {
    const s = chains.get(c.chainId);
    if ((facts.get(c.chainId)?.anchor?.seq ?? 0) >= c.seq) continue;
    if (!s) {
      problem({
        kind: "truncated",
        chainId: c.chainId,
        seq: c.seq,
        eventId: c.eventId,
        message: `${c.source} checkpoint ${c.eventId} names chain ${c.chainId} up to seq ${c.seq}, but the store holds none of that chain`,
      });
    } else if (c.seq > s.maxSeq) {
      problem({
        kind: "truncated",
        chainId: c.chainId,
        seq: c.seq,
        eventId: c.eventId,
        message: `${c.source} checkpoint ${c.eventId} names chain ${c.chainId} up to seq ${c.seq}, but the store ends at seq ${s.maxSeq} (event ${s.maxSeqEventId}): the tail was cut off`,
      });
    }
  }

  return {
    ok: problems.length === 0 && unlisted === 0,
    events,
    chains: summaries,
    problems,
    warnings,
    unlisted,
  };
}

// True when `b`, read after `a`, sorts before it. Stores order ids by UTF-16 code units (files,
// memory) or by code points (SQL's binary and "C" collations); an id pair only one of them calls
// ordered is not evidence.
function outOfOrder(a: AuditEvent, b: AuditEvent): boolean {
  if (a.time !== b.time) return b.time < a.time;
  if (b.id >= a.id) return false;
  return codePointCompare(b.id, a.id) < 0;
}

function codePointCompare(x: string, y: string): number {
  const ix = x[Symbol.iterator]();
  const iy = y[Symbol.iterator]();
  for (;;) {
    const a = ix.next();
    const b = iy.next();
    if (a.done || b.done) return a.done ? (b.done ? 0 : -1) : 1;
    const ca = a.value.codePointAt(0)!;
    const cb = b.value.codePointAt(0)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
  }
}
