import { html, type SafeHtml } from "../html.js";
import type { VerifyResult } from "../verify-stream.js";
import { layout, notice, seg, shortId } from "./layout.js";

/** The findings and chain table of a verification (also rendered by the script from SSE). */
function report(r: VerifyResult): SafeHtml {
  const finding = (p: VerifyResult["problems"][number]) =>
    html`<li><strong>${p.kind}</strong>${p.chainId ? html` chain ${shortId(p.chainId)}` : ""}${p.seq !== undefined ? html` seq ${p.seq}` : ""}${
      p.eventId
        ? html` <a href="/events/${seg(p.eventId)}">${p.eventType ?? "event"} ${shortId(p.eventId)}</a>`
        : ""
    }: ${p.message}</li>`;
  return html`${
    r.ok
      ? notice("ok", `Every chain verifies: ${r.events} events in ${r.chains.length} chains.`)
      : notice("error", `${r.problems.length + r.unlisted} problems in ${r.events} events.`)
  }
${r.problems.length > 0 ? html`<h2>Problems</h2><ul class="findings">${r.problems.map(finding)}</ul>` : ""}
${r.unlisted > 0 ? html`<p>… and ${r.unlisted} more problems.</p>` : ""}
${r.warnings.length > 0 ? html`<h2>Warnings</h2><ul class="findings">${r.warnings.map(finding)}</ul>` : ""}
<h2>Chains</h2>
<table class="list">
<thead><tr><th scope="col">Chain</th><th scope="col">Events</th><th scope="col">Seq</th><th scope="col">Closed</th><th scope="col">Algorithm</th></tr></thead>
<tbody>${r.chains.map(
    (c) =>
      html`<tr><td>${shortId(c.id)}</td><td class="num">${c.events}</td><td class="num">${c.firstSeq}–${c.lastSeq}</td><td>${c.closed ? "yes" : "open"}</td><td>${c.alg ?? "—"}</td></tr>`,
  )}</tbody>
</table>`;
}

/** The verify page: a button that streams progress (script), or a plain GET that waits (no script). */
export function verifyPage(result: VerifyResult | undefined): SafeHtml {
  return layout(
    "Verify",
    "verify",
    html`<h1>Verify the trail</h1>
<p>Recomputes every event's hash, follows every chain and compares it with its checkpoints.</p>
<form method="get" action="/verify" id="verify-form">
<input type="hidden" name="run" value="1">
<button type="submit">Verify now</button>
</form>
<p><progress id="verify-progress" max="1" value="0" hidden></progress> <span id="verify-count" aria-live="polite"></span></p>
<div id="verify-report">${result ? report(result) : ""}</div>`,
  );
}
