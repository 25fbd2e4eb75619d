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
});
