import type { AuditEvent, AuditFilter } from "@audit/core";
import { html, type SafeHtml } from "../html.js";
import { href, jsonBlock, layout, risk, seg, shortId, summary, time } from "./layout.js";

const RISKS = ["low", "medium", "high", "critical"];

/** The events explorer: the CLI's filters as a form, a page of events, a keyset "next" link. */
export function eventsPage(
  params: URLSearchParams,
  filter: AuditFilter,
  events: AuditEvent[],
  next: string | null,
): SafeHtml {
  const v = (name: string) => params.get(name) ?? "";
  const input = (label: string, name: string, hint = "") =>
    html`<label>${label} <input name="${name}" value="${v(name)}"${hint ? html` placeholder="${hint}"` : ""}></label>`;
  const nextParams: Record<string, string> = {};
  for (const [k, val] of params) if (k !== "after" && val !== "") nextParams[k] = val;
  const rows = events.map(
    (e) => html`<tr>
<td>${time(e.time)}</td>
<td><code>${e.type}</code></td>
<td>${e.actor ?? ""}</td>
<td>${e.runId ? html`<a href="/runs/${seg(e.runId)}">${shortId(e.runId)}</a>` : ""}</td>
<td>${risk(e.risk)}</td>
<td class="summary">${summary(e)}</td>
<td><a href="/events/${seg(e.id)}" aria-label="Event ${e.id}">${shortId(e.id)}</a></td>
</tr>`,
  );
  return layout(
    "Events",
    "events",
    html`<h1>Events</h1>
<form class="filters" method="get" action="/events" role="search" aria-label="Filter events">
${input("Type", "type", "tool.*")}
${input("Actor", "actor")}
${input("Session", "session")}
${input("Run", "run")}
<label>Risk <select name="risk"><option value="">any</option>${RISKS.map(
      (r) =>
        html`<option value="${r}"${filter.risk === r ? html` selected` : ""}>${r} and above</option>`,
    )}</select></label>
${input("Since", "since", "1h, 7d or a date")}
${input("Until", "until")}
${input("Data", "data", "key=value")}
<label>Order <select name="order"><option value="desc"${filter.order !== "asc" ? html` selected` : ""}>newest first</option><option value="asc"${filter.order === "asc" ? html` selected` : ""}>oldest first</option></select></label>
<button type="submit">Filter</button>
</form>
${
  events.length === 0
    ? html`<p class="muted">No events match.</p>`
    : html`<table class="list">
<caption class="sr-only">Events</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">Actor</th><th scope="col">Run</th><th scope="col">Risk</th><th scope="col">What</th><th scope="col">Id</th></tr></thead>
<tbody>${rows}</tbody>
</table>`
}
${next ? html`<p><a class="button" href="${href("/events", { ...nextParams, after: next })}">Next page →</a></p>` : ""}`,
  );
}

/** One event, whole. */
export function eventPage(e: AuditEvent): SafeHtml {
  return layout(
    `Event ${e.id}`,
    "events",
    html`<p><a href="/events">← Events</a>${e.runId ? html` · <a href="/runs/${seg(e.runId)}">its run</a>` : ""}</p>
<h1><code>${e.type}</code> ${time(e.time)}</h1>
${jsonBlock(e)}`,
  );
}
