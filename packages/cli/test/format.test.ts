import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AuditEvent, Auditor, openStore } from "@audit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvCell, csvRow, escapeCell, summarize, table } from "../src/format.js";

const HOSTILE = [
  "fake\n2026-01-01T00:00:00.000Z  policy.decision  high  admin  decision=allow",
  "over\rwrite",
  "\x1b[2J\x1b[31mred\x1b[0m",
  "one\u2028two",
  "csi\u009b31m",
  "rtl\u202eevil",
  "tab\there",
];

function event(data: Record<string, unknown>, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: "0190c3a2-7b1e-7cc3-9d1f-3b2a1c0d9e8f",
    type: "tool.start",
    time: "2026-01-01T00:00:00.000Z",
    data,
    ...extra,
  };
}

/** No character that could start a row or drive the terminal. */
const SAFE = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$/;

describe("table cells", () => {
  it("escape newlines, carriage returns, tabs, ANSI, C1 and bidi controls", () => {
    expect(escapeCell("a\nb\rc\td")).toBe("a\\nb\\rc\\td");
    expect(escapeCell("\x1b[31mred")).toBe("\\x1b[31mred");
    expect(escapeCell("x\u009b1m")).toBe("x\\x9b1m");
    expect(escapeCell("a\u2028b\u202ec")).toBe("a\\u2028b\\u202ec");
    expect(escapeCell("plain — ünïcode ✓ 😀")).toBe("plain — ünïcode ✓ 😀");
    for (const h of HOSTILE) expect(escapeCell(h)).toMatch(SAFE);
  });

  it("keep one event to one row whatever its strings hold", () => {
    const events = HOSTILE.map((h) =>
      event({ tool: h, message: h }, { actor: h, runId: `run-${h}`, risk: "low" }),
    );
    for (const color of [false, true]) {
      const out = table(events, { color, width: 400 });
      const lines = out.split("\n").filter(Boolean);
      expect(lines).toHaveLength(events.length + 1);
      // Only the colour codes the table adds itself, none from the data.
      const stripped = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ""));
      for (const l of stripped) expect(l).toMatch(SAFE);
      expect(out).not.toContain("\x1b[2J");
    }
    for (const h of HOSTILE) expect(summarize(event({ tool: h }))).toMatch(SAFE);
  });
});

describe("CSV cells", () => {
  it("neutralise formulas (OWASP): =, +, -, @, tab and carriage return at the start", () => {
    expect(csvCell('=HYPERLINK("http://evil.example","click")')).toBe(
      '"\'=HYPERLINK(""http://evil.example"",""click"")"',
    );
    expect(csvCell("+1+cmd")).toBe("'+1+cmd");
    expect(csvCell("-2+3")).toBe("'-2+3");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\t=1")).toBe("'\t=1");
    expect(csvCell("\r=1")).toBe('"\'\r=1"');
    expect(csvCell("safe = text")).toBe("safe = text");
    expect(csvCell("")).toBe("");
    expect(csvCell(undefined)).toBe("");
    const row = csvRow(event({ a: 1 }, { actor: "=cmd|' /C calc'!A0", sessionId: "@x" }));
    expect(row).toContain(",'=cmd|' /C calc'!A0,'@x,");
  });
});

describe("the CLI prints hostile strings safely", () => {
  const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
  const dir = mkdtempSync(join(tmpdir(), "audit-cli-format-"));
  const store = `sqlite:${join(dir, "audit.db")}`;
  let runId = "";
  const exec = promisify(execFile);
  const audit = async (args: string[]) =>
    (
      await exec(process.execPath, [join(packageDir, "dist", "bin.js"), ...args], {
        cwd: packageDir,
        env: { ...process.env, AUDIT_STORE: "" },
        timeout: 60_000,
      })
    ).stdout;

  beforeAll(async () => {
    const s = await openStore(store);
    const a = new Auditor({ store: s, spool: false, actor: HOSTILE[0]! });
    const run = a.startRun({ agent: HOSTILE[2]! });
    runId = run.runId;
    await run.tool(HOSTILE[0]!, { q: 1 }, () => 1);
    await run.tool(HOSTILE[1]!, { q: 2 }, () => 2);
    run.policy({ policy: HOSTILE[3]!, decision: "deny", reason: HOSTILE[4]! });
    run.action({ actionType: "x", target: '=HYPERLINK("http://evil.example")', status: "success" });
    await run.end({ output: "ok" });
    await a.close();
    const b = new Auditor({ store: s, spool: false, actor: '=HYPERLINK("http://evil.example")' });
    b.record({ type: "note.added", data: { text: "@SUM(1+1)" } });
    await b.close();
    await s.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("in query -o table, tail and run: one line per event, no control character", async () => {
    const tableOut = await audit(["query", "--store", store, "-o", "table", "--limit", "1000"]);
    const lines = tableOut.split("\n").filter(Boolean);
    const events = (await audit(["query", "--store", store, "-o", "jsonl", "--limit", "1000"]))
      .trim()
      .split("\n");
    expect(lines.length).toBe(1 + events.length);
    for (const l of lines) expect(l).toMatch(SAFE);
    const tail = (await audit(["tail", "--store", store, "-n", "100", "-o", "table"]))
      .split("\n")
      .filter(Boolean);
    for (const l of tail) expect(l).toMatch(SAFE);
    const tree = (await audit(["run", runId, "--store", store])).split("\n").filter(Boolean);
    for (const l of tree) expect(l).toMatch(SAFE);
    expect(tree.length).toBeLessThanOrEqual(6);
  });

  it("in query -o csv: no cell a spreadsheet would run", async () => {
    const csv = await audit(["query", "--store", store, "-o", "csv"]);
    expect(csv).not.toMatch(/(^|,)"?[=+\-@]/m);
    expect(csv).toContain("'=HYPERLINK");
  });
});
