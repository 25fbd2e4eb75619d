import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Auditor } from "@audit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuditServer,
  WebhookNotifier,
  type WebhookPayload,
  webhookSignature,
} from "../src/index.js";
import { type StoreFixture, sqliteFixture } from "./helpers.js";

// A real HTTP receiver on 127.0.0.1 that fails the first attempt of every delivery: the server
// must retry with backoff, sign each attempt, and deliver each request and resolution once.

const SECRET = "webhook-secret-0123456789";
const TOKEN = "hook-token-0123456789abcdef";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
  at: number;
}

let receiver: Server;
let receiverUrl = "";
const received: Received[] = [];
const answered: number[] = [];
const attemptsPerDelivery = new Map<string, number>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8");
    });
    req.on("end", () => {
      const id = String(req.headers["x-audit-delivery"]);
      const n = (attemptsPerDelivery.get(id) ?? 0) + 1;
      attemptsPerDelivery.set(id, n);
      received.push({ headers: req.headers, body, at: Date.now() });
      const status = n === 1 ? 503 : 204;
      answered.push(status);
      res.writeHead(status);
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  await new Promise((r) => receiver.close(r));
});

describe("--notify-webhook", () => {
  let fx: StoreFixture;
  let server: AuditServer;

  beforeAll(async () => {
    fx = await sqliteFixture();
    server = new AuditServer({
      store: fx.store,
      port: 0,
      token: TOKEN,
      user: "alice",
      pollMs: 50,
      notify: { url: receiverUrl, secret: SECRET, retryDelayMs: 100 },
    });
    await server.listen();
  });

  afterAll(async () => {
    await server.close();
    await fx.dispose();
  });

  it("posts each new request and its resolution, signed, retrying after a failure", async () => {
    const agent = new Auditor({ store: fx.store, spool: false, batch: { maxDelayMs: 1 } });
    const run = agent.startRun({ agent: "pay-bot" });
    const approvalId = run.requestApproval({ action: "pay invoice 7", reason: "over 1000" });
    run.tool("noise", {}, () => 1);
    await agent.flush();
    const deadline = Date.now() + 15_000;
    const delivered = () => answered.filter((status) => status === 204);
    while (delivered().length < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${server.url}/api/approvals/${approvalId}/resolve`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ outcome: "approve", comment: "ok" }),
    });
    expect(res.status).toBe(200);
    while (delivered().length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await server.webhook!.idle();
    await agent.close();

    // Two notifications, each failed once then delivered: four attempts, nothing else.
    expect(answered).toEqual([503, 204, 503, 204]);
    const [req1, req2, res1, res2] = received;
    // A retry resends the same delivery, after a backoff.
    expect(req2!.headers["x-audit-delivery"]).toBe(req1!.headers["x-audit-delivery"]);
    expect(req2!.body).toBe(req1!.body);
    expect(req2!.at - req1!.at).toBeGreaterThanOrEqual(90);
    for (const r of received) {
      const ts = String(r.headers["x-audit-timestamp"]);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["x-audit-signature"]).toBe(webhookSignature(SECRET, ts, r.body));
      expect(r.headers["x-audit-signature"]).not.toBe(
        webhookSignature("wrong-secret-0123456789", ts, r.body),
      );
    }
    const request = JSON.parse(req2!.body) as WebhookPayload;
    expect(request).toMatchObject({
      type: "approval.request",
      approvalId,
      inboxUrl: `${server.url}/approvals`,
    });
    expect(request.event.data).toMatchObject({ action: "pay invoice 7", reason: "over 1000" });
    const resolution = JSON.parse(res2!.body) as WebhookPayload;
    expect(resolution).toMatchObject({ type: "approval.resolve", approvalId });
    expect(resolution.event.data).toMatchObject({
      outcome: "approve",
      resolvedBy: "alice",
      comment: "ok",
    });
    expect(res1!.headers["x-audit-delivery"]).toBe(resolution.event.id);
    expect(server.webhook!.counts).toMatchObject({ delivered: 2, failed: 0, attempts: 4 });
  });
});

describe("WebhookNotifier", () => {
  it("reports a delivery that fails every attempt, and never throws", async () => {
    const errors: Error[] = [];
    // Nothing listens on this port once the probe server is closed.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const n = new WebhookNotifier(
      { url: `http://127.0.0.1:${port}/`, secret: SECRET, maxAttempts: 3, retryDelayMs: 20 },
      (e) => errors.push(e),
    );
    n.notify({
      id: "e1",
      type: "approval.request",
      time: new Date().toISOString(),
      data: { approvalId: "a1" },
    });
    n.notify({ id: "e2", type: "tool.start", time: new Date().toISOString(), data: {} });
    await n.idle();
    expect(n.counts).toEqual({ delivered: 0, failed: 1, attempts: 3 });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/failed after 3 attempts/);
    expect((errors[0] as Error & { code?: string }).code).toBe("AUDIT_WEBHOOK");
    n.close();
  });

  it("refuses a bad URL or a missing secret", () => {
    expect(() => new WebhookNotifier({ url: "not a url", secret: SECRET })).toThrow(
      /not a valid URL/,
    );
    expect(() => new WebhookNotifier({ url: "file:///etc/passwd", secret: SECRET })).toThrow(
      /http/,
    );
    expect(() => new WebhookNotifier({ url: "http://127.0.0.1/", secret: "short" })).toThrow(
      /16 characters/,
    );
  });
});
