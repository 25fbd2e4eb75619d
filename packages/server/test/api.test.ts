import { request } from "node:http";
import { type AuditEvent, Auditor, uuidv7 } from "@audit/core";
import { PostgresStore } from "@audit/postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditServer, type RunSummary, type SpanNode } from "../src/index.js";
import { openSse, postgresFixture, type StoreFixture, sqliteFixture } from "./helpers.js";

// The JSON API against real stores: every test below runs once on SQLite and once on PostgreSQL.

const TOKEN = "test-token-0123456789abcdef";

// Response bodies are checked field by field below.
// biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes
type Json = any;
const body = (res: Response): Promise<Json> => res.json();
const USER = "alice";

for (const [name, makeFixture] of [
  ["SQLite", sqliteFixture],
  ["PostgreSQL", postgresFixture],
] as const) {
  describe(`API over ${name}`, () => {
    let fx: StoreFixture;
    let server: AuditServer;
    let base: string;
    let recorder: Auditor;
    let runId = "";
    let otherRunId = "";
    let approvalId = "";
    const auth = { authorization: `Bearer ${TOKEN}` };
    const api = (path: string, init: RequestInit = {}) =>
      fetch(base + path, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
    const json = async (path: string): Promise<Json> => {
      const res = await api(path);
      expect(res.status, `${path}: ${res.status}`).toBe(200);
      return res.json();
    };

    beforeAll(async () => {
      fx = await makeFixture();
      recorder = new Auditor({ store: fx.store, spool: false, batch: { maxDelayMs: 5 } });
      const run = recorder.startRun({
        agent: "support-bot",
        sessionId: "conv-1",
        input: "refund?",
      });
      runId = run.runId;
      await run.tool("search", { query: "refund policy" }, async () => {
        await new Promise((r) => setTimeout(r, 20));
        return ["doc-1"];
      });
      run.llm({
        model: "gpt-x",
        provider: "acme",
        inputTokens: 120,
        outputTokens: 30,
        costUsd: 0.0021,
        durationMs: 40,
      });
      run.llm({
        model: "gpt-x",
        inputTokens: 80,
        outputTokens: 20,
        costUsd: 0.001,
        durationMs: 25,
      });
      await run
        .tool("refund", { amount: 900 }, () => Promise.reject(new Error("over limit")))
        .catch(() => undefined);
      run.policy({ policy: "refunds", decision: "deny", rule: "over-500" });
      approvalId = run.requestApproval({ action: "refund 900", reason: "over the limit" });
      await run.end({ output: "escalated" });
      await recorder
        .withRun({ agent: "other-bot", sessionId: "conv-2" }, async (r) => {
          otherRunId = r.runId;
          r.llm({ model: "small", inputTokens: 5, outputTokens: 5, durationMs: 3 });
          throw new Error("crashed");
        })
        .catch(() => undefined);
      await recorder.flush();
      server = new AuditServer({ store: fx.store, port: 0, token: TOKEN, user: USER, pollMs: 50 });
      await server.listen();
      base = server.url;
    });

    afterAll(async () => {
      await server?.close();
      await recorder?.close();
      await fx?.dispose();
    });

    describe("token and Origin", () => {
      it("refuses a request without the token, or with a wrong one, with 401", async () => {
        const none = await fetch(`${base}/api/health`);
        expect(none.status).toBe(401);
        expect(none.headers.get("www-authenticate")).toContain("Bearer");
        expect((await body(none)).error).toMatch(/token is required/);
        const wrong = await fetch(`${base}/api/health`, {
          headers: { authorization: "Bearer nope" },
        });
        expect(wrong.status).toBe(401);
        const page = await fetch(`${base}/runs`);
        expect(page.status).toBe(401);
        expect(page.headers.get("content-type")).toContain("text/html");
        const wrongUrl = await fetch(`${base}/?token=guess`, { redirect: "manual" });
        expect(wrongUrl.status).toBe(401);
        expect(wrongUrl.headers.get("set-cookie")).toBeNull();
      });

      it("trades the printed URL's token for an HttpOnly SameSite=Strict cookie and drops it from the URL", async () => {
        expect(server.openUrl).toBe(`${base}/?token=${TOKEN}`);
        const res = await fetch(`${base}/events?type=run.start&token=${TOKEN}`, {
          redirect: "manual",
        });
        expect(res.status).toBe(303);
        expect(res.headers.get("location")).toBe("/events?type=run.start");
        const cookie = res.headers.get("set-cookie")!;
        expect(cookie).toMatch(/HttpOnly/);
        expect(cookie).toMatch(/SameSite=Strict/);
        expect(cookie).not.toContain(TOKEN);
        // Never a redirect to another site, however the path is written.
        // (Raw requests: fetch would normalise these paths before sending them.)
        for (const path of [
          `/.//evil.example/x?token=${TOKEN}`,
          `//evil.example/x?token=${TOKEN}`,
        ]) {
          const location = await new Promise<string | undefined>((resolve, reject) => {
            const req = request(`${base}/`, { path }, (res) => {
              res.resume();
              resolve(res.headers.location);
            });
            req.on("error", reject);
            req.end();
          });
          expect(location, path).toMatch(/^\/[^/]/);
        }
        const session = cookie.split(";")[0]!;
        const page = await fetch(`${base}/events?type=run.start`, { headers: { cookie: session } });
        expect(page.status).toBe(200);
        // The cookie is not a Bearer token.
        const asBearer = await fetch(`${base}/api/health`, {
          headers: { authorization: `Bearer ${session.split("=")[1]}` },
        });
        expect(asBearer.status).toBe(401);
      });

      it("sends the security headers on every response, errors included", async () => {
        for (const res of [
          await api("/api/health"),
          await fetch(`${base}/api/health`),
          await api("/runs"),
        ]) {
          const csp = res.headers.get("content-security-policy")!;
          expect(csp).toContain("script-src 'self'");
          expect(csp).not.toContain("unsafe-inline");
          expect(csp).toContain("frame-ancestors 'none'");
          expect(res.headers.get("x-content-type-options")).toBe("nosniff");
          expect(res.headers.get("referrer-policy")).toBe("no-referrer");
          expect(res.headers.get("x-frame-options")).toBe("DENY");
        }
      });

      it("checks Origin on state-changing requests: a cookie needs this server's Origin, a Bearer client may omit it", async () => {
        const login = await fetch(`${base}/?token=${TOKEN}`, { redirect: "manual" });
        const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
        const host = new URL(base).host;
        const post = (headers: Record<string, string>) =>
          fetch(`${base}/api/approvals/${uuidv7()}/resolve`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: JSON.stringify({ outcome: "approve" }),
          });
        // Refused before anything else is looked at.
        expect((await post({ cookie })).status).toBe(403);
        expect((await post({ cookie, origin: "http://evil.example" })).status).toBe(403);
        expect((await post({ cookie, origin: "null" })).status).toBe(403);
        expect((await post({ ...auth, origin: "http://evil.example" })).status).toBe(403);
        expect((await post({ ...auth, "sec-fetch-site": "cross-site" })).status).toBe(403);
        // Allowed through to the handler (which finds no such approval).
        expect((await post({ cookie, origin: `http://${host}` })).status).toBe(404);
        expect((await post(auth)).status).toBe(404);
      });

      it("refuses a non-loopback address without an explicit token, and short tokens", () => {
        expect(() => new AuditServer({ store: fx.store, host: "0.0.0.0" })).toThrow(
          /explicit token/,
        );
        expect(() => new AuditServer({ store: fx.store, token: "short" })).toThrow(/at least 16/);
        expect(
          () => new AuditServer({ store: fx.store, host: "0.0.0.0", token: TOKEN }),
        ).not.toThrow();
      });
    });

    describe("events", () => {
      it("filters like the CLI", async () => {
        const tools = await json(`/api/events?type=tool.*&run=${runId}`);
        expect(tools.events.map((e: AuditEvent) => e.type)).toEqual([
          "tool.start",
          "tool.end",
          "tool.start",
          "tool.error",
        ]);
        const high = await json(`/api/events?risk=high&run=${runId}`);
        expect(high.events.map((e: AuditEvent) => e.type).sort()).toEqual([
          "approval.request",
          "policy.decision",
        ]);
        const byData = await json("/api/events?data=tool=refund&type=tool.start");
        expect(byData.events).toHaveLength(1);
        expect(byData.events[0].data.args).toEqual({ amount: 900 });
        const session = await json("/api/events?session=conv-2&type=run.end");
        expect(session.events[0].data.status).toBe("error");
        const actor = await json("/api/events?actor=other-bot");
        expect(actor.events.every((e: AuditEvent) => e.actor === "other-bot")).toBe(true);
        const future = await json("/api/events?since=2999-01-01T00:00:00Z");
        expect(future.events).toEqual([]);
        const one = await json(`/api/events/${tools.events[0].id}`);
        expect(one.id).toBe(tools.events[0].id);
      });

      it("pages with a keyset cursor over many events sharing one timestamp, none skipped or repeated", async () => {
        const time = "2020-01-01T00:00:00.000Z";
        const bulk: AuditEvent[] = Array.from({ length: 230 }, (_, i) => ({
          id: uuidv7(),
          type: "bulk.item",
          time,
          data: { i },
        }));
        await fx.store.append(bulk);
        const expected = [...bulk].map((e) => e.id).sort();
        for (const order of ["asc", "desc"] as const) {
          const seen: string[] = [];
          let after: string | null = null;
          let pages = 0;
          do {
            const page: { events: AuditEvent[]; next: string | null } = await json(
              `/api/events?type=bulk.item&limit=40&order=${order}${after ? `&after=${after}` : ""}`,
            );
            seen.push(...page.events.map((e) => e.id));
            after = page.next;
            pages++;
          } while (after);
          expect(pages).toBe(6);
          expect(seen).toEqual(order === "asc" ? expected : [...expected].reverse());
        }
      });

      it("treats hostile filter values as plain values: nothing matches, nothing breaks", async () => {
        const before = await fx.store.count();
        const hostile = [
          "actor=' OR '1'='1",
          'session=x"; DROP TABLE audit_events; --',
          `run=${encodeURIComponent("') OR 1=1 --")}`,
          `type=${encodeURIComponent("run.start' OR 'a'='a")}`,
          `data=${encodeURIComponent("agent=support-bot' OR '1'='1")}`,
          `data=${encodeURIComponent("a'b\"c$.d=1")}`,
          `data=${encodeURIComponent("$[0]=1")}`,
        ];
        for (const q of hostile) {
          const res = await api(`/api/events?${q}`);
          expect(res.status, q).toBe(200);
          expect((await body(res)).events, q).toEqual([]);
        }
        expect(await fx.store.count()).toBe(before);
      });

      it("answers bad input with a 4xx and a clear message", async () => {
        const cases: [string, number, RegExp][] = [
          ["/api/events?limit=0", 400, /limit must be a whole number from 1 to 1000/],
          ["/api/events?limit=abc", 400, /limit/],
          ["/api/events?limit=5000", 400, /1 to 1000/],
          ["/api/events?risk=extreme", 400, /risk must be low, medium, high or critical/],
          ["/api/events?order=sideways", 400, /order must be asc or desc/],
          ["/api/events?colour=red", 400, /unknown query parameter "colour"/],
          ["/api/events?since=yesterday-ish", 400, /cannot read "yesterday-ish" as a time/],
          ["/api/events?type=to*ol", 400, /only a trailing/],
          ["/api/events?data=novalue", 400, /KEY=VALUE/],
          ["/api/events?actor=a&actor=b", 400, /may be given once/],
          [`/api/events?after=${uuidv7()}`, 400, /cursor/],
          [`/api/events/${uuidv7()}`, 404, /no event with id/],
          ["/api/events/%E0%A4%A", 400, /percent-encoding/],
          ["/api/runs?status=maybe", 400, /status must be ok or error/],
          ["/api/runs?limit=-1", 400, /limit/],
          [`/api/runs/${uuidv7()}`, 404, /no events for run/],
          ["/api/approvals?status=later", 400, /pending or resolved/],
          [`/api/approvals/${uuidv7()}`, 404, /no approval request/],
          ["/api/stream?limit=3", 400, /unknown query parameter "limit"/],
          [`/api/stream?lastEventId=${uuidv7()}`, 400, /not in the store/],
          ["/api/nothing", 404, /nothing at/],
        ];
        for (const [path, status, message] of cases) {
          const res = await api(path);
          expect(res.status, path).toBe(status);
          expect((await body(res)).error, path).toMatch(message);
        }
        const wrongMethod = await api("/api/events", { method: "DELETE" });
        expect(wrongMethod.status).toBe(405);
      });
    });

    describe("runs", () => {
      it("lists one row per run, newest first, with agent, status, timing, tokens, cost, tool calls and risk", async () => {
        const { runs } = (await json("/api/runs")) as { runs: RunSummary[] };
        expect(runs.map((r) => r.runId)).toEqual([otherRunId, runId]);
        const r = runs[1]!;
        expect(r).toMatchObject({
          agent: "support-bot",
          sessionId: "conv-1",
          status: "ok",
          inputTokens: 200,
          outputTokens: 50,
          costUsd: 0.0031,
          toolCalls: 2,
          toolErrors: 1,
          llmCalls: 2,
          highestRisk: "high",
          pendingApprovals: 1,
        });
        expect(r.durationMs).toBeGreaterThan(15);
        expect(runs[0]).toMatchObject({ agent: "other-bot", status: "error", highestRisk: "high" });
        const failed = await json("/api/runs?status=error");
        expect(failed.runs.map((x: RunSummary) => x.runId)).toEqual([otherRunId]);
        const byAgent = await json("/api/runs?agent=support-bot");
        expect(byAgent.runs.map((x: RunSummary) => x.runId)).toEqual([runId]);
        const page1 = await json("/api/runs?limit=1");
        expect(page1.runs[0].runId).toBe(otherRunId);
        const page2 = await json(`/api/runs?limit=1&after=${page1.next}`);
        expect(page2.runs[0].runId).toBe(runId);
      });

      it("returns a run's events as a span tree", async () => {
        const { run, tree } = (await json(`/api/runs/${runId}`)) as {
          run: RunSummary;
          tree: SpanNode[];
        };
        expect(run.runId).toBe(runId);
        expect(tree).toHaveLength(1);
        const root = tree[0]!;
        expect(root).toMatchObject({ kind: "run", name: "run support-bot", status: "ok" });
        expect(root.events.map((e) => e.type)).toEqual(["run.start", "run.end"]);
        const kinds = root.children.map((c) => `${c.kind}:${c.status}`);
        expect(kinds.sort()).toEqual([
          "approval:pending",
          "llm:ok",
          "llm:ok",
          "policy:denied",
          "tool:error",
          "tool:ok",
        ]);
        const starts = root.children.map((c) => c.start);
        expect(starts).toEqual([...starts].sort());
        const search = root.children.find((c) => c.name === "tool search")!;
        expect(search.name).toBe("tool search");
        expect(search.events.map((e) => e.type)).toEqual(["tool.start", "tool.end"]);
        expect(search.durationMs).toBeGreaterThanOrEqual(15);
        const llm = root.children.find((c) => c.kind === "llm")!;
        expect(llm).toMatchObject({
          name: "llm gpt-x",
          inputTokens: 120,
          outputTokens: 30,
          durationMs: 40,
        });
        // A model call recorded at its end starts duration earlier.
        expect(Date.parse(llm.end!) - Date.parse(llm.start)).toBe(40);
      });
    });

    describe("approvals", () => {
      it("lists pending requests with their run's context", async () => {
        const { approvals } = await json("/api/approvals?status=pending");
        const mine = approvals.find((a: { approvalId: string }) => a.approvalId === approvalId);
        expect(mine.request.data).toMatchObject({ action: "refund 900", reason: "over the limit" });
        expect(mine.run).toMatchObject({ runId, agent: "support-bot" });
        expect(mine.context.map((e: AuditEvent) => e.type)).toContain("policy.decision");
      });

      it("checks the body: no resolvedBy from the client, a word as outcome, JSON only", async () => {
        const post = (body: string, type = "application/json") =>
          api(`/api/approvals/${approvalId}/resolve`, {
            method: "POST",
            headers: { "content-type": type },
            body,
          });
        const cases: [string, string, number, RegExp][] = [
          [
            JSON.stringify({ outcome: "approve", resolvedBy: "mallory" }),
            "application/json",
            400,
            /resolvedBy is set by the server/,
          ],
          [
            JSON.stringify({ outcome: "<b>yes</b>" }),
            "application/json",
            400,
            /outcome must be a word/,
          ],
          [JSON.stringify({}), "application/json", 400, /outcome/],
          [
            JSON.stringify({ outcome: "approve", comment: 5 }),
            "application/json",
            400,
            /comment must be a string/,
          ],
          [
            JSON.stringify({ outcome: "approve", extra: 1 }),
            "application/json",
            400,
            /unknown field "extra"/,
          ],
          ["[1,2]", "application/json", 400, /JSON object/],
          ["{not json", "application/json", 400, /not valid JSON/],
          ["outcome=approve", "application/x-www-form-urlencoded", 415, /application\/json/],
          [
            JSON.stringify({ outcome: "approve", comment: "x".repeat(70_000) }),
            "application/json",
            413,
            /larger than/,
          ],
        ];
        for (const [text, type, status, message] of cases) {
          const res = await post(text, type);
          expect(res.status, text.slice(0, 60)).toBe(status);
          expect((await body(res)).error).toMatch(message);
        }
        // Nothing was resolved by any of them.
        expect((await json(`/api/approvals/${approvalId}`)).status).toBe("pending");
      });

      it("two concurrent resolutions: one 200, one 409 with the winning resolution; resolvedBy is the server's user", async () => {
        const second = new AuditServer({ store: fx.store, port: 0, token: TOKEN, user: "bob" });
        await second.listen();
        try {
          const resolve = (url: string, outcome: string) =>
            fetch(`${url}/api/approvals/${approvalId}/resolve`, {
              method: "POST",
              headers: { ...auth, "content-type": "application/json" },
              body: JSON.stringify({ outcome, comment: `${outcome} from ${url}` }),
            });
          const results = await Promise.all([
            resolve(base, "approve"),
            resolve(second.url, "deny"),
          ]);
          const statuses = results.map((r) => r.status).sort();
          expect(statuses).toEqual([200, 409]);
          const winner = results.find((r) => r.status === 200)!;
          const loser = results.find((r) => r.status === 409)!;
          const won = await body(winner);
          const lost = await body(loser);
          expect(lost.error).toMatch(/already resolved/);
          expect(lost.resolution).toMatchObject({
            outcome: won.outcome,
            resolvedBy: won.resolvedBy,
            time: won.time,
          });
          expect(won.resolvedBy).toBe(won.outcome === "approve" ? USER : "bob");
          // The trail holds exactly the winner.
          const stored = await json(`/api/events?type=approval.resolve&approval=${approvalId}`);
          expect(stored.events).toHaveLength(1);
          expect(stored.events[0].data).toMatchObject({
            outcome: won.outcome,
            resolvedBy: won.resolvedBy,
          });
          // And a third try, later, also loses.
          const late = await resolve(base, "approve");
          expect(late.status).toBe(409);
          const resolved = await json("/api/approvals?status=resolved");
          expect(resolved.approvals[0]).toMatchObject({ approvalId, status: "resolved" });
        } finally {
          await second.close();
        }
      });

      it("takes resolvedBy from the trusted proxy header, and refuses without it", async () => {
        const run = recorder.startRun({ agent: "proxy-bot" });
        const id = run.requestApproval({ action: "deploy" });
        await run.end();
        await recorder.flush();
        const proxied = new AuditServer({
          store: fx.store,
          port: 0,
          token: TOKEN,
          user: "ignored",
          trustProxyUser: "X-Forwarded-User",
        });
        await proxied.listen();
        try {
          const post = (headers: Record<string, string>) =>
            fetch(`${proxied.url}/api/approvals/${id}/resolve`, {
              method: "POST",
              headers: { ...auth, "content-type": "application/json", ...headers },
              body: JSON.stringify({ outcome: "approve" }),
            });
          const without = await post({});
          expect(without.status).toBe(403);
          expect((await body(without)).error).toMatch(/X-Forwarded-User/);
          const ok = await post({ "x-forwarded-user": "carol@example.com" });
          expect(ok.status).toBe(200);
          expect((await body(ok)).resolvedBy).toBe("carol@example.com");
        } finally {
          await proxied.close();
        }
      });
    });

    describe("live tail", () => {
      it("streams new events and resumes with Last-Event-ID without loss or duplicates", async () => {
        const live = await openSse(`${base}/api/stream?type=tail.*`, auth);
        expect(live.status).toBe(200);
        expect(live.headers.get("content-type")).toContain("text/event-stream");
        await live.comment("live");
        const writer = new Auditor({ store: fx.store, spool: false, batch: { maxDelayMs: 1 } });
        try {
          for (let i = 0; i < 5; i++) writer.record({ type: "tail.tick", data: { i } });
          writer.record({ type: "other.noise", data: {} });
          await writer.flush();
          const first = await live.take(5);
          expect(first.map((f) => JSON.parse(f.data).data.i)).toEqual([0, 1, 2, 3, 4]);
          live.close();
          const lastId = first[2]!.id!;
          // While nobody listens, and again once the resumed stream is open.
          for (let i = 5; i < 10; i++) writer.record({ type: "tail.tick", data: { i } });
          await writer.flush();
          const resumed = await openSse(`${base}/api/stream?type=tail.*`, {
            ...auth,
            "last-event-id": lastId,
          });
          for (let i = 10; i < 13; i++) writer.record({ type: "tail.tick", data: { i } });
          await writer.flush();
          const rest = await resumed.take(10);
          expect(rest.map((f) => JSON.parse(f.data).data.i)).toEqual([
            3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
          ]);
          // The id of each frame is the newest event sent so far: resuming from it is exact.
          expect(rest[9]!.id).toBe(JSON.parse(rest[9]!.data).id);
          await expect(resumed.next(600)).rejects.toThrow(/timed out/);
          resumed.close();
        } finally {
          await writer.close();
        }
      });
    });

    it("delivers an event a writer commits late (stamped before one already sent), and replays ?since=", async () => {
      const live = await openSse(`${base}/api/stream?type=late.*`, auth);
      await live.comment("live");
      const now = Date.now();
      const newer: AuditEvent = {
        id: uuidv7(),
        type: "late.b",
        time: new Date(now).toISOString(),
        data: {},
      };
      await fx.store.append([newer]);
      expect(JSON.parse((await live.next()).data).id).toBe(newer.id);
      // Stamped two seconds earlier, stored after: a keyset cursor alone would skip it.
      const older: AuditEvent = {
        id: uuidv7(),
        type: "late.a",
        time: new Date(now - 2000).toISOString(),
        data: {},
      };
      await fx.store.append([older]);
      const late = await live.next();
      expect(JSON.parse(late.data).id).toBe(older.id);
      // The frame id stays the newest event sent, so a resume does not replay the newer one again.
      expect(late.id).toBe(newer.id);
      await expect(live.next(600)).rejects.toThrow(/timed out/);
      live.close();
      const replay = await openSse(`${base}/api/stream?type=late.*&since=1m`, auth);
      const both = await replay.take(2);
      expect(both.map((f) => JSON.parse(f.data).id)).toEqual([older.id, newer.id]);
      replay.close();
    });

    it("health answers with the store's id", async () => {
      const h = await json("/api/health");
      expect(h).toMatchObject({ ok: true, store: fx.store.id });
    });
  });
}

