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

/** The short text the table shows for a payload. */
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
  return parts.length > 0 ? parts.join(" ") : JSON.stringify(d);
}

function pad(s: string, width: number): string {
  return s.length >= width ? s : s + " ".repeat(width - s.length);
}

/** Aligned columns; risk coloured only when `color` is on (a terminal). */
export function table(
  events: readonly AuditEvent[],
  options: { color: boolean; width?: number },
): string {
  const header = ["TIME", "TYPE", "RISK", "ACTOR", "RUN", "DETAIL"];
  const rows = events.map((e) => [
    e.time,
    e.type,
    e.risk ?? "",
    e.actor ?? "",
    e.runId ? e.runId.slice(-8) : "",
    summarize(e),
  ]);
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

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
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
