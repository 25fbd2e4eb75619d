import type { AuditEvent } from "@audit/core";
import { pendingApprovals, resolutionInput, resolvedApprovals } from "./approvals.js";
import type { Handler, RequestContext } from "./context.js";
import { streamEvents } from "./event-stream.js";
import { filterFromParams } from "./filter-params.js";
import { HttpError, mediaType, readBody, sendJson } from "./http.js";
import { listRuns, type RunListQuery, summarizeRun } from "./run-summary.js";
import { buildRunTree } from "./run-tree.js";
import { streamVerify } from "./verify-stream.js";

/** Events of one run at most, for a run's tree (a longer run is cut, and says so). */
export const MAX_RUN_EVENTS = 20_000;

function only(url: URL, allowed: readonly string[]): void {
  for (const key of url.searchParams.keys())
    if (!allowed.includes(key))
      throw new HttpError(
        400,
        `unknown query parameter "${key}"; known: ${allowed.join(", ") || "none"}`,
      );
}

function single(url: URL, name: string): string | undefined {
  const all = url.searchParams.getAll(name).filter((v) => v !== "");
  if (all.length > 1) throw new HttpError(400, `"${name}" may be given once`);
  return all[0];
}

function limitOf(url: URL, def: number, max: number): number {
  const raw = single(url, "limit");
  const n = raw === undefined ? def : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new HttpError(400, `limit must be a whole number from 1 to ${max}, not "${raw}"`);
  return n;
}

/** The runs-list query from URL parameters (shared by the API and the runs page). */
export function runListQuery(url: URL): RunListQuery {
  only(url, ["agent", "actor", "session", "status", "since", "until", "limit", "after"]);
  const q: RunListQuery = { limit: limitOf(url, 50, 200) };
  const status = single(url, "status");
  if (status !== undefined) {
    if (status !== "ok" && status !== "error")
      throw new HttpError(400, `status must be ok or error, not "${status}"`);
    q.status = status;
  }
  const set = (
    name: string,
    key: "agent" | "actor" | "sessionId" | "since" | "until" | "after",
  ) => {
    const v = single(url, name);
    if (v !== undefined) q[key] = v;
  };
  set("agent", "agent");
  set("actor", "actor");
  set("session", "sessionId");
  set("since", "since");
  set("until", "until");
  set("after", "after");
  return q;
}

/** A run's events (up to {@link MAX_RUN_EVENTS}) and whether it was cut. */
export async function runEvents(
  ctx: RequestContext,
  runId: string,
): Promise<{ events: AuditEvent[]; truncated: boolean }> {
  const events = await ctx.store.query({ runId, order: "asc", limit: MAX_RUN_EVENTS + 1 });
  const truncated = events.length > MAX_RUN_EVENTS;
  if (truncated) events.length = MAX_RUN_EVENTS;
  return { events, truncated };
}

const health: Handler = async (ctx) => {
  only(ctx.url, []);
  await ctx.store.query({ limit: 1 });
  sendJson(ctx.res, 200, {
    ok: true,
    store: ctx.store.id,
    capabilities: ctx.store.capabilities,
    liveClients: ctx.feed.size,
    time: new Date().toISOString(),
  });
};

const events: Handler = async (ctx) => {
  const filter = filterFromParams(ctx.url.searchParams, { defaultLimit: 100, maxLimit: 1000 });
  const page = await ctx.store.query(filter);
  const last = page[page.length - 1];
  sendJson(ctx.res, 200, {
    events: page,
    next: last && page.length === filter.limit ? last.id : null,
  });
};

const event: Handler = async (ctx, id) => {
  only(ctx.url, []);
  const e = await ctx.store.get(id!);
  if (!e) throw new HttpError(404, `no event with id ${id}`);
  sendJson(ctx.res, 200, e);
};

const runs: Handler = async (ctx) => {
  sendJson(ctx.res, 200, await listRuns(ctx.store, runListQuery(ctx.url)));
};

