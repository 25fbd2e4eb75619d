import type { Approval } from "@audit/core";
import type { ApprovalView } from "../approvals.js";
import { html, type SafeHtml } from "../html.js";
import { jsonBlock, layout, notice, risk, seg, shortId, summary, time } from "./layout.js";

/** What the page reports after a form POST (looked up again, never read from the URL's text). */
export interface InboxNotice {
  kind: "resolved" | "conflict";
  approval: Approval;
}

function resolutionText(a: Approval): SafeHtml {
  const r = a.resolution;
  if (!r) return html``;
  return html`<strong>${r.data.outcome}</strong> by <strong>${r.data.resolvedBy}</strong> ${time(r.time)}${r.data.comment ? html` — “${r.data.comment}”` : ""}`;
}

function card(a: ApprovalView): SafeHtml {
  const d = a.request.data;
  const id = a.approvalId;
  const run = a.run;
  return html`<article class="approval" data-approval-id="${id}" aria-labelledby="a-${id}">
<h3 id="a-${id}">${d.action} ${risk(a.request.risk)}</h3>
${d.reason ? html`<p class="reason">${d.reason}</p>` : ""}
<dl class="facts">
<div><dt>Requested</dt><dd>${time(a.request.time)}</dd></div>
<div><dt>By</dt><dd>${a.request.actor ?? "—"}</dd></div>
${
  a.request.runId
    ? html`<div><dt>Run</dt><dd><a href="/runs/${seg(a.request.runId)}">${run?.agent ?? "run"} ${shortId(a.request.runId)}</a></dd></div>`
    : ""
}
${a.request.sessionId ? html`<div><dt>Session</dt><dd>${a.request.sessionId}</dd></div>` : ""}
<div><dt>Approval id</dt><dd>${shortId(id)}</dd></div>
</dl>
${d.options !== undefined ? html`<details><summary>Options</summary>${jsonBlock(d.options)}</details>` : ""}
${
  a.context && a.context.length > 0
    ? html`<details class="context"><summary>What the run did before asking (${a.context.length})</summary><ol>${a.context.map(
        (e) => html`<li>${time(e.time)} <code>${e.type}</code> ${summary(e)}</li>`,
      )}</ol></details>`
    : ""
}
<p class="state" aria-live="polite"></p>
<form class="resolve" method="post" action="/approvals/${seg(id)}/resolve">
<label for="c-${id}">Comment</label>
<textarea id="c-${id}" name="comment" rows="2" maxlength="4000"></textarea>
<div class="buttons">
<button type="submit" name="outcome" value="approve" class="approve">Approve</button>
<button type="submit" name="outcome" value="deny" class="deny">Deny</button>
</div>
</form>
</article>`;
}

function resolvedRow(a: ApprovalView): SafeHtml {
  return html`<li data-approval-id="${a.approvalId}"><strong>${a.request.data.action}</strong> ${a.request.runId ? html`(<a href="/runs/${seg(a.request.runId)}">run</a>)` : ""}: ${resolutionText(a)}</li>`;
}

/**
 * The approvals inbox. Without script, each Approve / Deny is a form POST answered by a redirect
 * back here; with it, the page resolves in place and follows new requests and resolutions live.
 */
export function approvalsPage(
  pending: ApprovalView[],
  resolved: ApprovalView[],
  note: InboxNotice | undefined,
): SafeHtml {
  let top: SafeHtml | string = "";
  if (note?.kind === "resolved")
    top = notice(
      "ok",
      html`Resolved ${note.approval.request.data.action}: ${resolutionText(note.approval)}`,
    );
  else if (note?.kind === "conflict")
    top = notice(
      "error",
      html`Someone else answered first — ${note.approval.request.data.action}: ${resolutionText(note.approval)}`,
    );
  return layout(
    "Approvals",
    "approvals",
    html`<h1>Approvals</h1>
${top}
<div id="live-status" class="muted" aria-live="polite"></div>
<h2>Waiting for a decision <span class="count" id="pending-count">${pending.length}</span></h2>
<div id="pending" class="approvals">${
      pending.length === 0
        ? html`<p class="muted empty">Nothing is waiting.</p>`
        : pending.map(card)
    }</div>
<h2>Recently resolved</h2>
<ul id="resolved" class="resolved">${resolved.map(resolvedRow)}</ul>`,
  );
}
