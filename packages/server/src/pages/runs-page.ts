import { html, type SafeHtml } from "../html.js";
import type { RunListQuery, RunSummary } from "../run-summary.js";
import { duration, href, layout, risk, seg, shortId, status, time } from "./layout.js";

function tokens(r: RunSummary): string {
  return r.inputTokens + r.outputTokens === 0
    ? "—"
    : `${r.inputTokens.toLocaleString("en")} / ${r.outputTokens.toLocaleString("en")}`;
}

function field(label: string, name: string, value: string | undefined, hint = ""): SafeHtml {
  return html`<label>${label} <input name="${name}" value="${value ?? ""}"${hint ? html` placeholder="${hint}"` : ""}></label>`;
}

/** The runs list: newest first, with filters and a keyset "older runs" link. */
export function runsPage(q: RunListQuery, runs: RunSummary[], next: string | null): SafeHtml {
  const rows = runs.map(
    (r) => html`<tr>
<td><a href="/runs/${seg(r.runId)}">${r.agent ?? r.actor ?? "run"}</a><br>${shortId(r.runId)}</td>
<td>${status(r.status)}</td>
<td>${time(r.start)}</td>
<td class="num">${duration(r.durationMs)}</td>
<td class="num">${tokens(r)}</td>
<td class="num">${r.costUsd ? `$${r.costUsd.toFixed(4)}` : "—"}</td>
<td class="num">${r.toolCalls}${r.toolErrors ? html` <span class="badge status-error">${r.toolErrors} failed</span>` : ""}</td>
<td>${risk(r.highestRisk)}</td>
<td class="num">${r.pendingApprovals ? html`<a href="/approvals">${r.pendingApprovals} pending</a>` : "—"}</td>
</tr>`,
  );
  const more = next
    ? html`<p><a class="button" href="${href("/runs", {
        agent: q.agent,
        actor: q.actor,
        session: q.sessionId,
        status: q.status,
        since: q.since,
        until: q.until,
        after: next,
      })}">Older runs →</a></p>`
    : "";
  return layout(
    "Runs",
    "runs",
    html`<h1>Runs</h1>
<form class="filters" method="get" action="/runs" role="search" aria-label="Filter runs">
${field("Agent", "agent", q.agent)}
${field("Session", "session", q.sessionId)}
<label>Status <select name="status">
<option value="">any</option>
<option value="ok"${q.status === "ok" ? html` selected` : ""}>ok</option>
<option value="error"${q.status === "error" ? html` selected` : ""}>error</option>
</select></label>
${field("Since", "since", q.since, "1h, 7d or a date")}
<button type="submit">Filter</button>
</form>
${
  runs.length === 0
    ? html`<p class="muted">No runs match.</p>`
    : html`<table class="list">
<caption class="sr-only">Runs, newest first</caption>
<thead><tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Tokens in / out</th><th scope="col">Cost</th><th scope="col">Tool calls</th><th scope="col">Highest risk</th><th scope="col">Approvals</th></tr></thead>
<tbody>${rows}</tbody>
</table>`
}
${more}`,
  );
}
