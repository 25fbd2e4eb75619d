import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The README's two set-up commands, run as a newcomer would: in a fresh clone (of the committed
// state of this repository), with a shell, and none of the variables of the package manager that
// runs these tests.

const root = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const work = mkdtempSync(join(tmpdir(), "audit-fresh-clone-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        k !== "NODE_PATH" &&
        !["npm_", "PNPM_", "VITEST", "TURBO_"].some((prefix) => k.startsWith(prefix)),
    ),
  ),
  TURBO_TELEMETRY_DISABLED: "1",
};

/** The README's set-up commands: the ```sh blocks that install the workspace and run a script. */
function setupCommands(text: string): string[] {
  return [...text.matchAll(/^```sh\n([^\n]*)\n```$/gm)]
    .map((m) => m[1] ?? "")
    .filter((line) => line.startsWith("npx --yes pnpm@10.34.9 install && "));
}

function sh(command: string, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("the README's set-up commands", () => {
  const commands = setupCommands(readme);

  it("are exactly two: one runs the demo, one runs every test, and CI runs the latter", () => {
    expect(commands).toEqual([
      "npx --yes pnpm@10.34.9 install && npx --yes pnpm@10.34.9 demo",
      "npx --yes pnpm@10.34.9 install && npx --yes pnpm@10.34.9 test",
    ]);
    const ci = readFileSync(join(root, ".ci", "run"), "utf8")
      .trimEnd()
      .split("\n");
    expect(ci.at(-1)).toBe(commands[1]);
  });

  it("work in a fresh clone", async () => {
    const clone = join(work, "clone");
    execFileSync("git", ["clone", "--quiet", root, clone], { env });

    // The first one, literally: installs, builds what the demo needs and runs it on SQLite.
    const demo = await sh(commands[0] ?? "", clone);
    expect(demo.output).not.toContain("Failed to create bin");
    expect(demo.output).toContain("OK: every chain verifies");
    expect(demo.output).toMatch(/recorded \d+, stored \d+, lost 0/);
    expect(demo.code).toBe(0);

    // The second one runs the whole suite, which contains this test: run there, it would clone
    // and test again without end (and take most of an hour on a small machine). So its install
    // runs literally, and its test script runs as package.json defines it, with its turbo tasks
    // (lint, type-check, build, test, package checks) narrowed to one package and what it
    // depends on.
    const [install] = (commands[1] ?? "").split(" && ");
    const scripts = JSON.parse(readFileSync(join(clone, "package.json"), "utf8")).scripts;
    const turbo = (scripts.test as string)
      .split(" && ")
      .find((part) => part.startsWith("turbo run "));
    expect(turbo).toContain("typecheck");
    const narrowed = `${install} && npx --yes pnpm@10.34.9 exec biome ci . && npx --yes pnpm@10.34.9 exec ${turbo} --filter=@audit/logging`;
    const tests = await sh(narrowed, clone);
    expect(tests.output).toMatch(/@audit\/logging:test: .*Tests .*passed/);
    expect(tests.output).toMatch(/@audit\/logging:typecheck/);
    expect(tests.output).toMatch(/@audit\/logging:check-package: .*All good!/);
    expect(tests.code).toBe(0);

    // The command is linked right after the install, and works once the packages are built.
    const verify = await sh(
      "npx --yes pnpm@10.34.9 exec audit verify --store sqlite:examples/demo/demo-audit.db",
      clone,
    );
    expect(verify.output).toContain("OK: every chain verifies");
    expect(verify.code).toBe(0);
  }, 1_200_000);
});
