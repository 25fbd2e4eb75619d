import type { AuditEvent } from "@audit/core";
import { html, type SafeHtml } from "../html.js";
import type { RunSummary } from "../run-summary.js";
import { flattenTree, type SpanNode } from "../run-tree.js";
import { duration, jsonBlock, layout, notice, risk, seg, shortId, status, time } from "./layout.js";

const WIDTH = 1000;

function bar(node: SpanNode, t0: number, span: number): SafeHtml {
  const start = Date.parse(node.start);
  const end = node.end ? Date.parse(node.end) : start;
  const x = Math.max(0, Math.min(WIDTH, ((start - t0) / span) * WIDTH));
  // Instant events (a policy decision, an error) still get a visible mark.
  const w = Math.max(4, Math.min(WIDTH - x, ((end - start) / span) * WIDTH));
  // SVG geometry attributes, not inline styles: the page's CSP allows no inline style.
  return html`<svg class="bar" viewBox="0 0 ${WIDTH} 14" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect class="k-${node.kind} s-${node.status}" x="${x.toFixed(1)}" y="2" width="${w.toFixed(1)}" height="10" rx="2"></rect></svg>`;
}

function detail(e: AuditEvent): SafeHtml {
  return html`<div class="event">
<p><strong>${e.type}</strong> ${time(e.time)} ${risk(e.risk)} <a href="/events/${seg(e.id)}">${shortId(e.id)}</a></p>
${jsonBlock(e.data)}
</div>`;
}

function tokens(n: SpanNode): string {
  if (n.inputTokens === undefined && n.outputTokens === undefined) return "";
  return `${n.inputTokens ?? 0} → ${n.outputTokens ?? 0} tokens`;
}

/**
 * A run's timeline: one row per operation in tree order, indented by depth, with a bar placed on
 * the run's time axis; each row opens to the events it recorded (arguments, results, errors).
 */
export function timelinePage(
  runId: string,
  run: RunSummary | undefined,
  roots: SpanNode[],
  truncated: boolean,
): SafeHtml {
  const rows = flattenTree(roots);
  const starts = rows.map((r) => Date.parse(r.node.start));
  const ends = rows.map((r) => Date.parse(r.node.end ?? r.node.start));
  const t0 = Math.min(...starts);
  const span = Math.max(1, Math.max(...ends) - t0);
  const body = rows.map(({ node, depth }) => {
    const offset = Date.parse(node.start) - t0;
    return html`<li class="span depth-${Math.min(depth, 8)} kind-${node.kind}">
<details>
<summary>
<span class="span-name"><span class="kind">${node.kind}</span> ${node.name.startsWith(`${node.kind} `) ? node.name.slice(node.kind.length + 1) : node.name}</span>
<span class="span-status">${status(node.status)}</span>
<span class="span-bar">${bar(node, t0, span)}</span>
<span class="span-time num">+${duration(offset)}</span>
<span class="span-duration num">${duration(node.durationMs)}</span>
<span class="span-tokens num">${tokens(node)}${node.costUsd ? ` · $${node.costUsd}` : ""}</span>
</summary>
<div class="span-events">${node.events.map(detail)}</div>
</details>
</li>`;
  });
  const facts = run
    ? html`<dl class="facts">
<div><dt>Agent</dt><dd>${run.agent ?? run.actor ?? "—"}</dd></div>
<div><dt>Status</dt><dd>${status(run.status)}</dd></div>
<div><dt>Started</dt><dd>${time(run.start)}</dd></div>
<div><dt>Duration</dt><dd>${duration(run.durationMs)}</dd></div>
<div><dt>Tokens in / out</dt><dd>${run.inputTokens} / ${run.outputTokens}</dd></div>
<div><dt>Cost</dt><dd>${run.costUsd ? `$${run.costUsd.toFixed(4)}` : "—"}</dd></div>
<div><dt>Tool calls</dt><dd>${run.toolCalls} (${run.toolErrors} failed)</dd></div>
<div><dt>Highest risk</dt><dd>${risk(run.highestRisk)}</dd></div>
<div><dt>Session</dt><dd>${run.sessionId ?? "—"}</dd></div>
<div><dt>Events</dt><dd><a href="/events?run=${seg(runId)}">${run.events} events</a></dd></div>
</dl>`
    : "";
  return layout(
    `Run ${runId}`,
    "runs",
    html`<p><a href="/runs">← Runs</a></p>
<h1>Run ${run?.agent ?? ""} <small>${shortId(runId)}</small></h1>
${facts}
${truncated ? notice("info", "This run has more events than one page shows; the first ones are drawn.") : ""}
<h2 id="timeline-heading">Timeline</h2>
<p class="muted">Each row is one operation; open it to see what was recorded.</p>
<div class="waterfall-head" aria-hidden="true"><span>Operation</span><span>Status</span><span>0 — ${duration(span)}</span><span>Start</span><span>Duration</span><span>Tokens</span></div>
<ol class="waterfall" aria-labelledby="timeline-heading">${body}</ol>`,
  );
}
