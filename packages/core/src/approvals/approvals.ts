import {
  ApprovalConflictError,
  ApprovalNotFoundError,
  AuditError,
  AuditTimeoutError,
  AuditValidationError,
} from "../errors.js";
import type { AuditEvent, EventPayloads } from "../event.js";
import { uuidFromName } from "../ids.js";
import { normalizePayload } from "../normalize.js";
import type { AuditStore } from "../store.js";

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

/**
 * What approvals need of an auditor: its store, a flush, and a way to write a resolution in the
 * auditor's own chain. Approvals never see the `Auditor` class.
 */
export interface ApprovalHost {
  readonly store: AuditStore;
  /** Makes this auditor's queued events visible in the store. */
  flush(): Promise<unknown>;
  /**
   * Writes a resolution (with the deterministic id) as the next link of the auditor's chain and
   * returns the resolution the store now holds under that id: this one if it won, the winner's
   * otherwise (then this one's link is undone, so the chain keeps no gap).
   */
  writeResolution(event: AuditEvent): Promise<AuditEvent | undefined>;
  /** True when an event's chain link is intact (its hash matches; with a key, made by a holder). */
  linkIntact(event: AuditEvent): boolean;
}

type Request = AuditEvent<EventPayloads["approval.request"]>;
type Resolution = AuditEvent<EventPayloads["approval.resolve"]>;

/**
 * True when `event` is a resolution bound to `request`: the right type, id and approval id, a
 * chain link that is intact, and not older than the request. Anything else stored under the
 * resolution id (a forged row, an event of another type) neither resolves nor blocks silently.
 */
export function isBoundResolution(
  event: AuditEvent | undefined,
  request: Request,
  linkIntact: (e: AuditEvent) => boolean,
): event is Resolution {
  if (!event) return false;
  const approvalId = request.data.approvalId;
  return (
    event.type === "approval.resolve" &&
    event.id === resolutionEventId(approvalId) &&
    event.data.approvalId === approvalId &&
    typeof event.data.outcome === "string" &&
    typeof event.data.resolvedBy === "string" &&
    linkIntact(event) &&
    event.time >= request.time
  );
}

/** Human approvals on top of any store: list, look up, resolve (first wins), wait. */
export class Approvals {
  readonly #host: ApprovalHost;

  constructor(host: ApprovalHost) {
    this.#host = host;
  }

  /** Open requests, oldest first. Events still queued in this auditor are flushed first. */
  async pending(): Promise<Approval[]> {
    await this.#host.flush().catch(() => undefined);
    const store = this.#host.store;
    const requests = new Map<string, Request>();
    for await (const e of store.stream({ type: "approval.request" })) {
      const id = e.data.approvalId;
      if (typeof id === "string" && !requests.has(id)) requests.set(id, e as Request);
    }
    if (requests.size === 0) return [];
    for await (const e of store.stream({ type: "approval.resolve" })) {
      const id = e.data.approvalId;
      const request = typeof id === "string" ? requests.get(id) : undefined;
      if (request && isBoundResolution(e, request, (x) => this.#host.linkIntact(x))) {
        requests.delete(id as string);
      }
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
    await this.#host.flush().catch(() => undefined);
    const request = await this.#request(approvalId);
    const stored = await this.#host.store.get(resolutionEventId(approvalId));
    return isBoundResolution(stored, request, (x) => this.#host.linkIntact(x))
      ? { approvalId, status: "resolved", request, resolution: stored }
      : { approvalId, status: "pending", request };
  }

  async #request(approvalId: string): Promise<Request> {
    const [request] = await this.#host.store.query({
      type: "approval.request",
      approvalId,
      limit: 1,
    });
    if (!request) throw new ApprovalNotFoundError(approvalId);
    return request as Request;
  }

  /**
   * Resolves a request. The first resolution wins; any later one, from this process or another,
   * gets {@link ApprovalConflictError} carrying the winning resolution. The resolution is written
   * at once (not queued) as the next link of this auditor's chain, because the caller must learn
   * whether it won.
   * @throws {ApprovalNotFoundError} for an unknown id; `StoreError` when the store is unreachable.
   */
  async resolve(approvalId: string, resolution: ApprovalResolution): Promise<Resolution> {
    checkId(approvalId);
    if (!resolution || typeof resolution.outcome !== "string" || resolution.outcome.length === 0) {
      throw new AuditValidationError(
        'a resolution needs an outcome, e.g. { outcome: "approve", resolvedBy: "alice" }',
        { stage: "approvals" },
      );
    }
    if (typeof resolution.resolvedBy !== "string" || resolution.resolvedBy.length === 0) {
      throw new AuditValidationError("a resolution needs resolvedBy: who decided", {
        stage: "approvals",
      });
    }
    await this.#host.flush().catch(() => undefined);
    const request = await this.#request(approvalId);
    const data: EventPayloads["approval.resolve"] = {
      approvalId,
      outcome: resolution.outcome,
      resolvedBy: resolution.resolvedBy,
    };
    if (resolution.comment !== undefined) data.comment = resolution.comment;
    const event: AuditEvent = {
      id: resolutionEventId(approvalId),
      type: "approval.resolve",
      // Never before its request, whatever the clocks of the two writers say.
      time: maxTime(new Date().toISOString(), request.time),
      actor: resolution.resolvedBy,
      data: normalizePayload(data),
      risk: request.risk ?? "high",
    };
    for (const key of ["sessionId", "runId", "traceId"] as const) {
      if (request[key] !== undefined) event[key] = request[key];
    }
    if (request.spanId !== undefined) event.parentSpanId = request.spanId;
    else if (request.parentSpanId !== undefined) event.parentSpanId = request.parentSpanId;
    const stored = await this.#host.writeResolution(event);
    if (stored?.chain && event.chain && stored.chain.hash === event.chain.hash) {
      return stored as Resolution;
    }
    if (isBoundResolution(stored, request, (x) => this.#host.linkIntact(x))) {
      throw new ApprovalConflictError(approvalId, {
        outcome: String(stored.data.outcome),
        resolvedBy: String(stored.data.resolvedBy),
        time: stored.time,
      });
    }
    throw new AuditError(
      `approval ${approvalId} cannot be resolved: the store holds an event under its resolution id that is not a valid resolution (run \`audit verify\`)`,
      { code: "AUDIT_APPROVAL_BLOCKED", stage: "approvals" },
    );
  }

  /**
   * Waits until the request is resolved and returns the resolution. Uses the store's live
   * subscription where it has one, and polls otherwise. Only a resolution bound to the request
   * counts.
   * @throws {AuditTimeoutError} after `timeoutMs`; the `signal`'s reason when aborted.
   */
  async wait(
    approvalId: string,
    options: { timeoutMs?: number; pollMs?: number; signal?: AbortSignal } = {},
  ): Promise<Resolution> {
    checkId(approvalId);
    // The request may still be queued in this auditor: make it visible to whoever must answer it.
    await this.#host.flush().catch(() => undefined);
    const request = await this.#request(approvalId);
    const store = this.#host.store;
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
        if (isBoundResolution(found, request, (x) => this.#host.linkIntact(x))) return found;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new AuditTimeoutError(
            `approval ${approvalId} was not resolved within ${options.timeoutMs} ms`,
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

function maxTime(a: string, b: string): string {
  return a >= b ? a : b;
}

function checkId(approvalId: unknown): asserts approvalId is string {
  if (typeof approvalId !== "string" || approvalId.length === 0) {
    throw new AuditValidationError("an approval id must be a non-empty string", {
      stage: "approvals",
    });
  }
}
