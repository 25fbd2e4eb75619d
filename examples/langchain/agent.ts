// A support agent built with LangChain's createAgent, audited with @audit/langchain. It runs
// offline: the model is LangChain's own scripted fake model. A refund over 100 needs a human: the
// tool gate pauses the agent with a LangGraph interrupt and records an approval request, a
// supervisor approves it with `audit approvals resolve`, and the agent resumes with that decision.
// The trail goes to AUDIT_STORE, or to sqlite:./audit.db.
import { rmSync } from "node:fs";
import { main } from "@audit/cli";
import { createAuditor, uuidv7 } from "@audit/core";
import { AuditCallbackHandler, type ToolPolicy } from "@audit/langchain";
import { type AuditApprovalInterrupt, auditToolGate } from "@audit/langchain/middleware";
import { AIMessage } from "@langchain/core/messages";
import { fakeModel } from "@langchain/core/testing";
import { tool } from "@langchain/core/tools";
import { Command, MemorySaver } from "@langchain/langgraph";
import { createAgent } from "langchain";
import { z } from "zod";

const storeUrl = process.env.AUDIT_STORE || "sqlite:./audit.db";
if (!process.env.AUDIT_STORE)
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`./audit.db${suffix}`, { force: true });
const audit = await createAuditor({ store: storeUrl, spool: false });
const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

const lookupOrder = tool(async ({ orderId }) => JSON.stringify({ orderId, total: 250 }), {
  name: "lookup_order",
  description: "Looks an order up",
  schema: z.object({ orderId: z.string() }),
});
const refund = tool(async ({ orderId, amount }) => `refunded ${amount} on ${orderId}`, {
  name: "refund",
  description: "Refunds an order",
  schema: z.object({ orderId: z.string(), amount: z.number() }),
});

// Refunds over 100 go to a human; everything else runs.
const policy: ToolPolicy = ({ tool, args }) => {
  if (tool !== "refund") return undefined;
  const { amount } = args as { amount: number };
  return amount > 100
    ? {
        decision: "review",
        rule: "refund-over-100",
        reason: `refund of ${amount} needs a supervisor`,
      }
    : { decision: "allow", rule: "refund-up-to-100" };
};

// The scripted model: look the order up, ask for the refund, then (after the decision) confirm.
const reply = (
  content: string,
  toolCalls: { id: string; name: string; args: object }[],
  tokens: [number, number],
) =>
  new AIMessage({
    content,
    tool_calls: toolCalls.map((c) => ({
      ...c,
      args: c.args as Record<string, unknown>,
      type: "tool_call" as const,
    })),
    usage_metadata: {
      input_tokens: tokens[0],
      output_tokens: tokens[1],
      total_tokens: tokens[0] + tokens[1],
    },
    response_metadata: {
      finish_reason: toolCalls.length > 0 ? "tool_calls" : "stop",
      model_name: "support-model",
    },
  });
const model = fakeModel()
  .respond(
    reply("", [{ id: "call-1", name: "lookup_order", args: { orderId: "A-1002" } }], [120, 18]),
  )
  .respond(
    reply(
      "",
      [{ id: "call-2", name: "refund", args: { orderId: "A-1002", amount: 250 } }],
      [180, 22],
    ),
  )
  .respond(reply("Your refund of 250 for order A-1002 is on its way.", [], [230, 16]));

// awaitHandlers: the trail is complete when invoke returns (LangChain runs callbacks in the
// background otherwise).
const handler = new AuditCallbackHandler(audit, { agent: "support-bot", awaitHandlers: true });
const agent = createAgent({
  model,
  tools: [lookupOrder, refund],
  middleware: [auditToolGate(handler, { policy })],
  checkpointer: new MemorySaver(),
});
const config = { callbacks: [handler], configurable: { thread_id: "conv-42" } };

const firstRunId = uuidv7();
const paused = await agent.invoke(
  { messages: [{ role: "user", content: "Please refund order A-1002." }] },
  { ...config, runId: firstRunId },
);
const waiting =
  paused.__interrupt__?.map((i) => (i.value as AuditApprovalInterrupt).approvalId) ?? [];
console.log(`agent paused, waiting for a human on ${waiting.join(", ")}`);

// What the supervisor does, in another terminal (here through the CLI's own code).
await audit.flush();
console.log(`\n$ audit approvals list --store ${storeUrl}\n`);
await main(["approvals", "list", "--store", storeUrl], io);
for (const approvalId of waiting) {
  console.log(
    `\n$ audit approvals resolve ${approvalId} --outcome approve --by alice --comment "loyal customer"\n`,
  );
  await main(
    ["approvals", "resolve", approvalId, "--outcome", "approve", "--by", "alice"].concat([
      "--comment",
      "loyal customer",
      "--store",
      storeUrl,
    ]),
    io,
  );
}

// The agent resumes; the gate reads the decision from the trail.
for (const approvalId of waiting) await audit.approvals.wait(approvalId, { timeoutMs: 10_000 });
const resumeRunId = uuidv7();
const final = await agent.invoke(new Command({ resume: true }), { ...config, runId: resumeRunId });
console.log(`\nagent: ${final.messages.at(-1)?.content}`);
await audit.close();

if (storeUrl.startsWith("memory:") || storeUrl.startsWith("null:")) {
  console.log("(the trail lived in memory and is gone; set AUDIT_STORE to a persistent store)");
} else {
  for (const runId of [firstRunId, resumeRunId]) {
    console.log(`\n$ audit run ${runId} --store ${storeUrl}\n`);
    await main(["run", runId, "--store", storeUrl], io);
  }
  console.log(`\n$ audit verify --store ${storeUrl}\n`);
  process.exitCode = await main(["verify", "--store", storeUrl], io);
}
