import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** The name of the session cookie the printed URL sets. */
export const SESSION_COOKIE = "audit_session";

/** How a request proved it holds the token. */
export type AuthMethod = "bearer" | "cookie";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Checks the server's token. Both sides are hashed to equal length first so the comparison takes
 * the same time whatever the candidate is; the cookie holds an HMAC of the token, not the token, so
 * a leaked cookie value cannot be used as a Bearer token and changing the token ends every session.
 */
export class TokenGuard {
  readonly #token: Buffer;
  readonly #session: string;

  constructor(token: string) {
    this.#token = digest(token);
    this.#session = createHmac("sha256", token).update("audit-serve-session").digest("base64url");
  }

  /** True when `candidate` is the token. */
  matches(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    return timingSafeEqual(digest(candidate), this.#token);
  }

  /** The value of the session cookie. */
  get sessionValue(): string {
    return this.#session;
  }

  /** The `Set-Cookie` header that starts a browser session. */
  sessionCookie(): string {
    return `${SESSION_COOKIE}=${this.#session}; HttpOnly; SameSite=Strict; Path=/`;
  }

  /** How the request authenticated, if it did. */
  authenticate(req: IncomingMessage): AuthMethod | undefined {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      // A wrong Authorization header is a failure even if a cookie would pass: no silent fallback.
      return m && this.matches(m[1]) ? "bearer" : undefined;
    }
    const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (cookie !== undefined && timingSafeEqual(digest(cookie), digest(this.#session)))
      return "cookie";
    return undefined;
  }
}

/** One cookie's value from a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Whether a state-changing request comes from this server's own pages. Browsers send `Origin` on
 * every POST, so a cookie-authenticated request without one, or with another site's, is refused;
 * a Bearer client (curl, a bot) may omit it, because a cross-site page cannot set that header.
 */
export function originAllowed(req: IncomingMessage, method: AuthMethod): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin === undefined)
    return method === "bearer" && req.headers["sec-fetch-site"] !== "cross-site";
  if (!host || origin === "null") return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** True for the addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Headers on every response: no inline script or style can run (pages use one script file), the
 * page cannot be framed, MIME types are not sniffed, and no URL leaks through `Referer`.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};
