import { resolutionEventId } from "../approvals/approvals.js";
import type { AuditEvent } from "../event.js";

interface RequestFact {
  eventId: string;
  time: string;
  chainId: string | undefined;
  seq: number | undefined;
}

/** Why a resolution is not bound to its request, or undefined when it is. */
export interface Unbound {
  reason: string;
  /** A missing request after a prune may just have been pruned: a warning, not a problem. */
  maybePruned: boolean;
}

/**
 * The approval-binding rule: each `approval.resolve` must be stored under its approval's
 * resolution id, name an `approval.request` that is in the store and comes first (in time, and in
 * seq when both are in one chain), and be the only resolution of that approval. It holds what
 * verification needs of every request (memory grows with the number of approvals, not of events).
 */
export class ApprovalBinding {
  readonly #requests = new Map<string, RequestFact>();
  readonly #resolved = new Map<string, string>();
  #pruned = false;

  /** Notes a request (the first stored one of an approval id is the one approvals use). */
  request(e: AuditEvent): void {
    const id = e.data.approvalId;
    if (typeof id !== "string" || this.#requests.has(id)) return;
    this.#requests.set(id, {
      eventId: e.id,
      time: e.time,
      chainId: e.chain?.id,
      seq: e.chain?.seq,
    });
  }

  /** Notes that the trail was pruned, so a request may be gone for a legitimate reason. */
  pruned(): void {
    this.#pruned = true;
  }

  /** Checks one `approval.resolve` event, in the order they are read. */
  check(e: AuditEvent): Unbound | undefined {
    const approvalId = e.data.approvalId;
    if (typeof approvalId !== "string" || approvalId.length === 0) {
      return { reason: "it names no approval id", maybePruned: false };
    }
    if (e.id !== resolutionEventId(approvalId)) {
      return {
        reason: `it is not stored under approval ${approvalId}'s resolution id (${resolutionEventId(approvalId)}), so approvals never count it`,
        maybePruned: false,
      };
    }
    const first = this.#resolved.get(approvalId);
    if (first !== undefined) {
      return {
        reason: `approval ${approvalId} was already resolved by event ${first}: only one resolution counts`,
        maybePruned: false,
      };
    }
    const request = this.#requests.get(approvalId);
    if (!request) {
      return {
        reason: `the store holds no approval.request for approval ${approvalId}`,
        maybePruned: this.#pruned,
      };
    }
    if (e.time < request.time) {
      return {
        reason: `it is dated ${e.time}, before its request ${request.eventId} (${request.time})`,
        maybePruned: false,
      };
    }
    if (
      request.chainId !== undefined &&
      request.chainId === e.chain?.id &&
      request.seq !== undefined &&
      e.chain.seq < request.seq
    ) {
      return {
        reason: `it is seq ${e.chain.seq} of the chain that holds its request at seq ${request.seq}`,
        maybePruned: false,
      };
    }
    this.#resolved.set(approvalId, e.id);
    return undefined;
  }
}
