import { join } from "node:path";
import { Auditor } from "@audit/core";
import type { SqliteStore } from "@audit/sqlite";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditServer } from "../src/index.js";
import { openSse, type StoreFixture, sqliteFixture } from "./helpers.js";

// The server-rendered pages over a real SQLite file: hostile strings from the trail are escaped
// everywhere, the inbox works without script (form POST, Origin check, redirect), verify streams
// progress and names each finding's event, and /mcp sits behind the token.

const TOKEN = "pages-token-0123456789abcdef";
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>"'&`;

let fx: StoreFixture;
let server: AuditServer;
let cookie = "";
let origin = "";
let runId = "";
let approvalId = "";
let secondApprovalId = "";
let toolEndId = "";
const mcpCalls: string[] = [];

beforeAll(async () => {
  fx = await sqliteFixture();
  const audit = new Auditor({ store: fx.store, spool: false });
  const run = audit.startRun({ agent: HOSTILE, sessionId: HOSTILE, input: HOSTILE });
  runId = run.runId;
  await run.tool(HOSTILE, { q: HOSTILE }, () => ({ answer: HOSTILE }));
  run.policy({ policy: HOSTILE, decision: "deny", reason: HOSTILE });
  run.error(new Error(HOSTILE));
  run.event("custom.thing", { note: HOSTILE });
  approvalId = run.requestApproval({ action: HOSTILE, reason: HOSTILE, options: { why: HOSTILE } });
  secondApprovalId = run.requestApproval({ action: "second" });
  await run.end({ output: HOSTILE });
  await audit.close();
  toolEndId = (await fx.store.query({ type: "tool.end" }))[0]!.id;
  server = new AuditServer({
    store: fx.store,
    port: 0,
    token: TOKEN,
    user: `reviewer ${HOSTILE}`,
    mcp: (req, res) => {
      mcpCalls.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ mounted: true }));
    },
  });
  await server.listen();
  origin = server.url;
  const login = await fetch(server.openUrl, { redirect: "manual" });
  cookie = login.headers.get("set-cookie")!.split(";")[0]!;
});

afterAll(async () => {
  await server?.close();
  await fx?.dispose();
});

const page = async (path: string) => {
  const res = await fetch(origin + path, { headers: { cookie } });
  expect(res.status, path).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/html");
  return res.text();
};

function expectEscaped(body: string): void {
  expect(body).not.toContain("<script>alert");
  expect(body).not.toContain("<img src=x");
  expect(body).toContain("&lt;script&gt;alert(");
  // The only script is the static file: no inline code.
  expect(body.match(/<script/g)).toHaveLength(1);
  expect(body).toContain('<script src="/static/app.js" defer></script>');
  // No element carries an event handler or an inline style (escaped text may mention them).
  expect(body).not.toMatch(/<[a-z][^>]*\son[a-z]+\s*=/i);
  expect(body).not.toMatch(/<[a-z][^>]*\sstyle\s*=/i);
}

