import type { AuditEvent } from "@audit/core";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { escapeCell, summarize } from "../format.js";
import { resolveRunId } from "../ids.js";
import type { CliIo } from "../io.js";
import { formatOf, formatOption, printEvents } from "../output.js";
import { STORE_OPTION, storeFrom } from "../store.js";

interface Node {
  event: AuditEvent;
  end?: AuditEvent;
  children: Node[];
}

function printTree(events: readonly AuditEvent[], io: CliIo): void {
  // Operations are span ids: the start event opens a node, the end event closes it; everything
  // else hangs under the span it happened in.
  const bySpan = new Map<string, Node>();
  const roots: Node[] = [];
  const ends = new Set(["run.end", "tool.end", "tool.error"]);
  for (const e of events) {
    if (e.spanId && bySpan.has(e.spanId) && ends.has(e.type)) {
      bySpan.get(e.spanId)!.end = e;
      continue;
    }
    const node: Node = { event: e, children: [] };
    if (e.spanId && !bySpan.has(e.spanId)) bySpan.set(e.spanId, node);
    const parent = e.parentSpanId ? bySpan.get(e.parentSpanId) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  const line = (n: Node, depth: number) => {
    const e = n.event;
    const end = n.end;
    const duration =
      typeof end?.data.durationMs === "number"
        ? ` ${end.data.durationMs}ms`
        : typeof e.data.durationMs === "number"
          ? ` ${e.data.durationMs}ms`
          : "";
    const status = end
      ? end.type === "tool.error" || end.data.status === "error"
        ? " ✗"
        : " ✓"
      : "";
    const name =
      e.type === "run.start"
        ? `run ${e.data.agent ?? e.actor ?? ""}`.trim()
        : e.type === "tool.start"
          ? `tool ${e.data.tool}`
          : e.type;
    const detail = e.type === "run.start" || e.type === "tool.start" ? "" : `  ${summarize(e)}`;
    io.stdout.write(
      `${"  ".repeat(depth)}${escapeCell(name)}${status}${duration}${detail}  [${escapeCell(e.time)}]\n`,
    );
    for (const c of n.children) line(c, depth + 1);
  };
  for (const r of roots) line(r, 0);
}

const RUN_FORMATS = ["tree", "table", "json", "jsonl", "csv"];

/** `audit run`: a run as a tree of its operations, with durations. */
export const run: Command = {
  def: {
    name: "run",
    summary: "a run as an indented tree with durations",
    usage: ["run RUN_ID [-o tree|table|json|jsonl|csv]"],
    description:
      "RUN_ID is the run's id, or a unique start or end of it (the RUN column of the tables shows\nits last 8 characters).",
    options: [formatOption(RUN_FORMATS, "tree"), STORE_OPTION],
    maxPositionals: 1,
    examples: [
      "audit run 01890a5d-ac96-774b-bcce-b302099a8057",
      "audit run 099a8057",
      "audit run 099a8057 -o csv > run.csv",
    ],
  },
  async run({ values, positionals }, io) {
    const shown = positionals[0];
    if (!shown) throw new UsageError("needs a run id");
    const format = (values.format as string | undefined) ?? "tree";
    if (format !== "tree") formatOf(values, io, RUN_FORMATS, "json");
    const store = await storeFrom(values.store, io);
    const events: AuditEvent[] = [];
    try {
      const runId = await resolveRunId(store, shown);
      if (runId !== undefined) for await (const e of store.stream({ runId })) events.push(e);
    } finally {
      await store.close();
    }
    if (events.length === 0) {
      io.stderr.write(`audit run: no events for run ${shown}\n`);
      return 1;
    }
    if (format === "tree") printTree(events, io);
    else printEvents(events, format as "table" | "json" | "jsonl" | "csv", io);
    return 0;
  },
};
