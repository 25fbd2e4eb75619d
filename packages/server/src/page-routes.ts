import { ApprovalConflictError } from "@audit/core";
import { resolveApproval, runEvents, runListQuery } from "./api.js";
import { pendingApprovals, resolvedApprovals } from "./approvals.js";
import type { Handler } from "./context.js";
import { filterFromParams } from "./filter-params.js";
import { HttpError, mediaType, readBody, redirect, sendHtml } from "./http.js";
import { approvalsPage, type InboxNotice } from "./pages/approvals-page.js";
import { eventPage, eventsPage } from "./pages/events-page.js";
import { runsPage } from "./pages/runs-page.js";
import { timelinePage } from "./pages/timeline-page.js";
import { verifyPage } from "./pages/verify-page.js";
import { listRuns, summarizeRun } from "./run-summary.js";
import { buildRunTree } from "./run-tree.js";
import { verifyWithProgress } from "./verify-stream.js";

const home: Handler = async (ctx) => redirect(ctx.res, "/runs");

// Browsers ask for it on every page; there is none, and a 404 would read as an error.
const favicon: Handler = async (ctx) => {
  ctx.res.writeHead(204);
  ctx.res.end();
};

const runs: Handler = async (ctx) => {
  const q = runListQuery(ctx.url);
  const { runs: list, next } = await listRuns(ctx.store, q);
  sendHtml(ctx.res, 200, runsPage(q, list, next));
};

const timeline: Handler = async (ctx, runId) => {
  const { events, truncated } = await runEvents(ctx, runId!);
  if (events.length === 0) throw new HttpError(404, `no events for run ${runId}`);
  const summary = await summarizeRun(ctx.store, runId!);
  sendHtml(ctx.res, 200, timelinePage(runId!, summary, buildRunTree(events), truncated));
};

const events: Handler = async (ctx) => {
  const params = ctx.url.searchParams;
  const filter = filterFromParams(params, { defaultLimit: 100, maxLimit: 1000 });
  if (!params.get("order")) filter.order = "desc";
  const list = await ctx.store.query(filter);
  const last = list[list.length - 1];
  sendHtml(
    ctx.res,
    200,
    eventsPage(params, filter, list, last && list.length === filter.limit ? last.id : null),
  );
};

const event: Handler = async (ctx, id) => {
  const e = await ctx.store.get(id!);
  if (!e) throw new HttpError(404, `no event with id ${id}`);
  sendHtml(ctx.res, 200, eventPage(e));
};

const approvals: Handler = async (ctx) => {
  let note: InboxNotice | undefined;
  for (const kind of ["resolved", "conflict"] as const) {
    const id = ctx.url.searchParams.get(kind);
    if (id) note = { kind, approval: await ctx.auditor.approvals.get(id) };
  }
  const [pending, resolved] = await Promise.all([
    pendingApprovals(ctx.auditor),
    resolvedApprovals(ctx.store, 20),
  ]);
  sendHtml(ctx.res, 200, approvalsPage(pending, resolved, note));
};

/** The inbox's form POST (no script): resolve, then back to the inbox, which says what happened. */
const resolveForm: Handler = async (ctx, id) => {
  if (mediaType(ctx.req) !== "application/x-www-form-urlencoded")
    throw new HttpError(415, "the inbox form posts application/x-www-form-urlencoded");
  const form = new URLSearchParams(await readBody(ctx.req));
  const body: Record<string, unknown> = {};
  for (const [k, v] of form) body[k] = v;
  try {
    await resolveApproval(ctx, id!, body);
  } catch (err) {
    if (err instanceof ApprovalConflictError)
      return redirect(ctx.res, `/approvals?conflict=${encodeURIComponent(id!)}`);
    throw err;
  }
  redirect(ctx.res, `/approvals?resolved=${encodeURIComponent(id!)}`);
};

const verify: Handler = async (ctx) => {
  const run = ctx.url.searchParams.get("run") === "1";
  const result = run
    ? await verifyWithProgress(ctx.store, ctx.verifyOptions, () => undefined)
    : undefined;
  sendHtml(ctx.res, 200, verifyPage(result));
};

/** The page routes: method, path pattern, handler. */
export const PAGE_ROUTES: [string, RegExp, Handler][] = [
  ["GET", /^\/$/, home],
  ["GET", /^\/favicon\.ico$/, favicon],
  ["GET", /^\/runs$/, runs],
  ["GET", /^\/runs\/([^/]+)$/, timeline],
  ["GET", /^\/events$/, events],
  ["GET", /^\/events\/([^/]+)$/, event],
  ["GET", /^\/approvals$/, approvals],
  ["POST", /^\/approvals\/([^/]+)\/resolve$/, resolveForm],
  ["GET", /^\/verify$/, verify],
];
