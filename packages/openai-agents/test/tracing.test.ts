import type { AuditEvent, Auditor } from "@audit/core";
import {
  Agent,
  type Model,
  type ModelRequest,
  Runner,
  setTracingDisabled,
  tool,
  withGenerationSpan,
} from "@openai/agents-core";
import {
  assistantMessage,
  functionCall,
  modelError,
  ScriptedModel,
} from "@openai/agents-core/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AuditTracingProcessor, registerAuditTracing } from "../src/index.js";
import { SECRET, supportDesk, usage } from "./agents.js";
import { sqliteAuditor, trail } from "./helpers.js";

// vitest sets NODE_ENV=test, under which the SDK turns tracing off.
setTracingDisabled(false);

let audit: Auditor;
let processor: AuditTracingProcessor;
let cleanup: () => Promise<void>;
const errors: unknown[] = [];

beforeEach(async () => {
  ({ audit, cleanup } = await sqliteAuditor());
  errors.length = 0;
  processor = registerAuditTracing(audit, { onError: (e) => errors.push(e) });
});

afterEach(async () => {
  // The SDK keeps processors for the life of the process; a shut-down one records nothing more.
  await processor.shutdown();
  await cleanup();
});

function byType(events: AuditEvent[], type: string): AuditEvent[] {
  return events.filter((e) => e.type === type);
}

