import {
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  type Risk,
  riskAtLeast,
} from "@audit/core";

/** One row of the runs list. */
export interface RunSummary {
  runId: string;
  agent?: string;
  actor?: string;
  sessionId?: string;
  /** `running` until a `run.end` is stored. */
  status: "running" | "ok" | "error";
  /** Time of the first event of the run. */
  start: string;
  /** Time of `run.end`, once there is one. */
  end?: string;
  /** From `run.end`, else from the first to the last event. */
  durationMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Tool calls started, and how many of them failed. */
  toolCalls: number;
  toolErrors: number;
  llmCalls: number;
  events: number;
  /** The highest risk of any event of the run. */
  highestRisk?: Risk;
  /** Approval requests of the run without a resolution. */
  pendingApprovals: number;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** Folds a run's events, in any order, into its summary. */
export class RunSummarizer {
  readonly #runId: string;
  #first: AuditEvent | undefined;
  #last: AuditEvent | undefined;
  #start: AuditEvent | undefined;
  #end: AuditEvent | undefined;
  #summary: Omit<RunSummary, "runId" | "status" | "start" | "durationMs"> = {
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    toolCalls: 0,
    toolErrors: 0,
    llmCalls: 0,
    events: 0,
    pendingApprovals: 0,
  };
  #requested = new Set<string>();
  #resolved = new Set<string>();

  constructor(runId: string) {
    this.#runId = runId;
  }

  add(e: AuditEvent): void {
    const s = this.#summary;
    s.events++;
    if (!this.#first || e.time < this.#first.time) this.#first = e;
    if (!this.#last || e.time > this.#last.time) this.#last = e;
    if (e.risk && (!s.highestRisk || riskAtLeast(e.risk, s.highestRisk))) s.highestRisk = e.risk;
    switch (e.type) {
      case "run.start":
        this.#start = e;
        break;
      case "run.end":
        this.#end = e;
        break;
      case "tool.start":
        s.toolCalls++;
        break;
      case "tool.error":
        s.toolErrors++;
        break;
      case "llm.end":
        s.llmCalls++;
        s.inputTokens += num(e.data.inputTokens);
        s.outputTokens += num(e.data.outputTokens);
        s.costUsd += num(e.data.costUsd);
        break;
      case "approval.request":
        if (typeof e.data.approvalId === "string") this.#requested.add(e.data.approvalId);
        break;
      case "approval.resolve":
        if (typeof e.data.approvalId === "string") this.#resolved.add(e.data.approvalId);
        break;
    }
  }

  /** The summary, or undefined when no event was added. */
  result(): RunSummary | undefined {
    const first = this.#start ?? this.#first;
    if (!first || !this.#last) return undefined;
    const end = this.#end;
    const status = end === undefined ? "running" : end.data.status === "error" ? "error" : "ok";
    const usage = end?.data.usage as Record<string, unknown> | undefined;
    const s = { ...this.#summary };
    // A framework may report usage only on run.end; count it when no model call carried tokens.
    if (s.inputTokens === 0 && s.outputTokens === 0 && usage) {
      s.inputTokens = num(usage.inputTokens ?? usage.promptTokens);
      s.outputTokens = num(usage.outputTokens ?? usage.completionTokens);
    }
    s.costUsd = Math.round(s.costUsd * 1e6) / 1e6;
    s.pendingApprovals = [...this.#requested].filter((id) => !this.#resolved.has(id)).length;
    const summary: RunSummary = {
      runId: this.#runId,
      status,
      start: first.time,
      durationMs:
        typeof end?.data.durationMs === "number"
          ? end.data.durationMs
          : Date.parse(this.#last.time) - Date.parse(first.time),
      ...s,
    };
    const agent = this.#start?.data.agent;
    if (typeof agent === "string") summary.agent = agent;
    if (first.actor !== undefined) summary.actor = first.actor;
    if (first.sessionId !== undefined) summary.sessionId = first.sessionId;
    if (end) summary.end = end.time;
    return summary;
  }
}

/** Reads one run's events and summarises them (streamed: a long run is not held in memory). */
export async function summarizeRun(
  store: AuditStore,
  runId: string,
): Promise<RunSummary | undefined> {
  const s = new RunSummarizer(runId);
  for await (const e of store.stream({ runId })) s.add(e);
  return s.result();
}

/** Which runs to list. */
export interface RunListQuery {
  agent?: string;
  actor?: string;
  sessionId?: string;
  status?: "ok" | "error";
  since?: string;
  until?: string;
  limit: number;
  /** Keyset cursor: the `next` of the previous page. */
  after?: string;
}

/**
 * Newest runs first. A run is found by its `run.start` (or, when filtering by status, its
 * `run.end`), so the listing is one indexed, keyset-paged query whatever the trail's size; each
 * row is then summarised from that run's own events.
 */
export async function listRuns(
  store: AuditStore,
  q: RunListQuery,
): Promise<{ runs: RunSummary[]; next: string | null }> {
  const filter: AuditFilter = {
    type: q.status ? "run.end" : "run.start",
    order: "desc",
    limit: q.limit,
  };
  const data: Record<string, string> = {};
  if (q.agent && !q.status) data.agent = q.agent;
  if (q.status) data.status = q.status;
  if (Object.keys(data).length > 0) filter.data = data;
  if (q.actor) filter.actor = q.actor;
  if (q.sessionId) filter.sessionId = q.sessionId;
  if (q.since) filter.since = q.since;
  if (q.until) filter.until = q.until;
  if (q.after) filter.after = q.after;
  const rows = await store.query(filter);
  // run.end carries no agent: with both filters, check the agent on the summary.
  const runs: RunSummary[] = [];
  for (const row of rows) {
    if (!row.runId) continue;
    const s = await summarizeRun(store, row.runId);
    if (!s) continue;
    if (q.status && q.agent && s.agent !== q.agent) continue;
    runs.push(s);
  }
  const last = rows[rows.length - 1];
  return { runs, next: rows.length === q.limit && last ? last.id : null };
}
