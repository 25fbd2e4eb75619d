import type { Auditor } from "./auditor.js";
import {
  ApprovalConflictError,
  ApprovalNotFoundError,
  AuditTimeoutError,
  AuditValidationError,
} from "./errors.js";
import type { AuditEvent, EventPayloads } from "./event.js";
import { uuidFromName } from "./ids.js";
import { normalizePayload } from "./normalize.js";

/** A human decision on an approval request. */
export interface ApprovalResolution {
  /** What was decided: `"approve"`, `"deny"`, or any word your workflow uses. */
  outcome: string;
  /** Who decided. */
  resolvedBy: string;
  /** Why. */
  comment?: string;
}

/** An approval request with its resolution, if it has one. */
export interface Approval {
  approvalId: string;
  status: "pending" | "resolved";
  /** The `approval.request` event. */
  request: AuditEvent<EventPayloads["approval.request"]>;
  /** The `approval.resolve` event, once resolved. */
  resolution?: AuditEvent<EventPayloads["approval.resolve"]>;
}

/**
 * The id of the one `approval.resolve` event an approval can have. Every resolver computes the same
 * id, so the store's idempotent append lets exactly one of them in: first-wins is enforced by the
 * store's unique ids (a primary key in SQL stores), not by a check-then-write that two humans could
 * both pass.
 */
export function resolutionEventId(approvalId: string): string {
  return uuidFromName(`audit:approval.resolve:${approvalId}`);
}

/** Human approvals on top of any store: list, look up, resolve (first wins), wait. */
export class Approvals {
  readonly #auditor: Auditor;

  constructor(auditor: Auditor) {
    this.#auditor = auditor;
  }

  /** Open requests, oldest first. Events still queued in this auditor are flushed first. */
  async pending(): Promise<Approval[]> {
    await this.#auditor.flush().catch(() => undefined);
    const store = this.#auditor.store;
    const requests = new Map<string, AuditEvent<EventPayloads["approval.request"]>>();
    for await (const e of store.stream({ type: "approval.request" })) {
      const id = e.data.approvalId;
      if (typeof id === "string")
        requests.set(id, e as AuditEvent<EventPayloads["approval.request"]>);
    }
    if (requests.size === 0) return [];
    for await (const e of store.stream({ type: "approval.resolve" })) {
      const id = e.data.approvalId;
      if (typeof id === "string" && e.id === resolutionEventId(id)) requests.delete(id);
    }
    return [...requests.values()].map((request) => ({
      approvalId: request.data.approvalId,
      status: "pending" as const,
      request,
    }));
  }