describe("a store that is down", () => {
  it("answers 503 with the store's message, on the API, the live tail and the pages", async () => {
    // Nothing listens on port 1: a real connection failure, not a mock.
    const store = new PostgresStore({
      connectionString: "postgres://postgres@127.0.0.1:1/test",
      schema: "server_down",
    });
    const errors: Error[] = [];
    const server = new AuditServer({
      store,
      port: 0,
      token: TOKEN,
      pollMs: 20,
      onError: (e) => errors.push(e),
    });
    await server.listen();
    try {
      const get = (path: string) =>
        fetch(server.url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
      for (const path of ["/api/health", "/api/events", "/api/runs", "/api/stream"]) {
        const res = await get(path);
        expect(res.status, path).toBe(503);
        expect((await body(res)).error, path).toMatch(/ECONNREFUSED|connect/);
      }
      const page = await fetch(`${server.url}/runs`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(page.status).toBe(503);
      expect(await page.text()).toContain("ECONNREFUSED");
      expect(errors).toEqual([]);
    } finally {
      await server.close();
      await store.close();
    }
  });

  it("reports a live feed's failing reads once per outage, not at every tick", async () => {
    const fx = await sqliteFixture();
    const errors: Error[] = [];
    const server = new AuditServer({
      store: fx.store,
      port: 0,
      token: TOKEN,
      pollMs: 20,
      onError: (e) => errors.push(e),
    });
    await server.listen();
    const live = await openSse(`${server.url}/api/stream`, { authorization: `Bearer ${TOKEN}` });
    await live.comment("live");
    // The store goes away under the running feed.
    await fx.store.close();
    await new Promise((r) => setTimeout(r, 400));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/closed/);
    live.close();
    await server.close();
    await fx.dispose();
  });
});
