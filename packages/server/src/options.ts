import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuditError, Auditor, AuditStore, IntegrityOptions } from "@audit/core";
import type { WebhookOptions } from "./webhook.js";

/**
 * A request handler mounted at `/mcp` (and below), e.g. a Streamable HTTP transport of an MCP
 * server. It runs after the token and Origin checks, so it never sees an unauthenticated request.
 */
export type McpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Options of {@link AuditServer}. */
export interface AuditServerOptions {
  /** The trail to serve. The server never closes it: close it after `server.close()`. */
  store: AuditStore;
  /**
   * The address to bind. Anything but a loopback address needs an explicit `token`.
   * @default "127.0.0.1"
   */
  host?: string;
  /**
   * The port; 0 picks a free one.
   * @default 4319
   */
  port?: number;
  /**
   * The secret every request must present (cookie from the printed URL, or
   * `Authorization: Bearer`). At least 16 characters.
   * @default a random 256-bit token, printed in the URL
   */
  token?: string;
  /**
   * Who resolves approvals through this server (`resolvedBy`).
   * @default the operating-system user running the server
   */
  user?: string;
  /**
   * A request header set by a trusted authenticating proxy that names the user, e.g.
   * `X-Forwarded-User`. When set, every resolution takes `resolvedBy` from it and a request
   * without it cannot resolve.
   */
  trustProxyUser?: string;
  /** The HMAC key of the trail's chains: resolutions are written with it and `verify` checks with it. */
  chainKey?: string | Uint8Array;
  /**
   * The application's integrity settings (HMAC key, checkpoint signing key) for what this server
   * writes: resolutions are links of the server's own chain, covered like everything else.
   * `chainKey`, when given, is used as `integrity.key`.
   */
  integrity?: IntegrityOptions;
  /** Post every new approval request and resolution to a URL. */
  notify?: WebhookOptions;
  /**
   * The handler mounted at `/mcp`, behind the same token; or `{ fromAuditor }`, which makes it from
   * the server's own auditor, e.g. `{ fromAuditor: (audit) => createAuditMcpHttpHandler(audit, …) }`
   * with `@audit/mcp`. Without one, `/mcp` answers 404.
   */
  mcp?: McpHandler | { fromAuditor: (auditor: Auditor) => McpHandler };
  /**
   * How often the live feed reads the store for new events.
   * @default 250
   */
  pollMs?: number;
  /** Errors that no request sees: a failed webhook delivery, a failed live read, a 500. */
  onError?: (error: AuditError | Error) => void;
}
