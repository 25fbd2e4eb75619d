import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Installs the packed packages into fresh projects with npm, as a user would, and runs programs
// there: only the backends a project installs are present, and using another one says how to
// install it.

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const work = mkdtempSync(join(tmpdir(), "audit-as-user-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A user's shell: none of the variables the package manager running these tests sets.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => k !== "NODE_PATH" && !k.startsWith("npm_") && !k.startsWith("PNPM_"),
  ),
);

function run(
  cmd: string,
  args: string[],
  cwd: string,
): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, {
      cwd,
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000,
    });
    return { code: 0, stdout, stderr: "" };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

function pnpm(): { cmd: string; args: string[] } {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return { cmd: process.execPath, args: [execPath] };
  return { cmd: "npx", args: ["--yes", "pnpm@10.34.9"] };
}

const packs = join(work, "packs");
const tarball = (name: string) =>
  join(packs, readdirSync(packs).find((f) => f.startsWith(`audit-${name}-`))!);

beforeAll(() => {
  mkdirSync(packs);
  const p = pnpm();
  // pnpm pack turns workspace: ranges into real versions, as publishing does.
  for (const dir of readdirSync(join(root, "packages"))) {
    const r = run(
      p.cmd,
      [...p.args, "pack", "--pack-destination", packs],
      join(root, "packages", dir),
    );
    if (r.code !== 0) throw new Error(`pnpm pack failed in ${dir}: ${r.stderr}`);
  }
}, 300_000);

function project(name: string, packages: string[], program: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }));
  writeFileSync(join(dir, "main.js"), program);
  const r = run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", ...packages.map(tarball)],
    dir,
  );
  if (r.code !== 0) throw new Error(`npm install failed: ${r.stderr}`);
  return dir;
}

const program = (
  url: string,
) => `import { createAuditor, verifyChain, openStore } from "@audit/core";
const audit = await createAuditor({ store: ${JSON.stringify(url)}, spool: false });
await audit.withRun({ agent: "bot" }, async (run) => { await run.tool("lookup", { id: 1 }, () => "ok"); });
await audit.flush();
const report = await verifyChain(audit.store);
console.log("events", await audit.store.count(), "ok", report.ok);
await audit.close();
try {
  await openStore("postgres://localhost/app");
} catch (err) {
  console.log(err.name, err.message);
}
`;

describe("installed from the packed tarballs with npm", () => {
  it("@audit/core + @audit/sqlite (+ the CLI): records, verifies, and names the missing PostgreSQL package", () => {
    const dir = project("with-sqlite", ["core", "sqlite", "cli"], program("sqlite:./audit.db"));
    const r = run(process.execPath, ["main.js"], dir);
    expect(r.stdout).toContain("events 4 ok true");
    expect(r.stdout).toContain(
      'AdapterNotInstalledError [audit] the "postgres:" store needs @audit/postgres, which is not installed; run `npm install @audit/postgres`',
    );
    const cli = join(dir, "node_modules", ".bin", "audit");
    const verify = run(cli, ["verify", "--store", "sqlite:./audit.db"], dir);
    expect(verify.stdout).toContain("OK: every chain verifies");
    const missing = run(cli, ["query", "--store", "postgres://localhost/app"], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      'audit query: the "postgres:" store needs @audit/postgres, which is not installed; run `npm install @audit/postgres` (or pnpm add / yarn add @audit/postgres)\n',
    );
  }, 300_000);

  it("@audit/core + @audit/jsonl: records, verifies, and names the missing packages", () => {
    const dir = project(
      "with-jsonl",
      ["core", "jsonl"],
      `${program("jsonl:./audit-logs")}
try { await openStore("sqlite:./x.db"); } catch (err) { console.log(err.name, err.message); }
`,
    );
    const r = run(process.execPath, ["main.js"], dir);
    expect(r.stdout).toContain("events 4 ok true");
    expect(r.stdout).toContain("needs @audit/postgres, which is not installed");
    expect(r.stdout).toContain(
      "needs @audit/sqlite, which is not installed; run `npm install @audit/sqlite`",
    );
  }, 300_000);
});
