import { afterEach, describe, expect, it } from "vitest";
import { type AuditEvent, Auditor, MemoryStore } from "../src/index.js";

const open: Auditor[] = [];
function setup() {
  const store = new MemoryStore();
  const audit = new Auditor({ store, spool: false, batch: { maxDelayMs: 1 } });
  open.push(audit);
  return { store, audit };
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

const byType = (events: AuditEvent[], type: string) => events.filter((e) => e.type === type);

describe("runs", () => {
  it("records a run with tools, a model call, a policy and an approval, linked by ids and spans", async () => {
    const { store, audit } = setup();
    const run = audit.startRun({
      agent: "support-bot",
      sessionId: "conv-1",
      input: { question: "refund?" },
    });
    const hits = await run.tool("search", { query: "refund policy" }, async () => {
      await new Promise((r) => setTimeout(r, 20));
      return ["doc-1"];
    });
    expect(hits).toEqual(["doc-1"]);
    run.llm({
      model: "gpt-x",
      provider: "openai",
      inputTokens: 10,
      outputTokens: 5,
      costUsd: 0.001,
      durationMs: 12,
    });
    run.policy({ policy: "refunds", decision: "review", rule: "over-100" });
    const approvalId = run.requestApproval({ action: "refund", reason: "over limit" });
    const end = await run.end({ output: "done", usage: { tokens: 15 } });
    await audit.flush();

    const events = await store.query({ runId: run.runId });
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "tool.start",
      "tool.end",
      "llm.end",
      "policy.decision",
      "approval.request",
      "run.end",
    ]);
    for (const e of events) {
      expect(e.runId).toBe(run.runId);
      expect(e.sessionId).toBe("conv-1");
      expect(e.actor).toBe("support-bot");
    }
    const [start] = events;
    expect(start!.spanId).toBe(run.spanId);
    expect(start!.data).toEqual({ agent: "support-bot", input: { question: "refund?" } });
    const [toolStart] = byType(events, "tool.start");
    const [toolEnd] = byType(events, "tool.end");
    expect(toolStart!.spanId).toBe(toolEnd!.spanId);
    expect(toolStart!.parentSpanId).toBe(run.spanId);
    expect(toolEnd!.data).toMatchObject({
      tool: "search",
      result: ["doc-1"],
      callId: toolStart!.data.callId,
    });
    expect(toolEnd!.data.durationMs as number).toBeGreaterThanOrEqual(15);
    expect(byType(events, "llm.end")[0]!.data).toMatchObject({
      model: "gpt-x",
      inputTokens: 10,
      durationMs: 12,
    });
    expect(byType(events, "policy.decision")[0]!.risk).toBe("medium");
    expect(byType(events, "approval.request")[0]!.data).toMatchObject({
      approvalId,
      action: "refund",
    });
    expect(end.data).toMatchObject({ status: "ok", output: "done", usage: { tokens: 15 } });
    expect(end.spanId).toBe(run.spanId);
  });

  it("records a failing tool as tool.error and rethrows the original error", async () => {
    const { store, audit } = setup();
    const run = audit.startRun({ agent: "bot" });
    const boom = new RangeError("too far");
    await expect(run.tool("walk", { km: 1e9 }, () => Promise.reject(boom))).rejects.toBe(boom);
    await expect(
      run.tool("sync-throw", {}, () => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
    await audit.flush();
    const errors = await store.query({ type: "tool.error" });
    expect(errors).toHaveLength(2);
    expect(errors[0]!.data).toMatchObject({
      tool: "walk",
      errorType: "RangeError",
      error: { name: "RangeError", message: "too far" },
    });
    expect(errors[0]!.risk).toBe("medium");
  });

  it("withRun ends the run with the result, or fails it and rethrows", async () => {
    const { store, audit } = setup();
    const value = await audit.withRun({ agent: "a" }, async () => 42);
    expect(value).toBe(42);
    await expect(
      audit.withRun({ agent: "b" }, async () => {
        throw new TypeError("nope");
      }),
    ).rejects.toThrow("nope");
    await audit.withRun({ agent: "c" }, async (run) => {
      await run.end({ output: "early" });
    });
    await audit.flush();
    const ends = await store.query({ type: "run.end" });
    expect(ends.map((e) => [e.actor, e.data.status])).toEqual([
      ["a", "ok"],
      ["b", "error"],
      ["c", "ok"],
    ]);
    expect(ends[0]!.data.output).toBe(42);
    expect(ends[1]!.data.error).toMatchObject({ name: "TypeError", message: "nope" });
    expect(ends[1]!.risk).toBe("high");
    expect(ends[2]!.data.output).toBe("early");
  });

  it("ends only once", async () => {
    const { store, audit } = setup();
    const run = audit.startRun({});
    const first = await run.end();
    expect(await run.fail(new Error("late"))).toBe(first);
    await audit.flush();
    expect(await store.count({ type: "run.end" })).toBe(1);
  });

  it("fills the trace id from the trace context provider", async () => {
    const store = new MemoryStore();
    const audit = new Auditor({
      store,
      spool: false,
      traceContext: () => ({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736" }),
    });
    open.push(audit);
    const e = audit.startRun({ agent: "x" }).startEvent;
    expect(e.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    const broken = new Auditor({
      store,
      spool: false,
      traceContext: () => {
        throw new Error("no context");
      },
    });
    open.push(broken);
    expect(broken.record({ type: "x" }).traceId).toBeUndefined();
  });

  it("records custom events, actions and errors inside a run", async () => {
    const { store, audit } = setup();
    const run = audit.startRun({ agent: "bot" });
    run.event("memory.write", { key: "k" });
    run.action({ actionType: "email", target: "a@b.c", status: "success" });
    run.error(new Error("minor"));
    await run.end();
    await audit.flush();
    const types = (await store.query({ runId: run.runId })).map((e) => e.type);
    expect(types).toEqual(["run.start", "memory.write", "action", "error", "run.end"]);
    expect((await store.query({ type: "error" }))[0]!.data).toMatchObject({
      message: "minor",
      errorType: "Error",
    });
  });
});

describe("processors", () => {
  it("run in order after normalisation, and a failing one never lets the raw payload through", async () => {
    const store = new MemoryStore();
    const errors: unknown[] = [];
    const audit = new Auditor({
      store,
      spool: false,
      onError: (e) => errors.push(e),
      processors: [
        { name: "upper", process: (e) => ({ ...e, data: { ...e.data, tag: "a" } }) },
        { name: "append", process: (e) => ({ ...e, data: { ...e.data, tag: `${e.data.tag}b` } }) },
        {
          name: "picky",
          process: (e) => {
            if (e.type === "secret.thing") throw new Error("cannot redact");
            return e;
          },
        },
      ],
    });
    open.push(audit);
    expect(audit.record({ type: "x" }).data).toEqual({ tag: "ab" });
    const bad = audit.record({ type: "secret.thing", data: { password: "hunter2" } });
    expect(JSON.stringify(bad)).not.toContain("hunter2");
    await audit.flush();
    expect(JSON.stringify(await store.query())).not.toContain("hunter2");
    expect(errors).toHaveLength(1);
  });
});
