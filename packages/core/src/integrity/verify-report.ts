import type { KeyObject } from "node:crypto";
import type { AuditEvent } from "../event.js";

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

/** Collects findings: problems up to `maxProblems` (the rest counted), warnings likewise. */
export class Findings {
  /** Problems listed so far. */
  readonly problems: ChainProblem[] = [];
  /** Warnings listed so far. */
  readonly warnings: ChainProblem[] = [];
  /** Problems beyond `maxProblems`, counted only. */
  unlisted = 0;
  readonly #max: number;

  constructor(maxProblems: number) {
    this.#max = maxProblems;
  }

  /** The most problems listed (`maxProblems`). */
  get max(): number {
    return this.#max;
  }

  /** Records evidence of tampering or damage. */
  problem(p: ChainProblem): void {
    if (this.problems.length < this.#max) this.problems.push(p);
    else this.unlisted++;
  }

  /** Records something to know that is not evidence by itself. */
  warn(p: ChainProblem): void {
    if (this.warnings.length < this.#max) this.warnings.push(p);
  }
}
