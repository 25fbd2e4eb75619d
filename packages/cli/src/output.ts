import type { AuditEvent } from "@audit/core";
import { type OptionDef, UsageError } from "./args.js";
import { csvCell, csvHeader, csvRow, escapeCell, type Format, table } from "./format.js";
import type { CliIo } from "./io.js";

/** Every output format of a command that prints rows. */
export const ROW_FORMATS: Format[] = ["table", "json", "jsonl", "csv"];

/** `-o, --format`, with the formats a command offers and the one it uses without the option. */
export function formatOption(formats: readonly string[], byDefault: string): OptionDef {
  return {
    name: "format",
    short: "o",
    type: "string",
    value: "F",
    description: `${formats.join(" | ")}   (default: ${byDefault})`,
    group: "Output",
  };
}

/**
 * The format asked for with `-o`, else the command's default: `"auto"` is a table on a terminal
 * and JSON Lines otherwise.
 * @throws {UsageError} for a format the command does not offer.
 */
export function formatOf(
  values: Record<string, unknown>,
  io: CliIo,
  allowed: readonly string[],
  byDefault: "auto" | Format,
): Format {
  const f =
    (values.format as string | undefined) ??
    (byDefault === "auto" ? (io.stdout.isTTY ? "table" : "jsonl") : byDefault);
  if (!allowed.includes(f))
    throw new UsageError(`--format must be one of ${allowed.join(", ")}, not "${f}"`);
  return f as Format;
}

/** Writes events in one format (a whole list; see {@link EventWriter} to stream). */
export function printEvents(events: readonly AuditEvent[], format: Format, io: CliIo): void {
  if (format === "json") io.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
  else if (format === "table")
    io.stdout.write(
      table(events, {
        color: io.stdout.isTTY === true && !io.env.NO_COLOR,
        width: io.stdout.columns ?? 160,
      }),
    );
  else {
    const w = new EventWriter(format, io);
    for (const e of events) w.write(e);
    w.end();
  }
}

/**
 * Writes events one by one where the format allows (jsonl, csv: constant memory), and collects
 * them for the formats that need the whole list (table, json).
 */
export class EventWriter {
  readonly #format: Format;
  readonly #io: CliIo;
  readonly #held: AuditEvent[] = [];
  #started = false;

  constructor(format: Format, io: CliIo) {
    this.#format = format;
    this.#io = io;
  }

  /** Writes or holds one event. */
  write(e: AuditEvent): void {
    if (this.#format === "jsonl") this.#io.stdout.write(`${JSON.stringify(e)}\n`);
    else if (this.#format === "csv") {
      if (!this.#started) this.#io.stdout.write(csvHeader());
      this.#io.stdout.write(csvRow(e));
    } else this.#held.push(e);
    this.#started = true;
  }

  /** Writes what was held, and the CSV header of an empty listing. */
  end(): void {
    if (this.#format === "csv" && !this.#started) this.#io.stdout.write(csvHeader());
    if (this.#format === "table" || this.#format === "json")
      printEvents(this.#held, this.#format, this.#io);
  }
}

/** Rows that are not events (counts, approvals): named columns, values of any JSON type. */
export type Row = Record<string, unknown>;

/** Writes rows in one format; tables escape every cell (see {@link escapeCell}). */
export function printRows(
  rows: readonly Row[],
  columns: readonly string[],
  format: Format,
  io: CliIo,
): void {
  if (format === "json") io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else if (format === "jsonl") for (const r of rows) io.stdout.write(`${JSON.stringify(r)}\n`);
  else if (format === "csv") {
    io.stdout.write(`${columns.join(",")}\n`);
    for (const r of rows) io.stdout.write(`${columns.map((c) => csvCell(r[c])).join(",")}\n`);
  } else {
    const cells = rows.map((r) =>
      columns.map((c) => {
        const v = r[c];
        return escapeCell(
          v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v),
        );
      }),
    );
    const header = columns.map((c) => c.toUpperCase());
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
    const line = (r: string[]) =>
      r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
    io.stdout.write(`${[header, ...cells].map(line).join("\n")}\n`);
  }
}

/** Says on stderr that a listing was capped, and how to see the rest. */
export function noteCapped(io: CliIo, command: string, shown: number, what = "events"): void {
  io.stderr.write(
    `audit ${command}: showing ${shown} ${what}; more match (raise --limit, or --all for every one)\n`,
  );
}
