import type { AuditEvent } from "@audit/core";

/** Output formats of `audit query` and friends. */
export type Format = "table" | "json" | "jsonl" | "csv";

const COLORS: Record<string, string> = {
  low: "\x1b[2m",
  medium: "\x1b[33m",
  high: "\x1b[31m",
  critical: "\x1b[1;31m",
};
const RESET = "\x1b[0m";

// C0 controls (newline, CR, tab, ESC — the start of every ANSI sequence), DEL, C1 controls (0x9b is
// a one-byte CSI), the Unicode line and paragraph separators, and the bidirectional overrides that
// reorder what a terminal shows.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `text` made safe for one line of a terminal: newlines, carriage returns, tabs, escape
 * characters and other controls are shown as escapes (`\n`, `\r`, `\t`, `\x1b`, `\u2028`), so a
 * recorded string can neither start a new row nor move the cursor, recolour or rewrite the screen.
 */
export function escapeCell(text: string): string {
  if (!UNSAFE.test(text)) return text;
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (!UNSAFE.test(ch)) out += ch;
    else if (NAMED[ch] !== undefined) out += NAMED[ch];
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += `\\u${code.toString(16).padStart(4, "0")}`;
  }
  return out;
}

/** The short text the table shows for a payload, safe for one terminal line (see {@link escapeCell}). */
export function summarize(e: AuditEvent): string {
  const d = e.data;
  const parts: string[] = [];
  for (const key of [
    "tool",
    "model",
    "policy",
    "decision",
    "action",
    "actionType",
    "status",
    "outcome",
    "resolvedBy",
    "agent",
    "message",
    "errorType",
  ]) {
    const v = d[key];
    if (typeof v === "string" || typeof v === "number") parts.push(`${key}=${v}`);
  }
  if (typeof d.durationMs === "number") parts.push(`${d.durationMs}ms`);
  return escapeCell(parts.length > 0 ? parts.join(" ") : JSON.stringify(d));
}

function pad(s: string, width: number): string {
  return s.length >= width ? s : s + " ".repeat(width - s.length);
}

/**
 * Aligned columns; risk coloured only when `color` is on (a terminal). Every cell goes through
 * {@link escapeCell}, so one event is always one row.
 */
export function table(
  events: readonly AuditEvent[],
  options: { color: boolean; width?: number },
): string {
  const header = ["TIME", "TYPE", "RISK", "ACTOR", "RUN", "DETAIL"];
  const rows = events.map((e) =>
    [
      e.time,
      e.type,
      e.risk ?? "",
      e.actor ?? "",
      e.runId ? e.runId.slice(-8) : "",
      summarize(e),
    ].map((cell) => escapeCell(String(cell))),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const maxWidth = options.width ?? 160;
  const line = (cells: string[], risk?: string) => {
    const out = cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]!)))
      .join("  ")
      .slice(0, Math.max(maxWidth, 60));
    return options.color && risk && COLORS[risk] ? `${COLORS[risk]}${out}${RESET}` : out;
  };
  return [line(header), ...rows.map((r, i) => line(r, events[i]!.risk))].join("\n") + "\n";
}

// Characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection rule).
const FORMULA_START = new Set(["=", "+", "-", "@", "\t", "\r"]);

/**
 * One CSV cell (RFC 4180 quoting). A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
 * return gets a leading `'`, so a spreadsheet shows it as text instead of running it as a formula
 * (`=HYPERLINK(…)`, `@SUM(…)`).
 */
export function csvCell(v: unknown): string {
  let s = v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
  if (s.length > 0 && FORMULA_START.has(s[0]!)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_COLUMNS = [
  "id",
  "time",
  "type",
  "actor",
  "sessionId",
  "runId",
  "spanId",
  "parentSpanId",
  "traceId",
  "risk",
  "data",
  "chain",
] as const;

/** RFC 4180 CSV with a header; `data` and `chain` as JSON. */
export function csvHeader(): string {
  return CSV_COLUMNS.join(",") + "\n";
}

export function csvRow(e: AuditEvent): string {
  return (
    CSV_COLUMNS.map((c) => csvCell((e as unknown as Record<string, unknown>)[c])).join(",") + "\n"
  );
}
