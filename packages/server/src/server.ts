import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { userInfo } from "node:os";
import {
  ApprovalConflictError,
  ApprovalNotFoundError,
  AuditConfigError,
  Auditor,
  AuditValidationError,
  StoreError,
  type VerifyOptions,
} from "@audit/core";
import { API_ROUTES, idParam } from "./api.js";
import { isLoopback, originAllowed, SECURITY_HEADERS, TokenGuard } from "./auth.js";
import type { Handler, RequestContext } from "./context.js";
import { html } from "./html.js";
import { HttpError, sendHtml, sendJson } from "./http.js";
import { LiveFeed } from "./live-feed.js";
import type { AuditServerOptions, McpHandler } from "./options.js";
import { PAGE_ROUTES } from "./page-routes.js";
import { layout, notice } from "./pages/layout.js";
import { loadStaticFiles } from "./static-files.js";
import { WebhookNotifier } from "./webhook.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const ROUTES: [string, RegExp, Handler][] = [...API_ROUTES, ...PAGE_ROUTES];

/**
 * `audit serve`: the JSON API, the live tail, the pages and the approvals inbox over one store.
 * Every request must carry the token; the server binds loopback unless given a token explicitly.
 */
export class AuditServer {
  readonly #options: AuditServerOptions;
  readonly #token: string;
  readonly #guard: TokenGuard;
  readonly #auditor: Auditor;
  readonly #mcp: McpHandler | undefined;
  readonly #feed: LiveFeed;
  readonly #notifier: WebhookNotifier | undefined;
  readonly #static = loadStaticFiles();
  readonly #verifyOptions: VerifyOptions;
  readonly #user: string;
  #server: Server | undefined;
  #base: string | undefined;
  #removeNotifier: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: AuditServerOptions) {
    if (!options?.store)
      throw new AuditConfigError("[audit] the server needs a store: createAuditServer({ store })");
    const host = options.host ?? "127.0.0.1";
    if (!isLoopback(host) && options.token === undefined)
      throw new AuditConfigError(
        `[audit] refusing to listen on ${host} without an explicit token: pass --token or set AUDIT_SERVE_TOKEN (a random one is only allowed on a loopback address)`,
      );
    if (
      options.token !== undefined &&
      (typeof options.token !== "string" || options.token.length < 16)
    )
      throw new AuditConfigError("[audit] the server token must be at least 16 characters");
    if (options.trustProxyUser !== undefined && !/^[A-Za-z0-9-]+$/.test(options.trustProxyUser))
      throw new AuditConfigError(
        `[audit] --trust-proxy-user takes a header name such as X-Forwarded-User, not "${options.trustProxyUser}"`,
      );
    this.#options = options;
    this.#token = options.token ?? randomBytes(32).toString("base64url");
    this.#guard = new TokenGuard(this.#token);
    this.#user = options.user ?? safeUserName();
    const onError = options.onError ?? (() => undefined);
    this.#auditor = new Auditor({
      store: options.store,
      spool: false,
      actor: "audit-server",
      integrity: {
        ...options.integrity,
        ...(options.chainKey !== undefined && { key: options.chainKey }),
      },
      onError,
    });
    const key = options.chainKey ?? options.integrity?.key;
    this.#verifyOptions = key !== undefined ? { key } : {};
    const mcp = options.mcp;
    this.#mcp = typeof mcp === "object" ? mcp.fromAuditor(this.#auditor) : mcp;
    this.#feed = new LiveFeed(options.store, {
      ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
      onError: (err) => onError(err instanceof Error ? err : new Error(String(err))),
    });
    this.#notifier = options.notify ? new WebhookNotifier(options.notify, onError) : undefined;
  }

  /** Starts listening; resolves with the URL to open (token included). */
  async listen(): Promise<string> {
    if (this.#server) return this.openUrl;
    const server = createServer((req, res) => void this.handle(req, res));
    const host = this.#options.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#options.port ?? 4319, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#server = server;
    const port = (server.address() as AddressInfo).port;
    const shown = host.includes(":") ? `[${host}]` : host;
    this.#base = `http://${shown}:${port}`;
    if (this.#notifier) {
      const notifier = this.#notifier;
      notifier.defaultInboxUrl(`${this.#base}/approvals`);
      this.#removeNotifier = await this.#feed.add((e) => notifier.notify(e));
    }
    return this.openUrl;
  }

  /** `http://host:port`, without the token. */
  get url(): string {
    if (!this.#base) throw new AuditConfigError("[audit] the server is not listening yet");
    return this.#base;
  }

  /** The URL that starts a browser session: `http://host:port/?token=…`. */
  get openUrl(): string {
    return `${this.url}/?token=${encodeURIComponent(this.#token)}`;
  }

  /** The token (for API clients: `Authorization: Bearer <token>`). */
  get token(): string {
    return this.#token;
  }

  /** The auditor that writes this server's resolutions. */
  get auditor(): Auditor {
    return this.#auditor;
  }

  /** The webhook notifier's delivery counts, when one is configured. */
  get webhook(): WebhookNotifier | undefined {
    return this.#notifier;
  }

  /** Handles one request; usable from your own `http` server too. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://server.invalid");
    } catch {
      return sendJson(res, 400, { error: "malformed request URL" });
    }
    const isApi =
      url.pathname.startsWith("/api/") ||
      url.pathname === "/mcp" ||
      url.pathname.startsWith("/mcp/");
    try {
      const method = req.method ?? "GET";
      const offered = url.searchParams.get("token");
      if (offered !== null && !isApi && (method === "GET" || method === "HEAD")) {
        if (!this.#guard.matches(offered)) throw new HttpError(401, "wrong token");
        // Trade the token for a cookie, and take it out of the address bar and history.
        url.searchParams.delete("token");
        res.setHeader("set-cookie", this.#guard.sessionCookie());
        // One leading slash only: "//host" would send the browser to another site.
        const location = `/${url.pathname.replace(/^\/+/, "")}${url.search}`;
        res.writeHead(303, { location, "content-length": 0 });
        res.end();
        return;
      }
      const auth = this.#guard.authenticate(req);
      if (!auth) {
        res.setHeader("www-authenticate", 'Bearer realm="audit"');
        throw new HttpError(
          401,
          "a token is required: open the URL printed by audit serve, or send Authorization: Bearer <token>",
        );
      }
      if (!SAFE_METHODS.has(method) && !originAllowed(req, auth))
        throw new HttpError(
          403,
          "cross-origin request refused: the Origin does not match this server",
        );
      if (url.pathname === "/mcp" || url.pathname.startsWith("/mcp/")) {
        if (!this.#mcp) throw new HttpError(404, "no MCP handler is mounted at /mcp");
        await this.#mcp(req, res);
        return;
      }
      const file = this.#static.get(url.pathname);
      if (file && (method === "GET" || method === "HEAD")) {
        res.writeHead(200, { "content-type": file.type, "content-length": file.body.length });
        res.end(method === "HEAD" ? undefined : file.body);
        return;
      }
      let pathMatched = false;
      for (const [m, pattern, handler] of ROUTES) {
        const match = pattern.exec(url.pathname);
        if (!match) continue;
        pathMatched = true;
        if (m !== method && !(m === "GET" && method === "HEAD")) continue;
        const params = match.slice(1).map((p) => idParam(decodeSegment(p), "id"));
        await handler(this.#context(req, res, url), ...params);
        return;
      }
      if (pathMatched) {
        res.setHeader(
          "allow",
          ROUTES.filter(([, p]) => p.test(url.pathname))
            .map(([m]) => m)
            .join(", "),
        );
        throw new HttpError(405, `${method} is not allowed on ${url.pathname}`);
      }
      throw new HttpError(404, `nothing at ${url.pathname}`);
    } catch (err) {
      this.#fail(err, res, isApi);
    }
  }

  #context(req: IncomingMessage, res: ServerResponse, url: URL): RequestContext {
    return {
      req,
      res,
      url,
      store: this.#options.store,
      auditor: this.#auditor,
      feed: this.#feed,
      verifyOptions: this.#verifyOptions,
      resolvedBy: () => this.#resolvedBy(req),
    };
  }

  #resolvedBy(req: IncomingMessage): string {
    const header = this.#options.trustProxyUser;
    if (header === undefined) return this.#user;
    const value = req.headers[header.toLowerCase()];
    const name = typeof value === "string" ? value.trim() : "";
    if (name === "" || name.length > 200)
      throw new HttpError(
        403,
        `the trusted proxy did not name the user (${header} header): cannot resolve`,
      );
    return name;
  }

  #fail(err: unknown, res: ServerResponse, isApi: boolean): void {
    let status = 500;
    let message = "internal error; the server log has the details";
    let extra: Record<string, unknown> = {};
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
      extra = err.extra;
    } else if (err instanceof ApprovalConflictError) {
      status = 409;
      message = stripPrefix(err.message);
      extra = { approvalId: err.approvalId, resolution: err.resolution };
    } else if (err instanceof ApprovalNotFoundError) {
      status = 404;
      message = stripPrefix(err.message);
    } else if (err instanceof AuditValidationError || err instanceof AuditConfigError) {
      status = 400;
      message = stripPrefix(err.message);
    } else if (err instanceof StoreError) {
      status = 503;
      message = stripPrefix(err.message);
    } else {
      this.#options.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
    if (res.headersSent) {
      // A stream already under way: all that is left is to end it.
      res.end();
      return;
    }
    if (isApi) sendJson(res, status, { error: message, ...extra });
    else
      sendHtml(
        res,
        status,
        layout("Error", "", html`<h1>${String(status)}</h1>${notice("error", message)}`),
      );
  }

  /** Stops listening, ends live streams and the webhook, and closes the resolver. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#removeNotifier?.();
      this.#notifier?.close();
      await this.#feed.close();
      const server = this.#server;
      if (server) {
        const closed = new Promise<void>((r) => server.close(() => r()));
        // Open SSE streams would keep close() waiting forever.
        server.closeAllConnections();
        await closed;
      }
      await this.#auditor.close();
    })();
    return this.#closing;
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, "malformed percent-encoding in the path");
  }
}

function stripPrefix(message: string): string {
  return message.replace(/^\[audit\] (\[[a-z-]+\] )?/, "");
}

function safeUserName(): string {
  try {
    return userInfo().username || "audit-server";
  } catch {
    return "audit-server";
  }
}

/** Creates an {@link AuditServer}; call `listen()` to start it. */
export function createAuditServer(options: AuditServerOptions): AuditServer {
  return new AuditServer(options);
}
