import { createHash, createHmac } from "node:crypto";
import type { AuditEvent } from "./event.js";
import { ApprovalBinding } from "./integrity/approval-binding.js";
import { ChainLinks, type Link } from "./integrity/chain-links.js";
import { CheckpointClaims } from "./integrity/checkpoint-claims.js";
import { leafHash } from "./integrity/merkle.js";
import { outOfOrder } from "./integrity/store-order.js";
import { readStoredRow } from "./integrity/stored-rows.js";
import {
  type ChainProblem,
  Findings,
  type VerifyOptions,
  type VerifyReport,
} from "./integrity/verify-report.js";
import { type CheckpointData, chainInput, keyIdOf, toPublicKey } from "./integrity.js";
import type { AuditStore } from "./store.js";

export type {
  ChainProblem,
  ChainProblemKind,
  ChainSummary,
  VerifyOptions,
  VerifyReport,
} from "./integrity/verify-report.js";

/**
 * Verifies every hash chain in a store. It reads the checkpoints and approval requests first (the
 * stored ones and a witness's checkpoints), then reads the trail once: through the store's
 * `storedRows` when it has one (checking that stored text is strict JSON and that every indexed
 * column equals the body), through `stream` otherwise. For each event it checks the store's order,
 * recomputes its hash and its chain's Merkle root, follows `prev` links and `seq` numbers, binds
 * each approval resolution to its request, and compares the store with what the checkpoints
 * claim. Every problem names the rule (`kind`), the chain, the seq and the event id. A chain whose
 * older events were pruned verifies from its prune anchor. Memory is bounded by the number of
 * chains, checkpoints and approvals, not of events. The rules live in `integrity/`, one family per
 * module: checkpoint claims, chain links and roots, approval binding, stored rows, store order.
 */
export async function verifyChain(
  store: AuditStore,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const findings = new Findings(options.maxProblems ?? 1000);
  const problem = (p: ChainProblem) => findings.problem(p);
  const warn = (p: ChainProblem) => findings.warn(p);
  const publicKey = options.publicKey === undefined ? undefined : toPublicKey(options.publicKey);
  const ourKeyId = options.key === undefined ? undefined : keyIdOf(options.key);
  const keyBytes =
    options.key === undefined
      ? undefined
      : typeof options.key === "string"
        ? Buffer.from(options.key, "utf8")
        : Buffer.from(options.key);

  // Pass 1: what the checkpoints claim, and which approvals were requested.
  const claims = new CheckpointClaims(publicKey, findings);
  const approvals = new ApprovalBinding();
  if (options.witness) {
    for await (const e of options.witness as AsyncIterable<AuditEvent>) claims.read(e, "witness");
  }
  for await (const e of store.stream({ type: ["audit.checkpoint", "approval.request"] })) {
    if (e.type === "approval.request") approvals.request(e);
    else claims.read(e, "store");
  }
  if (claims.pruned) approvals.pruned();
  claims.finishReading();

  // Pass 2: every event, in the store's order.
  const links = new ChainLinks(claims, findings);

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
    const s = links.stateOf(e);
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
      if (s.mismatches.length < findings.max) {
        s.mismatches.push({
          kind: "hash-mismatch",
          chainId: c.id,
          seq: c.seq,
          eventId: e.id,
          message: `chain ${c.id} seq ${c.seq}: event ${e.id} (${e.type}) does not match its hash: its content was modified`,
        });
      }
    }
    const witnessed = claims.witnessed(c.id, c.seq);
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
    const finalSeq = claims.factsOf(c.id).finalSeq;
    if (finalSeq !== undefined && c.seq > finalSeq) {
      problem({
        kind: "after-final",
        chainId: c.id,
        seq: c.seq,
        eventId: e.id,
        message: `chain ${c.id} seq ${c.seq}: event ${e.id} comes after the chain's final checkpoint (seq ${finalSeq})`,
      });
    }
    links.add(s, l);
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
      findings.warnings.push({
        kind: "column-mismatch",
        message: `the store reports columns verify does not know, not compared: ${[...unknownColumns].join(", ")}`,
      });
    }
  } else {
    for await (const e of store.stream()) check(e, undefined);
  }

  const chains = links.finish(ourKeyId, options.requireClosed === true);
  claims.checkTruncation((chainId) => links.last(chainId));
  return {
    ok: findings.problems.length === 0 && findings.unlisted === 0,
    events,
    chains,
    problems: findings.problems,
    warnings: findings.warnings,
    unlisted: findings.unlisted,
  };
}
