// The pages' only script: local times, the live approvals inbox and streamed verification.
// Everything works without it (forms post and redirect); it never builds HTML from strings.

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

const localFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 3,
  timeZoneName: "short",
});

function timeEl(iso) {
  const utc = `${iso.replace("T", " ").replace("Z", "")} UTC`;
  const t = el("time", { datetime: iso, title: utc }, utc);
  localize(t);
  return t;
}

function localize(t) {
  const d = new Date(t.getAttribute("datetime"));
  if (!Number.isNaN(d.getTime())) t.textContent = localFormat.format(d);
}

function localizeAll(root) {
  for (const t of root.querySelectorAll("time[datetime]")) localize(t);
}

// ---- approvals inbox ----

function say(text) {
  const status = document.getElementById("live-status");
  if (status) status.textContent = text;
}

function updateCount() {
  const count = document.getElementById("pending-count");
  const pending = document.querySelectorAll("#pending article.approval:not(.is-resolved)");
  if (count) count.textContent = String(pending.length);
}

function resolutionNode(r) {
  return el(
    "span",
    {},
    el("strong", {}, String(r.outcome)),
    " by ",
    el("strong", {}, String(r.resolvedBy)),
    " ",
    r.time && r.time !== "unknown" ? timeEl(r.time) : "",
    r.comment ? ` — “${r.comment}”` : "",
  );
}

function markResolved(card, r, byMe) {
  if (!card || card.classList.contains("is-resolved")) return;
  card.classList.add("is-resolved");
  const state = card.querySelector(".state");
  if (state) {
    state.replaceChildren(byMe ? "Resolved: " : "Resolved by someone else: ", resolutionNode(r));
  }
  for (const control of card.querySelectorAll("button, textarea")) control.disabled = true;
  updateCount();
}

function cardFor(id) {
  for (const card of document.querySelectorAll("#pending article.approval")) {
    if (card.dataset.approvalId === id) return card;
  }
  return undefined;
}

function buildCard(view) {
  const id = view.approvalId;
  const d = view.request.data || {};
  const facts = el(
    "dl",
    { class: "facts" },
    el("div", {}, el("dt", {}, "Requested"), el("dd", {}, timeEl(view.request.time))),
    el("div", {}, el("dt", {}, "By"), el("dd", {}, view.request.actor || "—")),
  );
  if (view.request.runId) {
    const link = el(
      "a",
      { href: `/runs/${encodeURIComponent(view.request.runId)}` },
      `${view.run?.agent || "run"} ${view.request.runId.slice(0, 8)}…`,
    );
    facts.append(el("div", {}, el("dt", {}, "Run"), el("dd", {}, link)));
  }
  const comment = el("textarea", { id: `c-${id}`, name: "comment", rows: 2, maxlength: 4000 });
  const form = el(
    "form",
    { class: "resolve", method: "post", action: `/approvals/${encodeURIComponent(id)}/resolve` },
    el("label", { for: `c-${id}` }, "Comment"),
    comment,
    el(
      "div",
      { class: "buttons" },
      el(
        "button",
        { type: "submit", name: "outcome", value: "approve", class: "approve" },
        "Approve",
      ),
      el("button", { type: "submit", name: "outcome", value: "deny", class: "deny" }, "Deny"),
    ),
  );
  wireForm(form);
  const risk = view.request.risk
    ? el(
        "span",
        { class: `badge risk-${String(view.request.risk).replace(/[^a-z]/g, "")}` },
        view.request.risk,
      )
    : "";
  return el(
    "article",
    { class: "approval is-new", "data-approval-id": id, "aria-labelledby": `a-${id}` },
    el("h3", { id: `a-${id}` }, String(d.action || "approval"), " ", risk),
    d.reason ? el("p", { class: "reason" }, String(d.reason)) : "",
    facts,
    el("p", { class: "state", "aria-live": "polite" }),
    form,
  );
}

async function addNewRequests() {
  const res = await fetch("/api/approvals?status=pending", { credentials: "same-origin" });
  if (!res.ok) return;
  const { approvals } = await res.json();
  const list = document.getElementById("pending");
  const empty = list.querySelector(".empty");
  for (const view of approvals) {
    if (cardFor(view.approvalId)) continue;
    if (empty) empty.remove();
    list.append(buildCard(view));
    say(`New request: ${view.request.data.action}`);
  }
  updateCount();
}

function addResolvedRow(e) {
  const list = document.getElementById("resolved");
  if (!list) return;
  for (const li of list.children) if (li.dataset.approvalId === e.data.approvalId) return;
  const card = cardFor(e.data.approvalId);
  const action = card ? card.querySelector("h3").firstChild.textContent.trim() : "approval";
  list.prepend(
    el(
      "li",
      { "data-approval-id": e.data.approvalId },
      el("strong", {}, action),
      ": ",
      resolutionNode({ ...e.data, time: e.time }),
    ),
  );
}

// Approvals this page is resolving: their resolution may come back over the stream before the
// answer to our own POST does, and must not be shown as someone else's.
const resolving = new Set();

