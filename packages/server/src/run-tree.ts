import { type AuditEvent, type Risk, riskAtLeast } from "@audit/core";
import { compareEvents } from "@audit/core/store-kit";

/** What an operation of a run is, for display. */
export type SpanKind =
  | "run"
  | "llm"
  | "tool"
  | "policy"
  | "approval"
  | "error"
  | "action"
  | "event";

/** One operation of a run: its events, timing and children. */
export interface SpanNode {
  kind: SpanKind;
  /** `run support-bot`, `tool search`, `llm gpt-4o`, `policy pii: deny`, … */
  name: string;
  spanId?: string;
  parentSpanId?: string;
  /** When it began: the start event, or for a model call recorded only at its end, end − duration. */
  start: string;
  end?: string;
  durationMs?: number;
  status: "ok" | "error" | "running" | "pending" | "denied" | "info";
  risk?: Risk;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  /** The events of this operation in order (start, end, and whatever shares its span). */
  events: AuditEvent[];
  children: SpanNode[];
}

/** How deep the tree goes; deeper spans are listed flat under the last level. */
export const MAX_DEPTH = 64;

const END_TYPES = new Set(["run.end", "tool.end", "tool.error", "llm.end"]);

function kindOf(type: string): SpanKind {
  if (type.startsWith("run.")) return "run";
  if (type.startsWith("llm.")) return "llm";
  if (type.startsWith("tool.")) return "tool";
  if (type === "policy.decision") return "policy";
  if (type.startsWith("approval.")) return "approval";
  if (type === "error") return "error";
  if (type === "action") return "action";
  return "event";
}

function str(v: unknown): string {
  return typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v);
}

function nameOf(e: AuditEvent): string {
  const d = e.data;
  switch (kindOf(e.type)) {
    case "run":
      return `run ${str(d.agent) || e.actor || ""}`.trim();
    case "llm":
      return `llm ${str(d.model)}`.trim();
    case "tool":
      return `tool ${str(d.tool)}`.trim();
    case "policy":
      return `policy ${str(d.policy)}: ${str(d.decision)}`;
    case "approval":
      return `approval ${str(d.action) || str(d.approvalId)}`;
    case "error":
      return `error ${str(d.errorType)}: ${str(d.message)}`;
    case "action":
      return `action ${str(d.actionType)} ${str(d.target)}`.trim();
    default:
      return e.type;
  }
}

function newNode(e: AuditEvent): SpanNode {
  const kind = kindOf(e.type);
  const node: SpanNode = {
    kind,
    name: nameOf(e),
    start: e.time,
    status: kind === "run" || kind === "tool" ? "running" : "info",
    events: [],
    children: [],
  };
  if (e.spanId !== undefined) node.spanId = e.spanId;
  if (e.parentSpanId !== undefined) node.parentSpanId = e.parentSpanId;
  if (kind === "approval") node.status = "pending";
  if (kind === "error") node.status = "error";
  if (kind === "policy") node.status = e.data.decision === "deny" ? "denied" : "info";
  return node;
}

function absorb(node: SpanNode, e: AuditEvent): void {
  node.events.push(e);
  if (e.risk && (!node.risk || riskAtLeast(e.risk, node.risk))) node.risk = e.risk;
  const d = e.data;
  if (END_TYPES.has(e.type)) {
    node.end = e.time;
    if (typeof d.durationMs === "number") node.durationMs = d.durationMs;
    node.status = e.type === "tool.error" || d.status === "error" ? "error" : "ok";
  }
  if (e.type === "llm.end") {
    if (typeof d.inputTokens === "number") node.inputTokens = d.inputTokens;
    if (typeof d.outputTokens === "number") node.outputTokens = d.outputTokens;
    if (typeof d.costUsd === "number") node.costUsd = d.costUsd;
    if (node.events.length === 1 && typeof d.durationMs === "number")
      node.start = new Date(Date.parse(e.time) - d.durationMs).toISOString();
    if (typeof d.model === "string") node.name = `llm ${d.model}`;
  }
  if (e.type === "approval.resolve") {
    node.end = e.time;
    node.durationMs = Date.parse(e.time) - Date.parse(node.start);
    node.status = d.outcome === "approve" || d.outcome === "approved" ? "ok" : "denied";
  }
  if (
    e.type === "action" &&
    (d.status === "failed" || d.status === "denied" || d.status === "blocked")
  )
    node.status = d.status === "failed" ? "error" : "denied";
}

