// A support agent built with the Vercel AI SDK, audited with @audit/ai-sdk. It runs offline: the
// model is the SDK's own scripted test model. A refund over 100 needs a human: the call ends with an
// approval request in the trail, a supervisor approves it with `audit approvals resolve`, and the
// agent resumes with that decision. The trail goes to AUDIT_STORE, or to sqlite:./audit.db.
import { rmSync } from "node:fs";
import { auditCall, type ToolPolicy, toolApprovalResponses } from "@audit/ai-sdk";
import { main } from "@audit/cli";
import { createAuditor } from "@audit/core";
import { generateText, type ModelMessage, stepCountIs, tool } from "ai";
import { MockLanguageModelV4 } from "ai/test";
import { z } from "zod";

const storeUrl = process.env.AUDIT_STORE || "sqlite:./audit.db";
if (!process.env.AUDIT_STORE)
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`./audit.db${suffix}`, { force: true });
const audit = await createAuditor({ store: storeUrl, spool: false });
const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

const orders: Record<string, { total: number; customer: string }> = {
  "A-1002": { total: 250, customer: "dana@example.com" },
};
const tools = {
  lookupOrder: tool({
    description: "Looks an order up",
    inputSchema: z.object({ orderId: z.string() }),
    execute: async ({ orderId }) => orders[orderId] ?? { error: "no such order" },
  }),
  refund: tool({
    description: "Refunds an order",
    inputSchema: z.object({ orderId: z.string(), amount: z.number() }),
    execute: async ({ orderId, amount }) => ({ refunded: amount, orderId }),
  }),
};

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
const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});
const toolCall = (id: string, name: string, args: object, tokens: [number, number]) => ({
  content: [
    { type: "tool-call" as const, toolCallId: id, toolName: name, input: JSON.stringify(args) },
  ],
  finishReason: { unified: "tool-calls" as const, raw: "tool_calls" },
  usage: usage(...tokens),
  warnings: [],
});
const model = new MockLanguageModelV4({
  provider: "scripted",
  modelId: "support-model",
  doGenerate: [
    toolCall("call-1", "lookupOrder", { orderId: "A-1002" }, [120, 18]),
    toolCall("call-2", "refund", { orderId: "A-1002", amount: 250 }, [180, 22]),
    {
      content: [{ type: "text", text: "Your refund of 250 for order A-1002 is on its way." }],
      finishReason: { unified: "stop", raw: "stop" },
      usage: usage(230, 16),
      warnings: [],
    },
  ],
});

const messages: ModelMessage[] = [{ role: "user", content: "Please refund order A-1002." }];
const first = auditCall(audit, { agent: "support-bot", sessionId: "conv-42", policy });
const result = await generateText({
  model,
  tools,
  messages,
  stopWhen: stepCountIs(5),
  ...first,
});
console.log(`agent paused: ${result.finishReason}, waiting for a human`);

// What the supervisor does, in another terminal (here through the CLI's own code).
await audit.flush();
console.log(`\n$ audit approvals list --store ${storeUrl}\n`);
await main(["approvals", "list", "--store", storeUrl], io);
const [pending] = await audit.approvals.pending();
if (!pending) throw new Error("expected an open approval request");
console.log(
  `\n$ audit approvals resolve ${pending.approvalId} --outcome approve --by alice --comment "loyal customer"\n`,
);
await main(
  ["approvals", "resolve", pending.approvalId, "--outcome", "approve", "--by", "alice"].concat([
    "--comment",
    "loyal customer",
    "--store",
    storeUrl,
  ]),
  io,
);

// The agent picks the decision up from the trail and resumes.
const answer = await toolApprovalResponses(audit, result.response.messages, { timeoutMs: 10_000 });
const resume = auditCall(audit, { agent: "support-bot", sessionId: "conv-42", policy });
const final = await generateText({
  model,
  tools,
  messages: [...messages, ...result.response.messages, ...(answer ? [answer] : [])],
  stopWhen: stepCountIs(5),
  ...resume,
});
console.log(`\nagent: ${final.text}`);
await audit.close();

if (storeUrl.startsWith("memory:") || storeUrl.startsWith("null:")) {
  console.log("(the trail lived in memory and is gone; set AUDIT_STORE to a persistent store)");
} else {
  for (const runId of [first.runId, resume.runId]) {
    console.log(`\n$ audit run ${runId} --store ${storeUrl}\n`);
    await main(["run", runId, "--store", storeUrl], io);
  }
  console.log(`\n$ audit verify --store ${storeUrl}\n`);
  process.exitCode = await main(["verify", "--store", storeUrl], io);
}
