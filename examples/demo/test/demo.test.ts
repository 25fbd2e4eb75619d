import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const here = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "audit-demo-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function demo(store: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      join(here, "node_modules", ".bin", "tsx"),
      ["demo.ts"],
      { cwd: here, env: { ...process.env, AUDIT_STORE: store }, timeout: 150_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
  });
}

describe("the demo", () => {
  it("records three conversations into SQLite, shows them and verifies the chains", async () => {
    const r = await demo(`sqlite:${join(work, "demo.db")}`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("OK: every chain verifies");
    expect(r.stdout).toMatch(/recorded \d+, stored \d+, lost 0/);
    expect(r.stdout).toContain("approval.resolve");
  });

  it("says in one line that PostgreSQL is unreachable, with a hint, and no stack trace", async () => {
    // A real connection attempt to a port nothing listens on.
    const r = await demo("postgres://nobody@127.0.0.1:1/x");
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^demo: .*cannot connect to 127\.0\.0\.1:1/);
    expect(lines[1]).toMatch(/^hint: .*unset AUDIT_STORE/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it("hides the password of a store URL it prints", async () => {
    const r = await demo("postgres://nobody:hunter2@127.0.0.1:1/x");
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain("hunter2");
  });

  it("names the store URLs it takes when the scheme is unknown", async () => {
    const r = await demo("bogus:x");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown store scheme "bogus:"');
    expect(r.stderr).toContain("hint: AUDIT_STORE takes a store URL");
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
