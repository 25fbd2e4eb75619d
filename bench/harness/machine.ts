// Where and with what a run was made, so that two results files can be compared honestly.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";

function versionOf(pkg: string): string {
  try {
    const url = new URL(`../node_modules/${pkg}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync("git", args, {
      cwd: new URL("..", import.meta.url),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The machine, its load, the software and the code measured. */
export function describeMachine(postgres: string | undefined): string[] {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const commit = git(["rev-parse", "--short", "HEAD"]);
  const dirty = git(["status", "--porcelain", "--", "packages", "bench"]);
  const deps = [
    "@audit/core",
    "@audit/jsonl",
    "@audit/sqlite",
    "@audit/postgres",
    "@audit/otel",
    "better-sqlite3",
    "pg",
    "pino",
    "@opentelemetry/sdk-trace-base",
  ];
  return [
    `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load average at the start ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" / ")}.`,
    `Software: node ${process.version}; PostgreSQL ${postgres ?? "not reached"}; ${deps
      .map((d) => `${d} ${versionOf(d)}`)
      .join(", ")}.`,
    `Code: ${commit ? `commit ${commit}${dirty ? " with uncommitted changes under packages/ or bench/" : ""}` : "not a git checkout"}.`,
  ];
}

/** The command that reproduces the run, with the BENCH_* settings it used. */
export function describeCommand(): string {
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith("BENCH_") || k === "AUDIT_TEST_POSTGRES_URL")
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  const script = process.env.npm_lifecycle_event;
  const node = `node ${process.execArgv.join(" ")} bench/run.ts`;
  const prefix = env.length > 0 ? `${env.join(" ")} ` : "";
  return script === "bench"
    ? `\`${prefix}pnpm bench\` (runs \`${node}\` after building)`
    : `\`${prefix}${node}\``;
}
