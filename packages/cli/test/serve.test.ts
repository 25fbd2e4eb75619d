import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// `audit serve` from the CLI alone: @audit/server is not a dependency of the CLI, so here (as in
// a project that did not install it) the command must say how to install it.

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "audit-cli-serve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const exec = promisify(execFile);
// A user's shell: the test runner's NODE_PATH would let the CLI see every package of this repository.
const { NODE_PATH: _, ...userEnv } = process.env;

async function audit(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...userEnv, AUDIT_STORE: "", ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("audit serve", () => {
  it("is listed in the help and has its own", async () => {
    expect((await audit(["--help"])).stdout).toMatch(
      /serve\s+web viewer, approvals inbox and HTTP API/,
    );
    const help = await audit(["serve", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--trust-proxy-user");
    expect(help.stdout).toContain("--notify-webhook");
  });

  it("names the missing package and how to install it", async () => {
    const r = await audit(["serve", "--store", `sqlite:${join(dir, "a.db")}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^audit serve: the web viewer needs @audit\/server, which is not installed; run `npm install @audit\/server`/,
    );
  });

  it("checks its options before loading anything", async () => {
    const port = await audit(["serve", "--store", "memory:", "--port", "http"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port must be a whole number/);
    const store = await audit(["serve"]);
    expect(store.code).toBe(2);
    expect(store.stderr).toMatch(/no store/);
    const hook = await audit(
      ["serve", "--store", "memory:", "--notify-webhook", "http://127.0.0.1:9/"],
      {
        AUDIT_NOTIFY_SECRET: "",
      },
    );
    expect(hook.code).toBe(2);
    expect(hook.stderr).toMatch(/signing secret/);
    const unknown = await audit(["serve", "--colour"]);
    expect(unknown.code).toBe(2);
  });
});