function wireForm(form) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const card = form.closest("article.approval");
    const id = card.dataset.approvalId;
    resolving.add(id);
    const outcome = ev.submitter ? ev.submitter.value : "approve";
    const comment = form.querySelector("textarea").value;
    const state = card.querySelector(".state");
    for (const b of form.querySelectorAll("button")) b.disabled = true;
    try {
      const res = await fetch(`/api/approvals/${encodeURIComponent(id)}/resolve`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(comment.trim() ? { outcome, comment } : { outcome }),
      });
      const body = await res.json();
      resolving.delete(id);
      if (res.ok) markResolved(card, body, true);
      else if (res.status === 409) markResolved(card, body.resolution, false);
      else {
        state.textContent = `Could not resolve: ${body.error}`;
        for (const b of form.querySelectorAll("button")) b.disabled = false;
      }
    } catch (err) {
      resolving.delete(id);
      state.textContent = `Could not reach the server: ${err.message}`;
      for (const b of form.querySelectorAll("button")) b.disabled = false;
    }
  });
}

function startInbox() {
  for (const form of document.querySelectorAll("form.resolve")) wireForm(form);
  const source = new EventSource("/api/stream?type=approval.*");
  source.addEventListener("open", () => {
    document.body.dataset.live = "on";
    say("Live: new requests and decisions appear here as they happen.");
  });
  source.addEventListener("error", () => {
    document.body.dataset.live = "off";
    say("Live updates interrupted; reconnecting…");
  });
  source.addEventListener("message", (msg) => {
    const e = JSON.parse(msg.data);
    if (e.type === "approval.request") void addNewRequests();
    if (e.type === "approval.resolve") {
      const card = cardFor(e.data.approvalId);
      if (!resolving.has(e.data.approvalId)) markResolved(card, { ...e.data, time: e.time }, false);
      addResolvedRow(e);
    }
  });
}

// ---- verify ----

function renderReport(r) {
  const out = document.getElementById("verify-report");
  const parts = [];
  parts.push(
    el(
      "p",
      { class: `notice notice-${r.ok ? "ok" : "error"}`, role: r.ok ? "status" : "alert" },
      r.ok
        ? `Every chain verifies: ${r.events} events in ${r.chains.length} chains.`
        : `${r.problems.length + r.unlisted} problems in ${r.events} events.`,
    ),
  );
  const findings = (title, list) => {
    if (list.length === 0) return;
    parts.push(el("h2", {}, title));
    const ul = el("ul", { class: "findings" });
    for (const p of list) {
      const li = el("li", {}, el("strong", {}, p.kind));
      if (p.seq !== undefined) li.append(` seq ${p.seq}`);
      if (p.eventId) {
        li.append(
          " ",
          el(
            "a",
            { href: `/events/${encodeURIComponent(p.eventId)}` },
            `${p.eventType || "event"} ${p.eventId}`,
          ),
        );
      }
      li.append(`: ${p.message}`);
      ul.append(li);
    }
    parts.push(ul);
  };
  findings("Problems", r.problems);
  findings("Warnings", r.warnings);
  parts.push(el("h2", {}, "Chains"));
  const tbody = el("tbody");
  for (const c of r.chains) {
    tbody.append(
      el(
        "tr",
        {},
        el("td", {}, el("code", { title: c.id }, `${c.id.slice(0, 8)}…`)),
        el("td", { class: "num" }, String(c.events)),
        el("td", { class: "num" }, `${c.firstSeq}–${c.lastSeq}`),
        el("td", {}, c.closed ? "yes" : "open"),
        el("td", {}, c.alg || "—"),
      ),
    );
  }
  const head = el("tr");
  for (const h of ["Chain", "Events", "Seq", "Closed", "Algorithm"])
    head.append(el("th", { scope: "col" }, h));
  parts.push(el("table", { class: "list" }, el("thead", {}, head), tbody));
  out.replaceChildren(...parts);
}

function startVerify() {
  const form = document.getElementById("verify-form");
  const progress = document.getElementById("verify-progress");
  const count = document.getElementById("verify-count");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    progress.hidden = false;
    document.getElementById("verify-report").replaceChildren();
    const source = new EventSource("/api/verify");
    source.addEventListener("progress", (msg) => {
      const { checked, total } = JSON.parse(msg.data);
      progress.max = Math.max(1, total);
      progress.value = checked;
      count.textContent = `${checked.toLocaleString()} of ${total.toLocaleString()} events checked`;
    });
    source.addEventListener("report", (msg) => {
      source.close();
      button.disabled = false;
      renderReport(JSON.parse(msg.data));
    });
    source.addEventListener("failure", (msg) => {
      source.close();
      button.disabled = false;
      count.textContent = `Verification failed: ${JSON.parse(msg.data).error}`;
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) button.disabled = false;
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localizeAll(document);
  if (document.getElementById("pending")) startInbox();
  if (document.getElementById("verify-form")) startVerify();
});