describe("AuditTracingProcessor", () => {
  it("records a run with its agents, model turns, tool call and handoff, nested by the SDK's span ids", async () => {
    const desk = supportDesk({
      specialistScript: new ScriptedModel([
        { output: [assistantMessage("the refund is on its way")], usage: usage(7, 1) },
      ]),
    });
    const runner = new Runner({ workflowName: "support", groupId: "conv-1" });
    const result = await runner.run(desk.triage, "refund A-1");
    expect(result.finalOutput).toBe("the refund is on its way");

    const events = await trail(audit);
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "agent.start", // triage
      "tool.start",
      "tool.end",
      "llm.end", // turn 1
      "agent.handoff",
      "agent.start", // specialist
      "llm.end", // turn 2 (asked for the handoff)
      "agent.end", // triage
      "llm.end", // turn 3
      "agent.end", // specialist
      "run.end",
    ]);
    const [runStart] = events;
    const runId = runStart!.runId!;
    expect(runStart!.spanId).toBe(runId);
    expect(runId).toMatch(/^span_/);
    expect(runStart!.data).toMatchObject({ agent: "support" });
    for (const e of events) {
      expect(e.runId).toBe(runId);
      expect(e.sessionId).toBe("conv-1");
      expect(e.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(e.traceId).toBe((runStart!.data.sdkTraceId as string).slice("trace_".length));
    }

    const [triageStart, specialistStart] = byType(events, "agent.start");
    expect(triageStart!.parentSpanId).toBe(runId);
    expect(specialistStart!.parentSpanId).toBe(runId);
    expect(specialistStart!.actor).toBe("specialist");

    const [toolStart, toolEnd] = [byType(events, "tool.start")[0]!, byType(events, "tool.end")[0]!];
    expect(toolStart.parentSpanId).toBe(triageStart!.spanId);
    expect(toolEnd.spanId).toBe(toolStart.spanId);
    expect(toolStart.actor).toBe("triage");
    expect(toolStart.data).toEqual({
      tool: "lookup_order",
      callId: toolStart.spanId,
      args: { order: "A-1", apiKey: "[REDACTED]" },
    });
    expect(toolEnd.data).toMatchObject({
      tool: "lookup_order",
      result: { order: "A-1", total: 420 },
    });

    const llm = byType(events, "llm.end");
    expect(
      llm.map((e) => [e.parentSpanId, e.data.inputTokens, e.data.outputTokens, e.data.turn]),
    ).toEqual([
      [triageStart!.spanId, 10, 5, 1],
      [triageStart!.spanId, 20, 3, 2],
      [specialistStart!.spanId, 7, 1, 3],
    ]);
    expect(llm[0]!.data.model).toBe("unknown");

    const handoff = byType(events, "agent.handoff")[0]!;
    expect(handoff.data).toEqual({ from: "triage", to: "specialist" });
    expect(handoff.parentSpanId).toBe(triageStart!.spanId);

    const runEnd = events.at(-1)!;
    expect(runEnd.spanId).toBe(runId);
    expect(runEnd.data).toMatchObject({
      status: "ok",
      usage: { inputTokens: 37, outputTokens: 9, totalTokens: 46, requests: 3 },
    });
    expect(JSON.stringify(events)).not.toContain(SECRET);
    expect(errors).toEqual([]);
  });

  it("records a tool that throws as tool.error and lets the run go on", async () => {
    const flaky = tool({
      name: "flaky",
      description: "Fails.",
      parameters: z.object({}),
      execute: async () => {
        throw new Error("disk full");
      },
    });
    const agent = new Agent({
      name: "bot",
      tools: [flaky],
      model: new ScriptedModel([
        [functionCall("flaky", {}, { callId: "c1" })],
        [assistantMessage("sorry")],
      ]),
    });
    const result = await new Runner().run(agent, "go");
    expect(result.finalOutput).toBe("sorry");
    const events = await trail(audit);
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "agent.start",
      "tool.start",
      "tool.error",
      "llm.end",
      "llm.end",
      "agent.end",
      "run.end",
    ]);
    const toolError = byType(events, "tool.error")[0]!;
    expect(toolError.risk).toBe("medium");
    expect(toolError.data).toMatchObject({ tool: "flaky", errorType: "ToolCallError" });
    expect(events.at(-1)!.data.status).toBe("ok");
  });

  it("ends the run with an error when the model fails", async () => {
    const agent = new Agent({
      name: "bot",
      model: new ScriptedModel([modelError(new Error("model overloaded"))]),
    });
    await expect(new Runner().run(agent, "go")).rejects.toThrow();
    const events = await trail(audit);
    expect(events.map((e) => e.type)).toEqual(["run.start", "agent.start", "agent.end", "run.end"]);
    expect(events[2]!.data).toMatchObject({ status: "error" });
    expect(events[3]!.data).toMatchObject({ status: "error", error: "Error: model overloaded" });
    expect(events[3]!.risk).toBe("high");
  });

  it("records a generation span as the model call of its turn, with the model's name and usage", async () => {
    // Models of @openai/agents-openai wrap each request in a generation span like this one.
    const inner = new ScriptedModel([{ output: [assistantMessage("hi")], usage: usage(12, 4) }]);
    const model: Model = {
      getResponse: (request: ModelRequest) =>
        withGenerationSpan(
          async (span) => {
            const response = await inner.getResponse(request);
            span.spanData.usage = { input_tokens: 12, output_tokens: 4 };
            span.spanData.output = [{ text: "hi" }];
            return response;
          },
          { data: { model: "gpt-test" } },
        ),
      getStreamedResponse: (request: ModelRequest) => inner.getStreamedResponse(request),
    };
    await new Runner().run(new Agent({ name: "bot", model }), "hello");
    const events = await trail(audit);
    expect(events.map((e) => e.type)).toEqual([
      "run.start",
      "agent.start",
      "llm.end",
      "agent.end",
      "run.end",
    ]);
    expect(events[2]!.data).toMatchObject({
      model: "gpt-test",
      provider: "openai",
      inputTokens: 12,
      outputTokens: 4,
    });
    // Model content stays out of the trail unless the auditor's privacy settings keep it.
    expect(events[2]!.data).not.toHaveProperty("output");
  });

  it("never throws into the SDK when recording fails", async () => {
    await audit.close();
    const agent = new Agent({ name: "bot", model: new ScriptedModel([[assistantMessage("ok")]]) });
    const result = await new Runner().run(agent, "go");
    expect(result.finalOutput).toBe("ok");
    expect(errors.length).toBeGreaterThan(0);
    expect(String(errors[0])).toMatch(/close/);
  });
});
