import { createHmac } from "node:crypto";
import { AuditConfigError, AuditError, type AuditEvent } from "@audit/core";

/** Options of {@link WebhookNotifier} (`audit serve --notify-webhook URL`). */
export interface WebhookOptions {
  /** Where each approval request and resolution is POSTed. */
  url: string;
  /**
   * The HMAC-SHA-256 key the receiver checks `X-Audit-Signature` with (`AUDIT_NOTIFY_SECRET`).
   * At least 16 characters.
   */
  secret: string;
  /**
   * Attempts per notification, the first included.
   * @default 6
   */
  maxAttempts?: number;
  /**
   * Wait before the second attempt; it doubles after each failure.
   * @default 500
   */
  retryDelayMs?: number;
  /**
   * How long one attempt may take.
   * @default 10000
   */
  timeoutMs?: number;
  /** A link to the approvals inbox, included in each notification. */
  inboxUrl?: string;
}

/** The JSON body of a notification. */
export interface WebhookPayload {
  /** `approval.request` or `approval.resolve`. */
  type: string;
  approvalId: string;
  /** The event as stored. */
  event: AuditEvent;
  /** Where a human answers it (without the token). */
  inboxUrl?: string;
}

/**
 * The signature a receiver must recompute: `sha256=` + hex HMAC-SHA-256 over
 * `` `${timestamp}.${body}` `` with the shared secret, where `timestamp` is the
 * `X-Audit-Timestamp` header. Binding the time lets a receiver refuse replays of old deliveries.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * Posts approval requests and resolutions to a URL so a chat bridge can reach a human. Each
 * delivery is signed, carries its event id in `X-Audit-Delivery` (retries resend the same id, so
 * a receiver can drop duplicates), and is retried with exponential backoff; notifications go out
 * one at a time, in order. A delivery that fails every attempt is reported, never thrown.
 */
export class WebhookNotifier {
  readonly #options: Required<Omit<WebhookOptions, "inboxUrl">> & { inboxUrl?: string };
  readonly #onError: (err: Error) => void;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #abort = new AbortController();
  /** Deliveries that succeeded and that failed every attempt. */
  readonly counts = { delivered: 0, failed: 0, attempts: 0 };

  constructor(options: WebhookOptions, onError: (err: Error) => void = () => undefined) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new AuditConfigError(`[audit] the webhook URL "${options.url}" is not a valid URL`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new AuditConfigError(
        `[audit] the webhook URL must be http:// or https://, not ${parsed.protocol}`,
      );
    if (typeof options.secret !== "string" || options.secret.length < 16)
      throw new AuditConfigError(
        "[audit] a webhook needs a signing secret of at least 16 characters (AUDIT_NOTIFY_SECRET or --notify-secret)",
      );
    this.#options = {
      maxAttempts: 6,
      retryDelayMs: 500,
      timeoutMs: 10_000,
      ...options,
    };
    this.#onError = onError;
  }

  /** Sets the inbox link sent with each notification, unless the options gave one. */
  defaultInboxUrl(url: string): void {
    this.#options.inboxUrl ??= url;
  }

  /** Queues a notification for an `approval.request` or `approval.resolve` event; others are ignored. */
  notify(event: AuditEvent): void {
    if (this.#closed) return;
    if (event.type !== "approval.request" && event.type !== "approval.resolve") return;
    const approvalId = event.data.approvalId;
    if (typeof approvalId !== "string") return;
    const payload: WebhookPayload = { type: event.type, approvalId, event };
    if (this.#options.inboxUrl) payload.inboxUrl = this.#options.inboxUrl;
    this.#chain = this.#chain.then(() => this.#deliver(event.id, JSON.stringify(payload)));
  }

  /** Resolves when every queued notification was delivered or gave up. */
  idle(): Promise<void> {
    return this.#chain;
  }

  async #deliver(id: string, body: string): Promise<void> {
    const { url, secret, maxAttempts, retryDelayMs, timeoutMs } = this.#options;
    let delay = retryDelayMs;
    let lastError = "";
    for (let attempt = 1; attempt <= maxAttempts && !this.#closed; attempt++) {
      this.counts.attempts++;
      const timestamp = String(Math.floor(Date.now() / 1000));
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "audit-server-webhook",
            "x-audit-delivery": id,
            "x-audit-timestamp": timestamp,
            "x-audit-signature": webhookSignature(secret, timestamp, body),
          },
          body,
          redirect: "error",
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#abort.signal]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.counts.delivered++;
          return;
        }
        lastError = `HTTP ${res.status}`;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      if (attempt < maxAttempts && !this.#closed) {
        await new Promise((r) => setTimeout(r, delay).unref());
        delay *= 2;
      }
    }
    if (this.#closed) return;
    this.counts.failed++;
    this.#onError(
      new AuditError(
        `[audit] webhook delivery of ${id} to ${new URL(url).origin} failed after ${maxAttempts} attempts (${lastError})`,
        { code: "AUDIT_WEBHOOK" },
      ),
    );
  }

  /** Stops delivering; a delivery in flight is aborted. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#abort.abort();
  }
}
