import type { IncomingMessage, ServerResponse } from "node:http";
import type { Auditor, AuditStore, VerifyOptions } from "@audit/core";
import type { LiveFeed } from "./live-feed.js";

/** What a route handler gets: the request and the server's parts. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  store: AuditStore;
  /** Writes resolutions (its own chain in the trail). */
  auditor: Auditor;
  feed: LiveFeed;
  verifyOptions: VerifyOptions;
  /** Who is resolving, from the server's configuration or the trusted proxy header. */
  resolvedBy(): string;
}

/** A route: the path's captured parts are passed decoded. */
export type Handler = (ctx: RequestContext, ...params: string[]) => Promise<void>;
