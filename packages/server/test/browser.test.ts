import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Auditor } from "@audit/core";
import { SqliteStore } from "@audit/sqlite";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A real browser (Debian's Chromium driven by playwright-core) against the real `audit serve`
// command over a real SQLite file. One browser launch for the whole file.

// What the callbacks passed to page.evaluate use, in the browser (this package has no DOM types).
declare const window: { notReloaded?: boolean };
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  activeElement: { textContent: string | null } | null;
};

const CHROMIUM = process.env.AUDIT_TEST_CHROMIUM ?? "/usr/bin/chromium";
const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, "..");
const cliBin = join(packageDir, "..", "cli", "dist", "bin.js");
const artifacts = join(packageDir, "test-artifacts");
const work = mkdtempSync(join(tmpdir(), "audit-browser-"));
const db = join(work, "audit.db");
const { NODE_PATH: _, ...userEnv } = process.env;

let serveProcess: ChildProcess;
let exited: Promise<number | null>;
let openUrl = "";
let origin = "";
let browser: Browser;
let runId = "";
let approvalId = "";

async function seed(): Promise<void> {
  const store = new SqliteStore({ filename: db });
  const audit = new Auditor({ store, spool: false });
  const run = audit.startRun({
    agent: "support-bot",
    sessionId: "ticket-4711",
    input: "Refund order 991?",
  });
  runId = run.runId;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(45);
  run.llm({
    model: "gpt-4o",
    provider: "openai",
    inputTokens: 812,
    outputTokens: 96,
    costUsd: 0.0031,
    durationMs: 42,
  });
  await run.tool("lookup_order", { orderId: 991 }, async () => {
    await sleep(60);
    return { total: 1240, currency: "EUR", status: "delivered" };
  });
  await run
    .tool("issue_refund", { orderId: 991, amount: 1240 }, async () => {
      await sleep(25);
      const err = new Error("amount above the automatic limit");
      // A fixed stack keeps the screenshots free of this machine's file paths.
      err.stack = "Error: amount above the automatic limit\n    at issueRefund (refunds.js:42:11)";
      throw err;
    })
    .catch(() => undefined);
  run.policy({ policy: "refunds", decision: "review", rule: "over-1000", reason: "needs a human" });
  approvalId = run.requestApproval({
    action: "refund 1240 EUR on order 991",
    reason: "over the 1000 EUR limit",
  });
  await sleep(35);
  run.llm({
    model: "gpt-4o",
    provider: "openai",
    inputTokens: 940,
    outputTokens: 41,
    costUsd: 0.0027,
    durationMs: 33,
  });
  await run.end({ output: "asked a human" });
  await audit.withRun({ agent: "billing-bot", sessionId: "batch-12" }, async (r) => {
    await r.tool("list_invoices", { month: "2026-11" }, () => [1, 2, 3]);
  });
  await audit.close();
  await store.close();
}

