import { type AuditEvent, uuidv7 } from "@audit/core";
import { describe, expect, it } from "vitest";
import { buildRunTree, flattenTree } from "../src/index.js";
import { MAX_DEPTH } from "../src/run-tree.js";

// The tree builder on its own, with the trails a hostile or broken writer can produce.

const t0 = Date.parse("2026-01-01T00:00:00.000Z");
const ev = (i: number, fields: Partial<AuditEvent>): AuditEvent => ({
  id: uuidv7(),
  type: "custom.step",
  time: new Date(t0 + i).toISOString(),
  runId: "r",
  data: {},
  ...fields,
});

describe("buildRunTree", () => {
  it("keeps every event when parent links form a cycle", () => {
    const events = [
      ev(0, { spanId: "a", parentSpanId: "b" }),
      ev(1, { spanId: "b", parentSpanId: "a" }),
      ev(2, { spanId: "c", parentSpanId: "c" }),
    ];
    const rows = flattenTree(buildRunTree(events));
    expect(rows.map((r) => r.node.spanId).sort()).toEqual(["a", "b", "c"]);
  });

  it("handles spans nested 50,000 deep without running out of stack", () => {
    const events = Array.from({ length: 50_000 }, (_, i) =>
      ev(i, { spanId: `s${i}`, ...(i > 0 && { parentSpanId: `s${i - 1}` }) }),
    );
    const roots = buildRunTree(events);
    const rows = flattenTree(roots);
    expect(rows).toHaveLength(50_000);
    // Listed flat, in time order, below the deepest level shown.
    expect(Math.max(...rows.map((r) => r.depth))).toBe(MAX_DEPTH);
    expect(rows.map((r) => r.node.spanId)).toEqual(events.map((e) => e.spanId));
    expect(() => JSON.stringify(roots)).not.toThrow();
  });

  it("pairs an approval's request and resolution, and hangs orphans at the root", () => {
    const events = [
      ev(0, { type: "run.start", spanId: "run", data: { agent: "bot" } }),
      ev(1, {
        type: "approval.request",
        parentSpanId: "run",
        data: { approvalId: "ap", action: "pay" },
      }),
      ev(5, {
        type: "approval.resolve",
        parentSpanId: "run",
        data: { approvalId: "ap", outcome: "deny", resolvedBy: "x" },
      }),
      ev(6, {
        type: "tool.start",
        spanId: "t",
        parentSpanId: "gone",
        data: { tool: "x", callId: "1" },
      }),
    ];
    const roots = buildRunTree(events);
    expect(roots.map((r) => r.name)).toEqual(["run bot", "tool x"]);
    const approval = roots[0]!.children[0]!;
    expect(approval).toMatchObject({ kind: "approval", status: "denied", durationMs: 4 });
    expect(approval.events.map((e) => e.type)).toEqual(["approval.request", "approval.resolve"]);
    expect(roots[1]!.status).toBe("running");
  });
});
