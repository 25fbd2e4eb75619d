import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AuditEvent, Auditor, openStore } from "@audit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli.js";

// The built binary over real SQLite trails; the TTY cases call main() in process with a stderr
// that says it is a terminal, since a test has no terminal to give a child process.
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(packageDir, "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "audit-cli-behaviour-"));
const big = `sqlite:${join(dir, "big.db")}`;
const small = `sqlite:${join(dir, "small.db")}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const exec = promisify(execFile);
async function audit(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...process.env, AUDIT_STORE: "", AUDIT_KEY: "", AUDIT_SIGNING_KEY: "", ...env },
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const lines = (s: string) => s.split("\n").filter(Boolean);
const jsonl = (s: string) => lines(s).map((l) => JSON.parse(l) as AuditEvent);

let bigCount = 0;
const runs: string[] = [];
const approvals: string[] = [];
beforeAll(async () => {
  const s = await openStore(big);
  const a = new Auditor({ store: s, spool: false, batch: { maxEvents: 500 } });
  for (let i = 0; i < 3000; i++)
    a.record({ type: "load.step", data: { i, text: "x".repeat(200) } });
  await a.close();
  await s.close();
  const b = await openStore(big);
  bigCount = await b.count();
  await b.close();

  const t = await openStore(small);
  const au = new Auditor({ store: t, spool: false });
  for (const agent of ["first-bot", "second-bot"]) {
    const run = au.startRun({ agent });
    runs.push(run.runId);
    await run.tool("lookup", { q: agent }, () => "ok");
    approvals.push(run.requestApproval({ action: "refund", reason: agent }));
    await run.end();
  }
  au.record({ type: "data.case", data: { code: "007", label: "string" } });
  au.record({ type: "data.case", data: { code: 7, label: "number" } });
  au.record({ type: "data.case", data: { ok: true, label: "boolean" } });
  au.record({ type: "data.case", data: { ok: "true", label: "string-true" } });
  await au.close();
  await t.close();
}, 120_000);

describe("a reader that stops early", () => {
  it("audit query | head -1, as typed: one line, nothing on stderr, exit 0", async () => {
    const err = join(dir, "err-plain");
    const code = join(dir, "code-plain");
    const { stdout } = await exec("bash", [
      "-c",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell script's own expansions
      'AUDIT_STORE="$2" "$0" "$1" query 2>"$3" | head -1; echo "${PIPESTATUS[0]}" >"$4"',
      process.execPath,
      bin,
      small,
      err,
      code,
    ]);
    expect(lines(stdout)).toHaveLength(1);
    expect((JSON.parse(stdout) as AuditEvent).runId).toBe(runs[0]);
    expect(readFileSync(err, "utf8")).toBe("");
    expect(readFileSync(code, "utf8").trim()).toBe("0");
  });

  it.each([
    ["jsonl", []],
    ["csv", ["-o", "csv"]],
    ["table", ["-o", "table"]],
    ["json", ["-o", "json"]],
  ])("audit query %s | head -1: one line, nothing on stderr, exit 0", async (_f, extra) => {
    const err = join(dir, `err-${_f}`);
    const code = join(dir, `code-${_f}`);
    // The shell's own pipe into the real head, as a user types it.
    const { stdout } = await exec("bash", [
      "-c",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell script's own expansions
      '"$0" "$1" query --all --store "$2" "${@:5}" 2>"$3" | head -1; echo "${PIPESTATUS[0]}" >"$4"',
      process.execPath,
      bin,
      big,
      err,
      code,
      ...extra,
    ]);
    expect(lines(stdout)).toHaveLength(1);
    expect(readFileSync(err, "utf8")).toBe("");
    expect(readFileSync(code, "utf8").trim()).toBe("0");
  });
});

describe("--limit and --all", () => {
  it("query shows 100 events by default and says on stderr that more match", async () => {
    const r = await audit(["query", "--store", big]);
    expect(r.code).toBe(0);
    expect(jsonl(r.stdout)).toHaveLength(100);
    expect(r.stderr).toBe(
      "audit query: showing 100 events; more match (raise --limit, or --all for every one)\n",
    );
  });

  it("--all shows every event, --limit N caps with the note, a limit that fits says nothing", async () => {
    const all = await audit(["query", "--store", big, "--all", "-o", "csv"]);
    expect(lines(all.stdout)).toHaveLength(bigCount + 1);
    expect(all.stderr).toBe("");
    const five = await audit(["query", "--store", big, "--limit", "5", "-o", "json"]);
    expect(JSON.parse(five.stdout)).toHaveLength(5);
    expect(five.stderr).toMatch(/^audit query: showing 5 events; more match/);
    const exact = await audit(["query", "--store", big, "--limit", String(bigCount)]);
    expect(jsonl(exact.stdout)).toHaveLength(bigCount);
    expect(exact.stderr).toBe("");
    const both = await audit(["query", "--store", big, "--limit", "5", "--all"]);
    expect(both.code).toBe(2);
  });

  it("tail and approvals list take them too", async () => {
    const t = await audit(["tail", "--store", big, "-n", "3"]);
    expect(jsonl(t.stdout)).toHaveLength(3);
    expect(t.stderr).toMatch(/^audit tail: showing 3 newest events; more match/);
    const tl = await audit(["tail", "--store", big, "--limit", "2"]);
    expect(jsonl(tl.stdout)).toHaveLength(2);
    const ta = await audit(["tail", "--store", big, "--all"]);
    expect(jsonl(ta.stdout)).toHaveLength(bigCount);
    expect(ta.stderr).toBe("");
    const one = await audit(["approvals", "list", "--store", small, "--limit", "1", "-o", "jsonl"]);
    expect(lines(one.stdout)).toHaveLength(1);
    expect(one.stderr).toMatch(/^audit approvals: showing 1 pending approvals; more match/);
    const every = await audit(["approvals", "list", "--store", small, "--all", "-o", "jsonl"]);
    expect(lines(every.stdout).map((l) => JSON.parse(l).approvalId)).toEqual(approvals);
  });
});

describe("every format on every command that prints rows", () => {
  it("stats, run, get, tail and approvals list in table, json, jsonl and csv", async () => {
    const csv = lines((await audit(["stats", "--store", small, "-o", "csv"])).stdout);
    expect(csv[0]).toBe("group,key,count,first,last");
    expect(csv[1]).toMatch(/^all,events,\d+,\d{4}-/);
    expect(csv).toContainEqual(expect.stringMatching(/^type,tool\.start,2,/));
    const rows = jsonl((await audit(["stats", "--store", small, "-o", "jsonl"])).stdout);
    expect(rows).toContainEqual(expect.objectContaining({ group: "actor", key: "first-bot" }));
    const json = JSON.parse((await audit(["stats", "--store", small, "-o", "json"])).stdout);
    expect(json.byType["tool.start"]).toBe(2);

    const runCsv = lines((await audit(["run", runs[0]!, "--store", small, "-o", "csv"])).stdout);
    expect(runCsv[0]).toMatch(/^id,time,type,/);
    expect(runCsv.length).toBeGreaterThan(4);
    const runJsonl = jsonl(
      (await audit(["run", runs[0]!, "--store", small, "-o", "jsonl"])).stdout,
    );
    expect(new Set(runJsonl.map((e) => e.runId))).toEqual(new Set([runs[0]]));
    const runTable = (await audit(["run", runs[0]!, "--store", small, "-o", "table"])).stdout;
    expect(runTable).toMatch(/^TIME\s+TYPE\s+RISK\s+ACTOR\s+RUN\s+DETAIL\n/);

    const id = runJsonl[0]!.id;
    expect(lines((await audit(["get", id, "--store", small, "-o", "csv"])).stdout)).toHaveLength(2);
    expect(jsonl((await audit(["get", id, "--store", small, "-o", "jsonl"])).stdout)[0]!.id).toBe(
      id,
    );
    expect((await audit(["get", id, "--store", small, "-o", "table"])).stdout).toMatch(/^TIME/);

    const tailCsv = lines((await audit(["tail", "-n", "2", "--store", small, "-o", "csv"])).stdout);
    expect(tailCsv).toHaveLength(3);
    expect(tailCsv[0]).toMatch(/^id,time,type,/);

    const list = await audit(["approvals", "list", "--store", small, "-o", "csv"]);
    expect(lines(list.stdout)[0]).toBe("approvalId,time,action,reason,runId");
    expect(lines(list.stdout)).toHaveLength(3);
    const table = lines((await audit(["approvals", "list", "--store", small])).stdout);
    expect(table[0]).toMatch(/^APPROVALID\s+TIME\s+ACTION\s+REASON\s+RUNID$/);
    expect(table[1]).toContain(runs[0]!.slice(-8));

    const bad = await audit(["stats", "--store", small, "-o", "xml"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^audit stats: --format must be one of table, json, jsonl, csv/);
  });
});

describe("--data", () => {
  const labels = async (...data: string[]) =>
    jsonl(
      (
        await audit([
          "query",
          "--store",
          small,
          "--type",
          "data.case",
          ...data.flatMap((d) => ["--data", d]),
        ])
      ).stdout,
    ).map((e) => e.data.label);

  it("key=value compares with the string as written; key:=value with the JSON value", async () => {
    expect(await labels("code=007")).toEqual(["string"]);
    expect(await labels("code=7")).toEqual([]);
    expect(await labels("code:=7")).toEqual(["number"]);
    expect(await labels('code:="007"')).toEqual(["string"]);
    expect(await labels("ok:=true")).toEqual(["boolean"]);
    expect(await labels("ok=true")).toEqual(["string-true"]);
    expect(await labels("label=number", "code:=7")).toEqual(["number"]);
  });

  it("refuses JSON that is not a number, boolean or string, and a pair without a key", async () => {
    for (const bad of ["code:=seven", "code:=null", "code:=[7]", "=7", ":=7", "code"]) {
      const r = await audit(["query", "--store", small, "--data", bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/^audit query: --data /);
    }
  });
});

describe("ids as the tables show them", () => {
  it("audit run, --run, get and approvals resolve take a unique start or end of an id", async () => {
    const shown = runs[0]!.slice(-8);
    const tree = await audit(["run", shown, "--store", small]);
    expect(tree.code).toBe(0);
    expect(tree.stdout).toMatch(/^run first-bot ✓/);
    const q = jsonl((await audit(["query", "--store", small, "--run", shown])).stdout);
    expect(q.length).toBeGreaterThan(3);
    expect(new Set(q.map((e) => e.runId))).toEqual(new Set([runs[0]]));
    const stats = JSON.parse(
      (await audit(["stats", "--store", small, "--run", runs[1]!.slice(0, 30), "-o", "json"]))
        .stdout,
    );
    expect(stats.byActor).toEqual({ "second-bot": expect.any(Number) });
    const event = q[1]!;
    const got = await audit(["get", event.id.slice(-12), "--store", small]);
    expect(JSON.parse(got.stdout)).toEqual(event);

    const copy = `sqlite:${join(dir, "resolve.db")}`;
    await audit(["copy", "--from", small, "--to", copy, "-q"]);
    const resolved = await audit([
      "approvals",
      "resolve",
      approvals[1]!.slice(-8),
      "--outcome",
      "approve",
      "--by",
      "alice",
      "--store",
      copy,
    ]);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toBe(`resolved ${approvals[1]}: approve by alice\n`);
  });

  it("refuses an ambiguous id, naming what it matches, and exits 1 for one that fits nothing", async () => {
    let common = 0;
    while (runs[0]![common] === runs[1]![common]) common++;
    expect(common).toBeGreaterThanOrEqual(4);
    const prefix = runs[0]!.slice(0, common);
    const r = await audit(["run", prefix, "--store", small]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`audit run: run id "${prefix}" is ambiguous: it matches 2 run ids`);
    expect(r.stderr).toContain(runs[0]);
    expect(r.stderr).toContain(runs[1]);
    expect(lines(r.stderr)).toHaveLength(1);
    const none = await audit(["run", "zzzzzzzz", "--store", small]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe("audit run: no events for run zzzzzzzz\n");
  });
});

describe("errors", () => {
  it("have exactly one prefix, the command's, on one line", async () => {
    const cases: [string[], number][] = [
      [["query", "--store", "redis://x"], 2],
      [["query", "--store", small, "--since", "yesterday"], 2],
      [["get", "nope", "--store", small], 1],
      [["approvals", "resolve", "nope", "--outcome", "x", "--by", "y", "--store", small], 1],
      [["verify", "--store", small, "--public-key", join(dir, "absent.pem")], 2],
      [["prune", "--store", small, "--keep", "many"], 2],
      [["query", "--store", "postgres://nobody@127.0.0.1:1/x"], 3],
      [["copy", "--from", "postgres://nobody@127.0.0.1:1/x", "--to", "memory:"], 3],
    ];
    for (const [args, code] of cases) {
      const r = await audit(args);
      expect(r.code, args.join(" ")).toBe(code);
      expect(lines(r.stderr), args.join(" ")).toHaveLength(1);
      expect(r.stderr, args.join(" ")).toMatch(new RegExp(`^audit ${args[0]}: `));
      expect(r.stderr.match(/audit [a-z-]+:/g), args.join(" ")).toHaveLength(1);
      expect(r.stderr, args.join(" ")).not.toContain("[audit]");
      expect(r.stderr, args.join(" ")).not.toMatch(/^\s+at /m);
    }
  });

  it("exit 3 when PostgreSQL refuses connections, naming the server", async () => {
    const r = await audit(["stats", "--store", "postgres://nobody@127.0.0.1:1/x"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^audit stats: .*cannot connect to 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });
});

describe("the parser", () => {
  it("prints the version, and suggests the command or option meant", async () => {
    const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
    expect((await audit(["--version"])).stdout).toBe(`${pkg.version}\n`);
    const cmd = await audit(["qeury"]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toBe(
      'audit: unknown command "qeury"; did you mean query? (audit --help lists them)\n',
    );
    const opt = await audit(["tail", "--folow"]);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/^audit tail: unknown option '--folow'; did you mean --follow\?/);
    const extra = await audit(["stats", "surplus", "--store", small]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/unexpected argument 'surplus'/);
    expect((await audit(["help", "prune"])).stdout).toMatch(/^audit prune — /);
    const sub = await audit(["approvals", "lsit", "--store", small]);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(
      /^audit approvals: unknown approvals command "lsit"; did you mean list\?/,
    );
  });
});

describe("audit prune --dry-run", () => {
  it("says what would be deleted, deletes nothing, and the real prune deletes as many", async () => {
    const copy = `sqlite:${join(dir, "dry.db")}`;
    await audit(["copy", "--from", big, "--to", copy, "-q"]);
    const events = jsonl((await audit(["query", "--store", copy, "--all"])).stdout);
    const cut = events[1000]!.time;
    const expected = events.filter((e) => e.time < cut);
    const dry = await audit(["prune", "--store", copy, "--before", cut, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      `dry run: would delete ${expected.length} events, from ${expected[0]!.time} to ${expected.at(-1)!.time}; nothing deleted\n`,
    );
    expect(jsonl((await audit(["query", "--store", copy, "--all"])).stdout)).toEqual(events);
    const keep = await audit(["prune", "--store", copy, "--keep", "10", "--dry-run"]);
    expect(keep.stdout).toMatch(new RegExp(`^dry run: would delete ${events.length - 10} events`));
    const none = await audit(["prune", "--store", copy, "--before", "2000-01-01", "--dry-run"]);
    expect(none.stdout).toBe("dry run: would delete no events; nothing deleted\n");
    const real = await audit(["prune", "--store", copy, "--before", cut]);
    expect(real.stdout).toBe(`pruned ${expected.length} events\n`);
  });
});

describe("progress on a terminal", () => {
  function io(tty: boolean) {
    let out = "";
    let err = "";
    return {
      io: {
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s), isTTY: tty },
        env: {},
      },
      out: () => out,
      err: () => err,
    };
  }

  it("verify, copy and prune draw a progress line on a TTY stderr and nothing otherwise", async () => {
    const tty = io(true);
    expect(await main(["verify", "--store", big], tty.io)).toBe(0);
    expect(tty.err()).toMatch(/\r\x1b\[Kverifying… \d+ events/);
    expect(tty.err().endsWith("\r\x1b[K")).toBe(true);
    expect(tty.out()).toContain("OK: every chain verifies");
    const target = `sqlite:${join(dir, "progress.db")}`;
    const copying = io(true);
    expect(await main(["copy", "--from", big, "--to", target, "--batch", "500"], copying.io)).toBe(
      0,
    );
    expect(copying.err()).toContain(
      `copying [####################] 100% ${bigCount}/${bigCount}\n`,
    );
    const pruning = io(true);
    expect(await main(["prune", "--store", target, "--keep", "10"], pruning.io)).toBe(0);
    expect(pruning.err()).toContain("pruning…");
    const pipe = io(false);
    expect(await main(["verify", "--store", big], pipe.io)).toBe(0);
    expect(await main(["prune", "--store", target, "--keep", "5"], pipe.io)).toBe(0);
    expect(pipe.err()).toBe("");
  });
});
