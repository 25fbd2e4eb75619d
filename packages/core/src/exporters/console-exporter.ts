import { AuditClosedError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import type { AuditExporter } from "./exporter.js";

/** Options of {@link ConsoleExporter}. */
export interface ConsoleExporterOptions {
  /**
   * Where lines go.
   * @default process.stderr
   */
  stream?: { write(chunk: string): unknown };
  /**
   * `"json"`: one JSON object per line. `"pretty"`: one readable line per event.
   * @default "json"
   */
  format?: "json" | "pretty";
}

/** Writes events to a stream (standard error by default), one line each. */
export class ConsoleExporter implements AuditExporter {
  readonly id = "console";
  readonly #stream: { write(chunk: string): unknown };
  readonly #format: "json" | "pretty";
  #shutdown = false;

  constructor(options: ConsoleExporterOptions = {}) {
    this.#stream = options.stream ?? process.stderr;
    this.#format = options.format ?? "json";
  }

  async export(events: readonly AuditEvent[]): Promise<void> {
    if (this.#shutdown) throw new AuditClosedError("[exporter console] export after shutdown");
    let out = "";
    for (const e of events)
      out += (this.#format === "json" ? JSON.stringify(e) : formatPretty(e)) + "\n";
    this.#stream.write(out);
  }

  async shutdown(): Promise<void> {
    this.#shutdown = true;
  }
}

/** One readable line: time, type, risk, actor, the run and the payload. */
export function formatPretty(e: AuditEvent): string {
  const parts = [e.time, e.type.padEnd(16)];
  if (e.risk) parts.push(`[${e.risk}]`);
  if (e.actor) parts.push(e.actor);
  if (e.runId) parts.push(`run=${e.runId.slice(-8)}`);
  parts.push(JSON.stringify(e.data));
  return parts.join(" ");
}
