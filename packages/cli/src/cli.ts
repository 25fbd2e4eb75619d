import { readFileSync } from "node:fs";
import { AuditError } from "@audit/core";
import { closest, helpText, parseCommand, UsageError } from "./args.js";
import type { Command } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { bareMessage, EXIT, EXIT_HELP, isUnreachable } from "./exit-codes.js";
import type { CliIo } from "./io.js";

export type { CliIo } from "./io.js";

/** `audit --help`: the command list, made from the commands' definitions. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.def.name.length)) + 2;
  return [
    "audit — query, tail, verify and manage @audit trails",
    "",
    "Usage: audit <command> [options]",
    "       audit <command> --help",
    "       audit --version",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.def.name.padEnd(width)}${c.def.summary}`),
    "",
    "Every command takes --help; those that read a trail take --store URL (or AUDIT_STORE).",
    "",
    EXIT_HELP,
    "",
    "Examples:",
    "  audit query --store sqlite:./audit.db --type 'tool.*' --since 1h",
    "  AUDIT_STORE=jsonl:./audit-logs audit tail -f",
    "  audit verify --store postgres://audit@db/app",
  ].join("\n");
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function find(name: string): Command | undefined {
  return COMMANDS.find((c) => c.def.name === name);
}

/** The exit code for an error a command threw, after writing its one line to stderr. */
function report(err: unknown, command: string, io: CliIo): number {
  const prefix = `audit ${command}:`;
  if (err instanceof UsageError) {
    io.stderr.write(`${prefix} ${err.message} (see audit ${command} --help)\n`);
    return EXIT.usage;
  }
  if (isUnreachable(err)) {
    io.stderr.write(`${prefix} ${bareMessage(err)}\n`);
    return EXIT.unreachable;
  }
  if (err instanceof AuditError) {
    // A bad URL, a backend not installed, a value the store refuses, a store that failed.
    io.stderr.write(`${prefix} ${bareMessage(err)}\n`);
    return EXIT.usage;
  }
  io.stderr.write(`${prefix} ${bareMessage(err)}\n`);
  if (io.env.AUDIT_DEBUG && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  return EXIT.findings;
}

/**
 * Runs the `audit` command with `argv` (without the node and script paths) and returns the exit
 * code: 0 success, 1 findings (verify found a problem, a missing event, a lost approval race),
 * 2 a usage or configuration error (bad option, bad URL, backend not installed), 3 the store is
 * unreachable.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (!name) {
    io.stderr.write(`${mainHelp()}\n`);
    return EXIT.usage;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const about = args[0] === undefined ? undefined : find(args[0]);
    io.stdout.write(`${about ? helpText(about.def) : mainHelp()}\n`);
    return EXIT.ok;
  }
  if (name === "--version" || name === "-v") {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const command = find(name);
  if (!command) {
    const guess = closest(
      name,
      COMMANDS.map((c) => c.def.name),
    );
    io.stderr.write(
      `audit: unknown command "${name}"${guess ? `; did you mean ${guess}?` : ""} (audit --help lists them)\n`,
    );
    return EXIT.usage;
  }
  try {
    const parsed = parseCommand(command.def, args);
    if (parsed.values.help) {
      io.stdout.write(`${helpText(command.def)}\n`);
      return EXIT.ok;
    }
    return await command.run(parsed, io);
  } catch (err) {
    return report(err, name, io);
  }
}
