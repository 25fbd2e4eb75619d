import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// `audit serve` as a process: the refusal to bind a public address without a token, and the
// token from AUDIT_SERVE_TOKEN in the printed URL and on the API.

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const cliBin = join(packageDir, "..", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "audit-serve-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { NODE_PATH: _, ...userEnv } = process.env;

function serve(args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [cliBin, "serve", ...args], {
    cwd: packageDir,
    env: { ...userEnv, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe("audit serve (process)", () => {
  it("refuses a non-loopback address without an explicit token", async () => {
    const s = serve(
      ["--store", `sqlite:${join(work, "a.db")}`, "--host", "0.0.0.0", "--port", "0"],
      {
        AUDIT_SERVE_TOKEN: "",
      },
    );
    expect(await s.exited).toBe(2);
    expect(s.err()).toMatch(/refusing to listen on 0\.0\.0\.0 without an explicit token/);
    expect(s.out()).toBe("");
  });

  it("prints one line with the URL carrying AUDIT_SERVE_TOKEN, which the API accepts as Bearer", async () => {
    const token = "env-token-0123456789abcdef";
    const s = serve(["--store", `sqlite:${join(work, "b.db")}`, "--port", "0"], {
      AUDIT_SERVE_TOKEN: token,
    });
    const deadline = Date.now() + 20_000;
    while (!s.out().includes("\n") && Date.now() < deadline && s.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    const line = s.out();
    expect(line).toMatch(
      new RegExp(`^audit serve: open http://127\\.0\\.0\\.1:\\d+/\\?token=${token}\\n$`),
    );
    const base = new URL(line.split("open ")[1]!.trim()).origin;
    const health = await fetch(`${base}/api/health`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await health.json()).toMatchObject({ ok: true, store: "sqlite" });
    s.child.kill("SIGTERM");
    expect(await s.exited).toBe(0);
  });

  it("mounts the MCP approvals server at /mcp behind the token; resolving needs --mcp-resolve", async () => {
    const token = "mcp-token-0123456789abcdef";
    const store = `sqlite:${join(work, "mcp.db")}`;
    const { Auditor, openStore } = await import("@audit/core");
    const s0 = await openStore(store);
    const a = new Auditor({ store: s0, spool: false });
    const approvalId = a.startRun({ agent: "bot" }).requestApproval({ action: "refund" });
    await a.close();
    await s0.close();
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StreamableHTTPClientTransport } = await import(
      "@modelcontextprotocol/sdk/client/streamableHttp.js"
    );
    for (const allow of [false, true]) {
      const s = serve(
        ["--store", store, "--port", "0", "--user", "carol", ...(allow ? ["--mcp-resolve"] : [])],
        { AUDIT_SERVE_TOKEN: token },
      );
      const deadline = Date.now() + 20_000;
      while (!s.out().includes("\n") && Date.now() < deadline && s.child.exitCode === null)
        await new Promise((r) => setTimeout(r, 50));
      const base = new URL(s.out().split("open ")[1]!.trim()).origin;
      // Without the token, /mcp is closed like every other path.
      expect((await fetch(`${base}/mcp`, { method: "POST", body: "{}" })).status).toBe(401);
      const client = new Client({ name: "operator", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      const tools = (await client.listTools()).tools.map((t) => t.name).sort();
      if (!allow) {
        expect(tools).not.toContain("approval_resolve");
        expect(tools).toContain("approvals_pending");
      } else {
        expect(tools).toContain("approval_resolve");
        const r = await client.callTool({
          name: "approval_resolve",
          arguments: { approvalId, outcome: "approve", resolvedBy: "mallory" },
        });
        expect(r.isError).toBeFalsy();
      }
      await client.close();
      s.child.kill("SIGTERM");
      expect(await s.exited).toBe(0);
    }
    const s1 = await openStore(store);
    const [resolution] = await s1.query({ type: "approval.resolve" });
    // resolvedBy comes from the server's --user, never from the tool call.
    expect(resolution?.data).toMatchObject({ approvalId, outcome: "approve", resolvedBy: "carol" });
    await s1.close();
  });
});