  /** The request and its resolution. @throws {ApprovalNotFoundError} for an unknown id. */
  async get(approvalId: string): Promise<Approval> {
    checkId(approvalId);
    await this.#auditor.flush().catch(() => undefined);
    const request = await this.#request(approvalId);
    const resolution = (await this.#auditor.store.get(resolutionEventId(approvalId))) as
      | AuditEvent<EventPayloads["approval.resolve"]>
      | undefined;
    return resolution
      ? { approvalId, status: "resolved", request, resolution }
      : { approvalId, status: "pending", request };
  }

  async #request(approvalId: string): Promise<AuditEvent<EventPayloads["approval.request"]>> {
    const [request] = await this.#auditor.store.query({
      type: "approval.request",
      approvalId,
      limit: 1,
    });
    if (!request) throw new ApprovalNotFoundError(approvalId);
    return request as AuditEvent<EventPayloads["approval.request"]>;
  }

  /**
   * Resolves a request. The first resolution wins; any later one, from this process or another,
   * gets {@link ApprovalConflictError} carrying the winning resolution. The resolution is written
   * straight to the store (not queued) because the caller must learn whether it won.
   * @throws {ApprovalNotFoundError} for an unknown id; `StoreError` when the store is unreachable.
   */
  async resolve(
    approvalId: string,
    resolution: ApprovalResolution,
  ): Promise<AuditEvent<EventPayloads["approval.resolve"]>> {
    checkId(approvalId);
    if (!resolution || typeof resolution.outcome !== "string" || resolution.outcome.length === 0) {
      throw new AuditValidationError(
        '[audit] a resolution needs an outcome, e.g. { outcome: "approve", resolvedBy: "alice" }',
      );
    }
    if (typeof resolution.resolvedBy !== "string" || resolution.resolvedBy.length === 0) {
      throw new AuditValidationError("[audit] a resolution needs resolvedBy: who decided");
    }
    await this.#auditor.flush().catch(() => undefined);
    const request = await this.#request(approvalId);
    const id = resolutionEventId(approvalId);
    const data: EventPayloads["approval.resolve"] = {
      approvalId,
      outcome: resolution.outcome,
      resolvedBy: resolution.resolvedBy,
    };
    if (resolution.comment !== undefined) data.comment = resolution.comment;
    const event: AuditEvent = {
      id,
      type: "approval.resolve",
      time: new Date().toISOString(),
      actor: resolution.resolvedBy,
      data: normalizePayload(data),
      risk: request.risk ?? "high",
    };
    for (const key of ["sessionId", "runId", "traceId"] as const) {
      if (request[key] !== undefined) event[key] = request[key];
    }
    if (request.spanId !== undefined) event.parentSpanId = request.spanId;
    else if (request.parentSpanId !== undefined) event.parentSpanId = request.parentSpanId;
    const prepared = this.#auditor.prepareDirect(event);
    await this.#auditor.store.append([prepared]);
    const stored = await this.#auditor.store.get(id);
    if (!stored) {
      throw new ApprovalConflictError(approvalId, {
        outcome: "unknown",
        resolvedBy: "unknown",
        time: "unknown",
      });
    }
    // Key order may differ in what a store reads back, so compare the fields that identify ours
    // (with a chain, its hash covers all of them).
    const won = prepared.chain
      ? stored.chain?.hash === prepared.chain.hash
      : stored.time === prepared.time &&
        stored.data.outcome === prepared.data.outcome &&
        stored.data.resolvedBy === prepared.data.resolvedBy &&
        stored.data.comment === prepared.data.comment;
    if (!won) {
      throw new ApprovalConflictError(approvalId, {
        outcome: String(stored.data.outcome),
        resolvedBy: String(stored.data.resolvedBy),
        time: stored.time,
      });
    }
    return stored as AuditEvent<EventPayloads["approval.resolve"]>;
  }

  /**
   * Waits until the request is resolved and returns the resolution. Uses the store's live
   * subscription where it has one, and polls otherwise.
   * @throws {AuditTimeoutError} after `timeoutMs`; the `signal`'s reason when aborted.
   */
  async wait(
    approvalId: string,
    options: { timeoutMs?: number; pollMs?: number; signal?: AbortSignal } = {},
  ): Promise<AuditEvent<EventPayloads["approval.resolve"]>> {
    checkId(approvalId);
    // The request may still be queued in this auditor: make it visible to whoever must answer it.
    await this.#auditor.flush().catch(() => undefined);
    await this.#request(approvalId);
    const store = this.#auditor.store;
    const id = resolutionEventId(approvalId);
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    const maxPoll = options.pollMs ?? 1000;
    let poll = Math.min(50, maxPoll);
    let wake: (() => void) | undefined;
    const unsubscribe = store.capabilities.subscribe
      ? store.subscribe?.({ type: "approval.resolve", approvalId }, () => wake?.())
      : undefined;
    try {
      for (;;) {
        options.signal?.throwIfAborted();
        const found = await store.get(id);
        if (found) return found as AuditEvent<EventPayloads["approval.resolve"]>;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new AuditTimeoutError(
            `[audit] approval ${approvalId} was not resolved within ${options.timeoutMs} ms`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(poll, left));
          const onAbort = () => done();
          function done() {
            clearTimeout(timer);
            options.signal?.removeEventListener("abort", onAbort);
            wake = undefined;
            resolve();
          }
          wake = done;
          options.signal?.addEventListener("abort", onAbort, { once: true });
        });
        poll = Math.min(maxPoll, poll * 2);
      }
    } finally {
      unsubscribe?.();
    }
  }
}

function checkId(approvalId: unknown): asserts approvalId is string {
  if (typeof approvalId !== "string" || approvalId.length === 0) {
    throw new AuditValidationError("[audit] an approval id must be a non-empty string");
  }
}