/**
 * Arranges a run's events as a tree of operations. Events sharing a span id form one node (a tool
 * call's start and end); an approval's request and resolution form one node (they share the
 * approval id, not a span); a node hangs under the node of its `parentSpanId`. Nodes whose parent
 * is not in the run become roots, so nothing recorded is hidden.
 */
export function buildRunTree(events: readonly AuditEvent[]): SpanNode[] {
  const sorted = [...events].sort(compareEvents);
  const bySpan = new Map<string, SpanNode>();
  const byApproval = new Map<string, SpanNode>();
  const nodes: SpanNode[] = [];
  for (const e of sorted) {
    const approvalId = typeof e.data.approvalId === "string" ? e.data.approvalId : undefined;
    let node =
      e.type === "approval.resolve" && approvalId
        ? byApproval.get(approvalId)
        : e.spanId !== undefined
          ? bySpan.get(e.spanId)
          : undefined;
    if (!node) {
      node = newNode(e);
      nodes.push(node);
      if (e.spanId !== undefined) bySpan.set(e.spanId, node);
      if (e.type === "approval.request" && approvalId) byApproval.set(approvalId, node);
    }
    absorb(node, e);
  }
  const roots: SpanNode[] = [];
  for (const node of nodes) {
    const parent = node.parentSpanId !== undefined ? bySpan.get(node.parentSpanId) : undefined;
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  // Hostile or broken parent links can form a cycle that no root reaches: cut each such node loose
  // as a root of its own, so every event is still shown and walking the tree always ends.
  const reached = new Set<SpanNode>();
  // Iterative: a hostile trail may nest thousands of spans deep.
  const reach = (start: SpanNode) => {
    const stack = [start];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (reached.has(n)) continue;
      reached.add(n);
      stack.push(...n.children);
    }
  };
  for (const r of roots) reach(r);
  for (const node of nodes) {
    if (reached.has(node)) continue;
    const parent = node.parentSpanId !== undefined ? bySpan.get(node.parentSpanId) : undefined;
    if (parent) parent.children = parent.children.filter((c) => c !== node);
    roots.push(node);
    reach(node);
  }
  // Below MAX_DEPTH everything hangs flat under the deepest allowed node: a real run never nests
  // that deep, and a hostile one must not exhaust the stack of JSON.stringify or of a reader.
  const stack = roots.map((node) => ({ node, depth: 0 }));
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth < MAX_DEPTH - 1) {
      for (const c of node.children) stack.push({ node: c, depth: depth + 1 });
      continue;
    }
    const flat: SpanNode[] = [];
    const below = [...node.children];
    while (below.length > 0) {
      const n = below.pop()!;
      flat.push(n);
      below.push(...n.children);
      n.children = [];
    }
    node.children = flat;
  }
  for (const node of nodes) {
    if (node.durationMs === undefined && node.end !== undefined)
      node.durationMs = Date.parse(node.end) - Date.parse(node.start);
    node.children.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }
  return roots;
}

/** The tree flattened depth-first, with each node's depth: the rows of a waterfall. */
export function flattenTree(roots: readonly SpanNode[]): { node: SpanNode; depth: number }[] {
  const out: { node: SpanNode; depth: number }[] = [];
  const stack = [...roots].reverse().map((node) => ({ node, depth: 0 }));
  while (stack.length > 0) {
    const item = stack.pop()!;
    out.push(item);
    for (let i = item.node.children.length - 1; i >= 0; i--)
      stack.push({ node: item.node.children[i]!, depth: item.depth + 1 });
  }
  return out;
}
