// A support desk built with OpenAI Agents JS, recorded by @audit/openai-agents. It runs offline:
// the agents' models are the SDK's own ScriptedModel. Triage looks an order up and hands off to a
// refunds specialist; the refund tool needs a human's approval, which a supervisor gives through
// `audit approvals resolve`; a payment policy refuses a transfer. The trail goes to AUDIT_STORE,
// or sqlite:./audit.db, and the run is printed at the end with the `audit` command.
import { main as audit } from "@audit/cli";
import { createAuditor } from "@audit/core";
import {
  AuditTracingProcessor,
  auditPolicyGuardrail,
  runWithApprovals,
} from "@audit/openai-agents";
import {
  Agent,
  Runner,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  Usage,
} from "@openai/agents-core";
import { assistantMessage, functionCall, ScriptedModel } from "@openai/agents-core/testing";
import { z } from "zod";

const storeUrl = process.env.AUDIT_STORE || "sqlite:./audit.db";
const auditor = await createAuditor({ store: storeUrl, spool: false }).catch((err: Error) => {
  console.error(err.message);
  process.exit(2);
});

// Only the audit trail here: this replaces agents-core's default console exporter. A program
// that keeps other processors adds ours with addTraceProcessor (or registerAuditTracing).
// ScriptedModel emits no generation span naming a model; a real OpenAI model does.
const processor = new AuditTracingProcessor(auditor, { defaultModel: "scripted" });
setTraceProcessors([processor]);
setTracingDisabled(false);

const usage = (inputTokens: number, outputTokens: number) =>
  new Usage({ requests: 1, inputTokens, outputTokens, totalTokens: inputTokens + outputTokens });

const lookupOrder = tool({
  name: "lookup_order",
  description: "Looks an order up in the shop's database.",
  parameters: z.object({ order: z.string(), apiKey: z.string() }),
  execute: async ({ order }) => ({ order, total: 420, customer: "dana@example.com" }),
});
const refund = tool({
  name: "refund",
  description: "Refunds an order. A human must approve it.",
  parameters: z.object({ order: z.string(), amount: z.number() }),
  needsApproval: true,
  execute: async ({ order, amount }) => `refunded ${amount} on ${order}`,
});
const transfer = tool({
  name: "bank_transfer",
  description: "Sends money to an account.",
  parameters: z.object({ iban: z.string(), amount: z.number() }),
  inputGuardrails: [
    auditPolicyGuardrail({
      processor,
      policy: "payments",
      decide: ({ args }) =>
        (args as { amount: number }).amount > 100
          ? { decision: "deny", rule: "max-100", reason: "transfers over 100 need finance" }
          : "allow",
    }),
  ],
  execute: async ({ amount }) => `sent ${amount}`,
});

const specialist = new Agent({
  name: "refunds-specialist",
  instructions: "Refund orders that qualify.",
  tools: [refund, transfer],
  model: new ScriptedModel([
    {
      output: [functionCall("bank_transfer", { iban: "DE00 1234", amount: 420 }, { callId: "c3" })],
      usage: usage(310, 22),
    },
    {
      output: [functionCall("refund", { order: "A-1002", amount: 420 }, { callId: "c4" })],
      usage: usage(340, 18),
    },
    { output: [assistantMessage("Order A-1002 is refunded.")], usage: usage(380, 9) },
  ]),
});
const triage = new Agent({
  name: "triage",
  instructions: "Find the order, then hand refunds to the specialist.",
  tools: [lookupOrder],
  handoffs: [specialist],
  model: new ScriptedModel([
    {
      output: [
        functionCall(
          "lookup_order",
          { order: "A-1002", apiKey: "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e" },
          { callId: "c1" },
        ),
      ],
      usage: usage(120, 14),
    },
    {
      output: [functionCall("transfer_to_refunds_specialist", {}, { callId: "c2" })],
      usage: usage(180, 6),
    },
  ]),
});

const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

// The supervisor answers once the request is in the store (a busy machine may take a moment to
// write it), and asks again if the CLI could not find it yet: the agent waits for the answer.
async function answer(argv: string[]): Promise<void> {
  await auditor.flush();
  for (let attempt = 0; attempt < 20; attempt++) {
    if ((await audit(argv, io)) === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}
const result = await runWithApprovals(triage, "Please refund order A-1002", {
  processor,
  runner: new Runner({ workflowName: "support-desk", groupId: "conversation-1002" }),
  onApprovalRequested: (request) => {
    // The supervisor answers from the CLI, as a person at another terminal would.
    console.log(`\nwaiting for a human: ${request.tool} ${JSON.stringify(request.args)}`);
    const args = ["approvals", "resolve", request.approvalId, "--outcome", "approve"];
    const rest = ["--by", "supervisor", "--comment", "loyal customer", "--store", storeUrl];
    const shown = [...args, ...rest].map((a) => (a.includes(" ") ? JSON.stringify(a) : a));
    console.log(`$ audit ${shown.join(" ")}`);
    setTimeout(() => void answer([...args, ...rest]), 100);
  },
});
console.log(`\nagent: ${result.finalOutput}`);

await auditor.flush();
const [runStart] = await auditor.store.query({
  type: "run.start",
  sessionId: "conversation-1002",
  order: "desc",
  limit: 1,
});
await auditor.close();
if (!runStart?.runId) {
  console.error("no run was recorded");
  process.exit(1);
}
console.log(`\n$ audit run ${runStart.runId} --store ${storeUrl}\n`);
process.exitCode = await audit(["run", runStart.runId, "--store", storeUrl], io);