const run: Handler = async (ctx, runId) => {
  only(ctx.url, []);
  const { events: list, truncated } = await runEvents(ctx, runId!);
  if (list.length === 0) throw new HttpError(404, `no events for run ${runId}`);
  sendJson(ctx.res, 200, {
    run: await summarizeRun(ctx.store, runId!),
    tree: buildRunTree(list),
    truncated,
  });
};

const approvals: Handler = async (ctx) => {
  only(ctx.url, ["status", "limit"]);
  const status = single(ctx.url, "status") ?? "pending";
  if (status === "pending") {
    if (ctx.url.searchParams.has("limit"))
      throw new HttpError(400, "limit applies to status=resolved only");
    sendJson(ctx.res, 200, { approvals: await pendingApprovals(ctx.auditor) });
  } else if (status === "resolved") {
    const limit = limitOf(ctx.url, 50, 500);
    sendJson(ctx.res, 200, { approvals: await resolvedApprovals(ctx.store, limit) });
  } else throw new HttpError(400, `status must be pending or resolved, not "${status}"`);
};

const approval: Handler = async (ctx, id) => {
  only(ctx.url, []);
  sendJson(ctx.res, 200, await ctx.auditor.approvals.get(id!));
};

/** Resolves an approval for whoever the server says the user is; shared by the API and the form. */
export async function resolveApproval(
  ctx: RequestContext,
  approvalId: string,
  body: Record<string, unknown>,
): Promise<AuditEvent> {
  const input = resolutionInput(body);
  const resolvedBy = ctx.resolvedBy();
  const e = await ctx.auditor.approvals.resolve(approvalId, { ...input, resolvedBy });
  // Live pages learn of it now rather than at the next poll.
  ctx.feed.wake();
  return e;
}

const resolve: Handler = async (ctx, id) => {
  only(ctx.url, []);
  if (mediaType(ctx.req) !== "application/json")
    throw new HttpError(415, "send the resolution as application/json: {outcome, comment}");
  let body: unknown;
  try {
    body = JSON.parse(await readBody(ctx.req));
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "the body is not valid JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new HttpError(400, "the body must be a JSON object: {outcome, comment}");
  const e = await resolveApproval(ctx, id!, body as Record<string, unknown>);
  sendJson(ctx.res, 200, {
    approvalId: id,
    outcome: e.data.outcome,
    resolvedBy: e.data.resolvedBy,
    ...(e.data.comment !== undefined && { comment: e.data.comment }),
    time: e.time,
    eventId: e.id,
  });
};

const stream: Handler = async (ctx) => {
  await streamEvents(ctx.req, ctx.res, ctx.url, ctx.store, ctx.feed);
};

const verify: Handler = async (ctx) => {
  only(ctx.url, []);
  await streamVerify(ctx.req, ctx.res, ctx.store, ctx.verifyOptions);
};

/** Checks a path segment that must be an id; hostile segments never reach a store. */
export function idParam(value: string, what: string): string {
  if (value.length === 0 || value.length > 200 || /[\u0000-\u001f]/.test(value))
    throw new HttpError(400, `"${value.slice(0, 60)}" is not a valid ${what}`);
  return value;
}

/** The API routes: method, path pattern, handler. */
export const API_ROUTES: [string, RegExp, Handler][] = [
  ["GET", /^\/api\/health$/, health],
  ["GET", /^\/api\/events$/, events],
  ["GET", /^\/api\/events\/([^/]+)$/, event],
  ["GET", /^\/api\/runs$/, runs],
  ["GET", /^\/api\/runs\/([^/]+)$/, run],
  ["GET", /^\/api\/approvals$/, approvals],
  ["GET", /^\/api\/approvals\/([^/]+)$/, approval],
  ["POST", /^\/api\/approvals\/([^/]+)\/resolve$/, resolve],
  ["GET", /^\/api\/stream$/, stream],
  ["GET", /^\/api\/verify$/, verify],
];
