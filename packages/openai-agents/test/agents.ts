import { Agent, tool, Usage } from "@openai/agents-core";
import { assistantMessage, functionCall, ScriptedModel } from "@openai/agents-core/testing";
import { z } from "zod";

/** A secret that must never reach the trail. */
export const SECRET = "sk-live-abcdef0123456789abcdef";

/** Usage of one scripted model response. */
export function usage(inputTokens: number, outputTokens: number): Usage {
  return new Usage({
    requests: 1,
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
  });
}

/** A support desk: triage looks an order up and hands off to a specialist who may refund it. */
export function supportDesk(
  options: { refundNeedsApproval?: boolean; specialistScript?: ScriptedModel } = {},
) {
  const calls = { lookup: 0, refund: 0 };
  const lookupOrder = tool({
    name: "lookup_order",
    description: "Looks an order up.",
    parameters: z.object({ order: z.string(), apiKey: z.string() }),
    execute: async ({ order }) => {
      calls.lookup++;
      return { order, total: 420 };
    },
  });
  const refund = tool({
    name: "refund",
    description: "Refunds an order.",
    parameters: z.object({ order: z.string() }),
    needsApproval: options.refundNeedsApproval ?? false,
    execute: async ({ order }) => {
      calls.refund++;
      return `refunded ${order}`;
    },
  });
  const specialistModel =
    options.specialistScript ??
    new ScriptedModel([
      {
        output: [functionCall("refund", { order: "A-1" }, { callId: "call-3" })],
        usage: usage(5, 2),
      },
      { output: [assistantMessage("refund done")], usage: usage(7, 1) },
    ]);
  const specialist = new Agent({ name: "specialist", model: specialistModel, tools: [refund] });
  const triageModel = new ScriptedModel([
    {
      output: [
        functionCall("lookup_order", { order: "A-1", apiKey: SECRET }, { callId: "call-1" }),
      ],
      usage: usage(10, 5),
    },
    {
      output: [functionCall("transfer_to_specialist", {}, { callId: "call-2" })],
      usage: usage(20, 3),
    },
  ]);
  const triage = new Agent({
    name: "triage",
    model: triageModel,
    tools: [lookupOrder],
    handoffs: [specialist],
  });
  return { triage, specialist, specialistModel, triageModel, calls };
}
