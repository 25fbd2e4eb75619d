import type { Auditor } from "@audit/core";
import { Agent, Runner, setTracingDisabled, tool } from "@openai/agents-core";
import { assistantMessage, functionCall, ScriptedModel } from "@openai/agents-core/testing";
import { afterEach, beforeEach, expect, it } from "vitest";
import { z } from "zod";
import { type AuditTracingProcessor, registerAuditTracing } from "../src/index.js";
import { usage } from "./agents.js";
import { sqliteAuditor, trail } from "./helpers.js";

// vitest sets NODE_ENV=test, under which the SDK turns tracing off.
setTracingDisabled(false);

let audit: Auditor;
let processor: AuditTracingProcessor;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ audit, cleanup } = await sqliteAuditor());
  processor = registerAuditTracing(audit);
});
afterEach(async () => {
  await processor.shutdown();
  await cleanup();
});

function lookupAgent(onLookup: () => Promise<void> = async () => {}) {
  const lookup = tool({
    name: "lookup",
    description: "Looks something up.",
    parameters: z.object({ q: z.string() }),
    execute: async ({ q }) => {
      await onLookup();
      return `found ${q}`;
    },
  });
  return new Agent({
    name: "bot",
    tools: [lookup],
    model: new ScriptedModel([
      { output: [functionCall("lookup", { q: "x" }, { callId: "c1" })], usage: usage(3, 2) },
      { output: [assistantMessage("done")], usage: usage(4, 1) },
    ]),
  });
}

it("records a streamed run like any other once the stream is consumed", async () => {
  const stream = await new Runner().run(lookupAgent(), "go", { stream: true });
  for await (const _ of stream) {
    // The run advances as the stream is read.
  }
  await stream.completed;
  expect(stream.finalOutput).toBe("done");
  const events = await trail(audit);
  expect(events.map((e) => e.type)).toEqual([
    "run.start",
    "agent.start",
    "tool.start",
    "tool.end",
    "llm.end",
    "llm.end",
    "agent.end",
    "run.end",
  ]);
  expect(events.at(-1)!.data).toMatchObject({
    status: "ok",
    usage: { inputTokens: 7, outputTokens: 3 },
  });
});

it("ends an aborted run with an error", async () => {
  const controller = new AbortController();
  const agent = lookupAgent(async () => {
    controller.abort();
  });
  await expect(new Runner().run(agent, "go", { signal: controller.signal })).rejects.toThrow();
  const events = await trail(audit);
  expect(events[0]!.type).toBe("run.start");
  const runEnd = events.at(-1)!;
  expect(runEnd.type).toBe("run.end");
  expect(runEnd.data).toMatchObject({
    status: "error",
    error: "AbortError: This operation was aborted",
  });
  expect(events.find((e) => e.type === "agent.end")?.data.status).toBe("error");
  expect(runEnd.risk).toBe("high");
  // The tool that was running when the signal fired still completed (the SDK does not interrupt it).
  expect(events.find((e) => e.type === "tool.end")?.data).toMatchObject({ result: "found x" });
});
