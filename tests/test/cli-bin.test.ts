import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The `audit` command is a committed launcher, so that installing the workspace links it before
// anything is built (a bin pointing into dist/ makes pnpm warn "Failed to create bin").

const root = fileURLToPath(new URL("../..", import.meta.url));
const cli = join(root, "packages", "cli");
const work = mkdtempSync(join(tmpdir(), "audit-bin-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the audit bin", () => {
  it("is a committed file, shipped in the package", () => {
    const manifest = JSON.parse(readFileSync(join(cli, "package.json"), "utf8"));
    expect(manifest.bin).toEqual({ audit: "./bin/audit.js" });
    expect(manifest.files).toContain("bin");
    const tracked = execFileSync("git", ["ls-files", "bin/audit.js"], {
      cwd: cli,
      encoding: "utf8",
    });
    expect(tracked.trim()).toBe("bin/audit.js");
  });

  it("runs the built command", () => {
    const out = execFileSync(process.execPath, [join(cli, "bin", "audit.js"), "--help"], {
      encoding: "utf8",
    });
    expect(out).toContain("Usage: audit");
  });

  it("says to build first, in one line and with exit code 2, when dist is missing", () => {
    mkdirSync(join(work, "bin"));
    copyFileSync(join(cli, "bin", "audit.js"), join(work, "bin", "audit.js"));
    let result: { status: number; stderr: string } = { status: 0, stderr: "" };
    try {
      execFileSync(process.execPath, [join(work, "bin", "audit.js"), "--help"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (err) {
      result = err as { status: number; stderr: string };
    }
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "audit: @audit/cli is not built yet; run `pnpm build` in the repository first\n",
    );
  });
});