describe("pages", () => {
  it("escape hostile strings from the trail on every page", async () => {
    const paths = [
      "/runs",
      `/runs/${runId}`,
      `/events?run=${runId}`,
      `/events/${toolEndId}`,
      "/approvals",
    ];
    for (const path of paths) expectEscaped(await page(path));
    // A hostile filter value is echoed back escaped too (here it is also a bad type: a 400 page).
    const res = await fetch(`${origin}/events?actor=${encodeURIComponent(HOSTILE)}`, {
      headers: { cookie },
    });
    const body = await res.text();
    expect(body).not.toContain("<script>alert");
    expect(body).toContain("&lt;script&gt;");
  });

  it("render the runs list, the timeline with its waterfall, and times with UTC on hover", async () => {
    const runs = await page("/runs");
    expect(runs).toContain(`href="/runs/${runId}"`);
    const timeline = await page(`/runs/${runId}`);
    expect(timeline).toContain('class="waterfall"');
    for (const kind of ["run", "tool", "policy", "error", "approval", "event"])
      expect(timeline).toContain(`kind-${kind}`);
    expect(timeline).toMatch(/<rect class="k-tool s-ok" x="[\d.]+" y="2" width="[\d.]+"/);
    expect(timeline).toMatch(
      /<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z" title="\d{4}-\d\d-\d\d [\d:.]+ UTC">/,
    );
    // Recorded arguments and results are in the row's details.
    expect(timeline).toContain("&quot;answer&quot;");
  });

  it("serve the script and stylesheet as files, behind the token", async () => {
    const js = await fetch(`${origin}/static/app.js`, { headers: { cookie } });
    expect(js.headers.get("content-type")).toContain("text/javascript");
    expect(await js.text()).toContain("EventSource");
    expect((await fetch(`${origin}/static/app.css`)).status).toBe(401);
  });

  it("resolve from the inbox without script: form POST with this server's Origin, then a redirect that says who resolved", async () => {
    const form = (id: string, headers: Record<string, string>) =>
      fetch(`${origin}/approvals/${id}/resolve`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams({ outcome: "approve", comment: HOSTILE }).toString(),
      });
    // Another site's form cannot resolve, even with the cookie.
    expect((await form(approvalId, { origin: "http://attacker.example" })).status).toBe(403);
    expect((await form(approvalId, {})).status).toBe(403);
    const ok = await form(approvalId, { origin });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe(`/approvals?resolved=${approvalId}`);
    const after = await page(ok.headers.get("location")!);
    expectEscaped(after);
    expect(after).toContain("Resolved");
    expect(after).toContain("reviewer &lt;script&gt;");
    const again = await form(approvalId, { origin });
    expect(again.headers.get("location")).toBe(`/approvals?conflict=${approvalId}`);
    expect(await page(again.headers.get("location")!)).toContain("Someone else answered first");
    const [stored] = await fx.store.query({ type: "approval.resolve", approvalId });
    expect(stored!.data).toMatchObject({
      outcome: "approve",
      resolvedBy: `reviewer ${HOSTILE}`,
      comment: HOSTILE,
    });
    // The other request is still pending, with buttons.
    const inbox = await page("/approvals");
    expect(inbox).toContain(`data-approval-id="${secondApprovalId}"`);
    expect(inbox).toContain('name="outcome" value="approve"');
  });

  it("verify: progress as SSE, then a report; a modified event is named with its id and type", async () => {
    const ok = await openSse(`${origin}/api/verify`, { cookie });
    const frames: { event?: string; data: string }[] = [];
    for (;;) {
      const f = await ok.next();
      frames.push(f);
      if (f.event === "report") break;
    }
    ok.close();
    expect(frames[0]!.event).toBe("progress");
    const report = JSON.parse(frames.at(-1)!.data);
    const last = JSON.parse(frames.at(-2)!.data);
    expect(last.checked).toBe(report.events);
    expect(report.ok).toBe(true);
    // Tamper with the stored tool result behind the store's back.
    const db = new Database(join((fx.store as SqliteStore).filename));
    db.prepare(
      "UPDATE audit_events SET data = json_set(data, '$.result', 'forged') WHERE id = ?",
    ).run(toolEndId);
    // And an indexed column that no longer agrees with its body (the stored rows are checked too).
    db.prepare("UPDATE audit_events SET risk_level = 3 WHERE id = ?").run(toolEndId);
    db.close();
    const bad = await openSse(`${origin}/api/verify`, { cookie });
    let result:
      | { ok: boolean; problems: { kind: string; eventId?: string; eventType?: string }[] }
      | undefined;
    while (!result) {
      const f = await bad.next();
      if (f.event === "report") result = JSON.parse(f.data);
    }
    bad.close();
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual(
      expect.objectContaining({ kind: "hash-mismatch", eventId: toolEndId, eventType: "tool.end" }),
    );
    expect(result.problems).toContainEqual(
      expect.objectContaining({ kind: "column-mismatch", eventId: toolEndId }),
    );
    // The page without script runs the same check and links the event.
    const html = await page("/verify?run=1");
    expect(html).toContain("hash-mismatch");
    expect(html).toContain(`href="/events/${toolEndId}"`);
  });

  it("mount /mcp behind the same token and Origin rule", async () => {
    expect((await fetch(`${origin}/mcp`, { method: "POST" })).status).toBe(401);
    const crossSite = await fetch(`${origin}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, origin: "http://evil.example" },
    });
    expect(crossSite.status).toBe(403);
    const res = await fetch(`${origin}/mcp/messages?x=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: "{}",
    });
    expect((await res.json()) as { error: string }).toEqual({ mounted: true });
    expect(mcpCalls).toEqual(["POST /mcp/messages?x=1"]);
    const bare = new AuditServer({ store: fx.store, port: 0, token: TOKEN });
    await bare.listen();
    try {
      const none = await fetch(`${bare.url}/mcp`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(none.status).toBe(404);
      expect(((await none.json()) as { error: string }).error).toMatch(/no MCP handler/);
    } finally {
      await bare.close();
    }
  });
});
