import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Auditor, createAuditor, uuidv7 } from "@audit/core";
import type { ToolMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { Command, MemorySaver } from "@langchain/langgraph";
import { createAgent, humanInTheLoopMiddleware } from "langchain";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuditCallbackHandler, hitlApprovalId, hitlDecisions } from "../src/index.js";
import {
  answers,
  callsTool,
  refundTool,
  resolveFromAnotherProcess,
  runTrail,
  types,
} from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "audit-langchain-hitl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let storeUrl: string;
let audit: Auditor;
let n = 0;
beforeEach(async () => {
  storeUrl = `sqlite:${join(dir, `hitl-${++n}.db`)}`;
  audit = await createAuditor({ store: storeUrl, spool: false });
});
afterEach(() => audit.close());

async function pausedByHitl(amount: number) {
  const model = fakeModel()
    .respond(callsTool("tc-h", "refund", { orderId: "A-4", amount }))
    .respond(answers("Handled."));
  const { refund, issued } = refundTool();
  const handler = new AuditCallbackHandler(audit, { agent: "refund-bot", awaitHandlers: true });
  const agent = createAgent({
    model,
    tools: [refund],
    middleware: [
      humanInTheLoopMiddleware({
        interruptOn: {
          refund: {
            allowedDecisions: ["approve", "reject"],
            description: "Refunds need a supervisor",
          },
        },
      }),
    ],
    checkpointer: new MemorySaver(),
  });
  const config = { callbacks: [handler], configurable: { thread_id: `hitl-${n}` } };
  const runId = uuidv7();
  const paused = await agent.invoke(
    { messages: [{ role: "user", content: "refund A-4" }] },
    { ...config, runId },
  );
  return { model, agent, config, paused, issued, runId };
}

function toolMessagesSeen(model: ReturnType<typeof fakeModel>) {
  const last = (model.calls.at(-1)?.messages ?? []) as ToolMessage[];
  return last
    .filter((m) => m.getType() === "tool")
    .map((m) => ({ content: m.content, status: m.status }));
}

describe("humanInTheLoopMiddleware backed by audit.approvals", () => {
  it("records each action request, and resumes with the decision made in another process", async () => {
    const { model, agent, config, paused, issued, runId } = await pausedByHitl(300);
    expect(issued).toEqual([]);
    const interrupt = paused.__interrupt__?.[0];
    expect(interrupt?.id).toEqual(expect.any(String));
    const approvalId = hitlApprovalId(interrupt!.id!, 0);

    const events = await runTrail(audit, runId);
    expect(types(events)).toEqual([
      "run.start",
      "llm.start",
      "llm.end",
      "approval.request",
      "run.end",
    ]);
    expect(events[3]?.data).toEqual({
      approvalId,
      action: "refund",
      reason: expect.stringContaining("Refunds need a supervisor"),
      options: {
        tool: "refund",
        args: { orderId: "A-4", amount: 300 },
        allowedDecisions: ["approve", "reject"],
      },
    });
    expect(events[4]?.data).toMatchObject({ interrupted: true });

    expect(await hitlDecisions(audit, paused.__interrupt__, { wait: false })).toBeUndefined();
    const human = await resolveFromAnotherProcess(storeUrl, "approve", "alice");
    expect(human.approvalId).toBe(approvalId);
    const resume = await hitlDecisions(audit, paused.__interrupt__, { timeoutMs: 10_000 });
    expect(resume).toEqual({ decisions: [{ type: "approve" }] });

    const final = await agent.invoke(new Command({ resume }), config);
    expect(final.messages.at(-1)?.content).toBe("Handled.");
    expect(issued).toEqual([{ orderId: "A-4", amount: 300 }]);
    expect(toolMessagesSeen(model)).toEqual([
      { content: "refunded 300 on A-4", status: "success" },
    ]);
  }, 60_000);

  it("rejects the call with the reviewer's comment when the human denies it", async () => {
    const { model, agent, config, paused, issued } = await pausedByHitl(5000);
    await resolveFromAnotherProcess(storeUrl, "deny", "bob", "far too large");
    const resume = await hitlDecisions(audit, paused.__interrupt__, { timeoutMs: 10_000 });
    expect(resume).toEqual({ decisions: [{ type: "reject", message: "far too large" }] });
    await agent.invoke(new Command({ resume }), config);
    expect(issued).toEqual([]);
    expect(toolMessagesSeen(model)).toEqual([{ content: "far too large", status: "error" }]);
  }, 60_000);
});