function startServe(): Promise<string> {
  serveProcess = spawn(
    process.execPath,
    [cliBin, "serve", "--store", `sqlite:${db}`, "--port", "0", "--user", "alice"],
    {
      cwd: packageDir,
      // As from a user's shell in this package: without the test runner's NODE_PATH the CLI finds
      // @audit/server and the SQLite adapter from the working directory, as in a project.
      env: { ...userEnv, AUDIT_SERVE_TOKEN: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  exited = new Promise((r) => serveProcess.once("exit", (code) => r(code)));
  let out = "";
  let err = "";
  serveProcess.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`audit serve printed no URL: ${out}${err}`)),
      20_000,
    );
    serveProcess.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /open (http:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    serveProcess.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`audit serve exited with ${code}: ${out}${err}`));
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is required for the browser tests and is not at ${CHROMIUM}; install it with: apt-get update && apt-get install -y --no-install-recommends chromium (or set AUDIT_TEST_CHROMIUM)`,
    );
  mkdirSync(artifacts, { recursive: true });
  await seed();
  openUrl = await startServe();
  origin = new URL(openUrl).origin;
  // Chromium writes crash reports and dconf caches under HOME: keep them in the temp dir.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env: { ...process.env, HOME: work },
  });
}, 60_000);

afterAll(async () => {
  // The browser first: its open event streams would hold the server's close.
  await browser?.close();
  if (serveProcess && serveProcess.exitCode === null) {
    serveProcess.kill("SIGINT");
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

describe("in a real browser", () => {
  it("opens the printed URL, finds a run, opens its timeline, approves in the inbox, and a second page sees it live", async () => {
    expect(openUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{40,}$/);
    const context = await browser.newContext({
      timezoneId: "America/New_York",
      viewport: { width: 1280, height: 800 },
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });

    // The printed URL logs in and lands on the runs list, with the token gone from the address.
    await page.goto(openUrl);
    expect(page.url()).toBe(`${origin}/runs`);
    await page.getByRole("link", { name: "support-bot" }).waitFor();
    // Times are shown in the viewer's zone, with UTC on hover.
    const firstTime = page.locator("time").first();
    expect(await firstTime.getAttribute("title")).toMatch(/ UTC$/);
    expect(await firstTime.textContent()).toMatch(/EST|EDT|GMT-5|GMT-4/);
    await shot(page, "runs");

    // Filter the list, then open the run.
    await page.getByLabel("Agent").fill("support-bot");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/agent=support-bot/);
    expect(await page.getByRole("link", { name: "billing-bot" }).count()).toBe(0);
    await page.getByRole("link", { name: "support-bot" }).click();
    await page.waitForURL(`${origin}/runs/${runId}`);
    const rows = page.locator("ol.waterfall > li");
    expect(await rows.count()).toBe(7);
    await expect
      .poll(() => page.locator("li.kind-tool .span-name").allTextContents())
      .toEqual(["tool lookup_order", "tool issue_refund"]);
    // Keyboard: focus the failed tool call's row and open it with Enter to see what was recorded.
    const failed = page.locator("li.kind-tool").nth(1).locator("summary");
    await failed.focus();
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator("li.kind-tool").nth(1).locator(".span-events").textContent())
      .toContain("amount above the automatic limit");
    await shot(page, "timeline");

    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Events" })
      .click();
    await page.getByLabel("Type").fill("tool.*");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/type=tool/);
    expect(await page.locator("table.list tbody tr").count()).toBe(6);
    await shot(page, "events");

    // Two inbox pages: one decides, the other must show it at once, without a reload.
    await page.goto(`${origin}/approvals`);
    const watcher = await context.newPage();
    await watcher.goto(`${origin}/approvals`);
    await watcher.evaluate(() => {
      window.notReloaded = true;
    });
    await Promise.all(
      [page, watcher].map((p) => p.waitForFunction(() => document.body.dataset.live === "on")),
    );
    const card = page.locator(`article[data-approval-id="${approvalId}"]`);
    await card.getByLabel("Comment").fill("customer is a long-standing account");
    await shot(page, "inbox");
    // Keyboard again: Tab from the comment reaches Approve, Enter presses it.
    await card.getByLabel("Comment").focus();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Approve");
    await page.keyboard.press("Enter");
    await card.locator(".state").filter({ hasText: "Resolved: approve by alice" }).waitFor();

    const watched = watcher.locator(`article[data-approval-id="${approvalId}"]`);
    await watched
      .locator(".state")
      .filter({ hasText: "Resolved by someone else: approve by alice" })
      .waitFor({ timeout: 10_000 });
    expect(await watched.locator("button.approve").isDisabled()).toBe(true);
    expect(await watcher.evaluate(() => window.notReloaded)).toBe(true);
    expect(await watcher.locator("#pending-count").textContent()).toBe("0");

    // A new request from an agent appears on both pages, live.
    const store = new SqliteStore({ filename: db });
    const agent = new Auditor({ store, spool: false });
    const later = agent.startRun({ agent: "support-bot" });
    const newId = later.requestApproval({ action: "close account 77", reason: "customer asked" });
    await agent.flush();
    await watcher.locator(`article[data-approval-id="${newId}"]`).waitFor({ timeout: 10_000 });
    await shot(watcher, "inbox-live");

    // The trail holds the resolution, by the server's user.
    const [resolution] = await store.query({ type: "approval.resolve", approvalId });
    expect(resolution!.data).toMatchObject({
      outcome: "approve",
      resolvedBy: "alice",
      comment: "customer is a long-standing account",
    });
    expect(resolution!.runId).toBe(runId);
    await later.end();
    await agent.close();
    await store.close();

    await page.goto(`${origin}/verify`);
    await page.getByRole("button", { name: "Verify now" }).click();
    await page.locator("#verify-report .notice").waitFor();
    expect(await page.locator("#verify-report .notice").textContent()).toMatch(
      /Every chain verifies/,
    );
    await shot(page, "verify");

    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("stops cleanly on SIGINT", async () => {
    serveProcess.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
