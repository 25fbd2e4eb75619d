import type { AuditEvent } from "@audit/core";
import { html, type SafeHtml } from "../html.js";

const NAV: [string, string, string][] = [
  ["runs", "/runs", "Runs"],
  ["events", "/events", "Events"],
  ["approvals", "/approvals", "Approvals"],
  ["verify", "/verify", "Verify"],
];

/** The frame of every page: navigation, one stylesheet, one deferred script, no inline code. */
export function layout(title: string, active: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · audit</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<span class="brand">audit</span>
<nav aria-label="Main">
<ul>${NAV.map(
    ([key, href, label]) =>
      html`<li><a href="${href}"${key === active ? html` aria-current="page"` : ""}>${label}</a></li>`,
  )}</ul>
</nav>
</header>
<main id="main" tabindex="-1">
${body}
</main>
</body>
</html>
`;
}

/**
 * A timestamp: UTC in the markup (readable without script) and on hover; the script rewrites the
 * text in the viewer's time zone.
 */
export function time(iso: string | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`;
  const utc = `${iso.replace("T", " ").replace("Z", "")} UTC`;
  return html`<time datetime="${iso}" title="${utc}">${utc}</time>`;
}

/** A duration in readable units. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${Math.round(ms * 10) / 10} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A risk badge. */
export function risk(level: string | undefined): SafeHtml {
  if (!level) return html`<span class="muted">—</span>`;
  return html`<span class="badge risk-${level.replace(/[^a-z]/g, "")}">${level}</span>`;
}

/** A status badge. */
export function status(value: string): SafeHtml {
  return html`<span class="badge status-${value.replace(/[^a-z]/g, "")}">${value}</span>`;
}

/** Pretty JSON in a `<pre>`, escaped. */
export function jsonBlock(value: unknown): SafeHtml {
  return html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
}

/** A link to a path with query parameters, each encoded. */
export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** A path segment, encoded. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** One line saying what an event is about, at most 160 characters. */
export function summary(e: AuditEvent): string {
  const text = describe(e).trim();
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

function describe(e: AuditEvent): string {
  const d = e.data as Record<string, unknown>;
  const s = (v: unknown) => (typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v));
  switch (e.type) {
    case "run.start":
      return s(d.agent);
    case "run.end":
      return `${s(d.status)} ${d.durationMs !== undefined ? duration(Number(d.durationMs)) : ""}`;
    case "tool.start":
      return `${s(d.tool)} ${s(d.args)}`;
    case "tool.end":
      return `${s(d.tool)} → ${s(d.result)}`;
    case "tool.error":
      return `${s(d.tool)} ✗ ${s(d.errorType)}`;
    case "llm.end":
      return `${s(d.model)} ${d.inputTokens ?? 0}→${d.outputTokens ?? 0} tokens`;
    case "policy.decision":
      return `${s(d.policy)}: ${s(d.decision)}${d.rule ? ` (${s(d.rule)})` : ""}`;
    case "approval.request":
      return `${s(d.action)}${d.reason ? ` — ${s(d.reason)}` : ""}`;
    case "approval.resolve":
      return `${s(d.outcome)} by ${s(d.resolvedBy)}${d.comment ? ` — ${s(d.comment)}` : ""}`;
    case "error":
      return `${s(d.errorType)}: ${s(d.message)}`;
    default:
      return JSON.stringify(d);
  }
}

/** A short form of a long id, with the whole id on hover. */
export function shortId(id: string): SafeHtml {
  return html`<code title="${id}">${id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id}</code>`;
}

/** A notice box. */
export function notice(kind: "ok" | "error" | "info", text: SafeHtml | string): SafeHtml {
  return html`<p class="notice notice-${kind}" role="${kind === "error" ? "alert" : "status"}">${text}</p>`;
}
