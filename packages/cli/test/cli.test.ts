import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AuditEvent, Auditor, openStore } from "@audit/core";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(packageDir, "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "audit-cli-"));
const db = join(dir, "audit.db");
const store = `sqlite:${db}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const exec = promisify(execFile);
async function audit(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: packageDir,
      env: { ...process.env, AUDIT_STORE: "", ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const jsonl = (s: string) =>
  s
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEvent);

let runId = "";
let approvalId = "";
beforeAll(async () => {
  const s = await openStore(store);
  const a = new Auditor({ store: s, spool: false });
  const run = a.startRun({ agent: "support-bot", sessionId: "conv-1" });
  runId = run.runId;
  await run.tool("search", { q: "refund" }, async () => {
    await new Promise((r) => setTimeout(r, 15));
    return ["doc"];
  });
  await run
    .tool("refund", { amount: 900 }, () => Promise.reject(new Error("limit")))
    .catch(() => undefined);
  run.policy({ policy: "refunds", decision: "deny", rule: "over-500" });
  approvalId = run.requestApproval({ action: "refund", reason: "over limit" });
  await run.end({ output: "escalated" });
  await a.withRun({ agent: "other-bot", sessionId: "conv-2" }, async (r) => {
    r.llm({ model: "m", inputTokens: 1, outputTokens: 2, durationMs: 4 });
  });
  await a.close();
  await s.close();
}, 60_000);

describe("audit query", () => {
  it("filters by type pattern, session, risk and data, in every format", async () => {
    const all = jsonl((await audit(["query", "--store", store, "--format", "jsonl"])).stdout);
    expect(all.length).toBeGreaterThan(8);
    const tools = jsonl(
      (await audit(["query", "--store", store, "--type", "tool.*", "-o", "jsonl"])).stdout,
    );
    expect(tools.map((e) => e.type)).toEqual([
      "tool.start",
      "tool.end",
      "tool.start",
      "tool.error",
    ]);
    const conv2 = jsonl(
      (await audit(["query", "--store", store, "--session", "conv-2", "-o", "jsonl"])).stdout,
    );
    expect(new Set(conv2.map((e) => e.sessionId))).toEqual(new Set(["conv-2"]));
    const risky = jsonl(
      (await audit(["query", "--store", store, "--risk", "high", "-o", "jsonl"])).stdout,
    );
    expect(risky.map((e) => e.type).sort()).toEqual(["approval.request", "policy.decision"]);
    const search = jsonl(
      (
        await audit([
          "query",
          "--store",
          store,
          "--data",
          "tool=search",
          "--limit",
          "1",
          "-o",
          "jsonl",
        ])
      ).stdout,
    );
    expect(search).toHaveLength(1);
    expect(search[0]!.data.tool).toBe("search");
    const json = JSON.parse(
      (await audit(["query", "--store", store, "--since", "1h", "-o", "json"])).stdout,
    ) as AuditEvent[];
    expect(json.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const csv = (
      await audit(["query", "--store", store, "--type", "policy.decision", "-o", "csv"])
    ).stdout
      .trim()
      .split("\n");
    expect(csv[0]).toBe(
      "id,time,type,actor,sessionId,runId,spanId,parentSpanId,traceId,risk,data,chain",
    );
    expect(csv[1]).toContain('""policy"":""refunds""');
    const table = (
      await audit(["query", "--store", store, "--type", "tool.error", "-o", "table"])
    ).stdout.split("\n");
    expect(table[0]).toMatch(/^TIME\s+TYPE\s+RISK\s+ACTOR\s+RUN\s+DETAIL$/);
    expect(table[1]).toMatch(/tool\.error\s+medium\s+support-bot\s+\S{8}\s+tool=refund/);
    expect(table.join("\n")).not.toContain("\x1b[");
  });

  it("takes the store from AUDIT_STORE", async () => {
    const r = await audit(["query", "--limit", "2"], { AUDIT_STORE: store });
    expect(r.code).toBe(0);
    expect(jsonl(r.stdout)).toHaveLength(2);
  });
});

describe("audit get, run, stats, tail", () => {
  it("gets one event, and exits 1 for an unknown id", async () => {
    const [first] = jsonl((await audit(["query", "--store", store, "--limit", "1"])).stdout);
    const got = await audit(["get", first!.id, "--store", store]);
    expect(JSON.parse(got.stdout)).toEqual(first);
    const missing = await audit(["get", "nope", "--store", store]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("audit get: no event with id nope\n");
  });

  it("shows a run as an indented tree with durations and outcomes", async () => {
    const r = await audit(["run", runId, "--store", store]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^run support-bot ✓ \d+(\.\d+)?ms/);
    expect(lines[1]).toMatch(/^ {2}tool search ✓ \d+(\.\d+)?ms/);
    expect(lines[2]).toMatch(/^ {2}tool refund ✗ /);
    expect(lines[3]).toMatch(/^ {2}policy\.decision {2}policy=refunds decision=deny/);
    expect(lines[4]).toMatch(/^ {2}approval\.request/);
    expect((await audit(["run", "no-such-run", "--store", store])).code).toBe(1);
  });

  it("counts by type, actor and risk", async () => {
    const r = JSON.parse((await audit(["stats", "--store", store, "-o", "json"])).stdout);
    expect(r.byType["tool.start"]).toBe(2);
    expect(r.byActor["support-bot"]).toBeGreaterThan(5);
    expect(r.byRisk.high).toBe(2);
    expect(r.first <= r.last).toBe(true);
    const text = (await audit(["stats", "--store", store])).stdout;
    expect(text).toMatch(/^events {2}\d+\nfrom {4}\d{4}-/);
    expect(text).toContain("by type");
  });

  it("tails the newest events and follows new ones", async () => {
    const last2 = jsonl((await audit(["tail", "-n", "2", "--store", store, "-o", "jsonl"])).stdout);
    const all = jsonl((await audit(["query", "--store", store, "--limit", "1000"])).stdout);
    expect(last2.map((e) => e.id)).toEqual(all.slice(-2).map((e) => e.id));
    const child = spawn(
      process.execPath,
      [bin, "tail", "-f", "-n", "0", "--store", store, "--type", "live.*", "-o", "jsonl"],
      { cwd: packageDir },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    // The follower starts listening at some point after it starts: keep recording until it shows.
    const s = await openStore(store);
    const a = new Auditor({ store: s, spool: false, batch: { maxDelayMs: 1 } });
    for (let i = 0; i < 100 && !out.includes("live.event"); i++) {
      a.record({ type: "live.event", data: { n: i } });
      a.record({ type: "other.event" });
      await a.flush();
      await new Promise((r) => setTimeout(r, 100));
    }
    await a.close();
    await s.close();
    child.kill("SIGINT");
    const types = new Set(jsonl(out).map((x) => x.type));
    expect(types).toEqual(new Set(["live.event"]));
  });
});

describe("audit verify", () => {
  it("exits 0 on an intact trail and 1 listing each problem on a tampered one", async () => {
    const ok = await audit(["verify", "--store", store]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("OK: every chain verifies");
    const copy = join(dir, "tampered.db");
    await audit(["copy", "--from", store, "--to", `sqlite:${copy}`, "-q"]);
    const raw = new Database(copy);
    const row = raw
      .prepare("SELECT id, data FROM audit_events WHERE type = 'policy.decision'")
      .get() as { id: string; data: string };
    raw
      .prepare("UPDATE audit_events SET data = ? WHERE id = ?")
      .run(row.data.replace('"deny"', '"allow"'), row.id);
    raw.close();
    const bad = await audit(["verify", "--store", `sqlite:${copy}`]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`PROBLEM hash-mismatch: chain`);
    expect(bad.stdout).toContain(row.id);
    // The edited event, and the Merkle root that the chain's final checkpoint names.
    expect(bad.stdout).toContain("PROBLEM root-mismatch: ");
    expect(bad.stdout).toContain("FAILED: 2 problems");
    const json = JSON.parse(
      (await audit(["verify", "--store", `sqlite:${copy}`, "-o", "json"])).stdout,
    ) as { problems: { kind: string; eventId: string }[] };
    expect(json.problems.find((p) => p.kind === "hash-mismatch")?.eventId).toBe(row.id);
  });

  it("fails on a store that does not exist, and creates nothing", async () => {
    const typo = join(dir, "typo.db");
    const r = await audit(["verify", "--store", `sqlite:${typo}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("does not exist");
    expect(existsSync(typo)).toBe(false);
    expect(existsSync(`${typo}-wal`)).toBe(false);
    const missingDir = join(dir, "no-such-logs");
    const j = await audit(["verify", "--store", `jsonl:${missingDir}`]);
    expect(j.code).toBe(2);
    expect(j.stderr).toContain("does not exist");
    expect(existsSync(missingDir)).toBe(false);
  });

  it("fails on a file that holds no trail, without touching it", async () => {
    const other = join(dir, "other.db");
    new Database(other).close();
    const r = await audit(["verify", "--store", `sqlite:${other}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("holds no audit trail");
    const raw = new Database(other, { readonly: true });
    expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master").get()).toEqual({ n: 0 });
    raw.close();
  });

  it("fails on an empty trail unless --allow-empty", async () => {
    const empty = join(dir, "empty.db");
    await (await openStore(`sqlite:${empty}`)).close();
    const r = await audit(["verify", "--store", `sqlite:${empty}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("holds no events");
    const allowed = await audit(["verify", "--store", `sqlite:${empty}`, "--allow-empty"]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain("OK: every chain verifies");
  });
});

describe("audit approvals", () => {
  it("lists pending approvals and resolves one; the second resolution exits 1", async () => {
    const list = await audit(["approvals", "list", "--store", store]);
    expect(list.stdout).toContain(approvalId);
    const win = await audit([
      "approvals",
      "resolve",
      approvalId,
      "--outcome",
      "approve",
      "--by",
      "alice",
      "--store",
      store,
    ]);
    expect(win.code).toBe(0);
    expect(win.stdout).toBe(`resolved ${approvalId}: approve by alice\n`);
    const lose = await audit([
      "approvals",
      "resolve",
      approvalId,
      "--outcome",
      "deny",
      "--by",
      "bob",
      "--store",
      store,
    ]);
    expect(lose.code).toBe(1);
    expect(lose.stderr).toMatch(/already resolved "approve" by alice/);
    expect((await audit(["approvals", "list", "--store", store])).stdout).toBe(
      "no pending approvals\n",
    );
    expect(
      (
        await audit([
          "approvals",
          "resolve",
          "nope",
          "--outcome",
          "x",
          "--by",
          "y",
          "--store",
          store,
        ])
      ).code,
    ).toBe(1);
  });
});

describe("errors and help", () => {
  it("gives a one-line error with the fix and exit code 2", async () => {
    const cases: [string[], RegExp][] = [
      [["query"], /^audit query: no store: pass --store URL or set AUDIT_STORE/],
      [["query", "--store", "redis://x"], /^audit query: unknown store scheme "redis:"/],
      [["query", "--store", "./audit.db"], /^audit query: "\.\/audit\.db" is not a store URL/],
      [
        ["query", "--store", store, "--risk", "extreme"],
        /^audit query: --risk must be low, medium, high or critical/,
      ],
      [["query", "--store", store, "--bogus"], /^audit query: unknown option '--bogus'/],
      [
        ["query", "--store", store, "--since", "yesterday"],
        /^audit query: cannot read "yesterday" as a time/,
      ],
      [["frobnicate"], /^audit: unknown command "frobnicate"/],
    ];
    for (const [args, pattern] of cases) {
      const r = await audit(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(pattern);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });

  it("has --help with examples on every command", async () => {
    for (const c of [
      "query",
      "tail",
      "get",
      "run",
      "stats",
      "verify",
      "copy",
      "prune",
      "approvals",
    ]) {
      const r = await audit([c, "--help"]);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toContain(`audit ${c}`);
      expect(r.stdout, c).toContain("Examples:");
    }
    const main = await audit(["--help"]);
    expect(main.stdout).toContain("Commands:");
    expect((await audit([])).code).toBe(2);
  });
});

describe("audit prune", () => {
  it("prunes and leaves the chains verifiable", async () => {
    const copy = join(dir, "prune.db");
    await audit(["copy", "--from", store, "--to", `sqlite:${copy}`, "-q"]);
    const before = jsonl(
      (await audit(["query", "--store", `sqlite:${copy}`, "--limit", "1000"])).stdout,
    );
    const cut = before[4]!.time;
    const r = await audit(["prune", "--store", `sqlite:${copy}`, "--before", cut]);
    expect(r.stdout).toMatch(/^pruned \d+ events\n$/);
    expect((await audit(["verify", "--store", `sqlite:${copy}`])).code).toBe(0);
    expect((await audit(["prune", "--store", `sqlite:${copy}`])).code).toBe(2);
  });
});
