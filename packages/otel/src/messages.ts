/**
 * Model and agent content in the shape the GenAI semantic conventions (v1.41.0) require for
 * `gen_ai.input.messages` and `gen_ai.output.messages`: a list of `{ role, parts }` messages whose
 * parts are typed (`text`, `tool_call`, `tool_call_response`, or a generic part keeping its own
 * type). Inputs come as the frameworks give them — a plain string, OpenAI-style
 * `{ role, content, tool_calls }` messages, Anthropic-style content blocks, or messages already in
 * the conventions' shape — and are translated, never dropped.
 */

type Json = Record<string, unknown>;

/** One part of a message, as the conventions define it. */
export type MessagePart = { type: string } & Json;

/** A chat message of `gen_ai.input.messages`. */
export interface ChatMessage {
  role: string;
  parts: MessagePart[];
  name?: string;
}

/** A message of `gen_ai.output.messages`: a chat message with why the model stopped. */
export interface OutputMessage extends ChatMessage {
  finish_reason: string;
}

const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function text(content: unknown): MessagePart {
  return { type: "text", content: typeof content === "string" ? content : JSON.stringify(content) };
}

function parseArguments(args: unknown): unknown {
  if (typeof args !== "string") return args;
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

// A content block of a provider's message: OpenAI content parts, Anthropic blocks, or a part that
// already follows the conventions.
function part(block: unknown): MessagePart {
  if (!isObject(block) || typeof block.type !== "string") return text(block);
  switch (block.type) {
    case "text":
    case "input_text":
    case "output_text":
      return text(block.content ?? block.text ?? "");
    case "reasoning":
    case "thinking":
      return {
        type: "reasoning",
        content: String(block.content ?? block.thinking ?? block.text ?? ""),
      };
    case "tool_call":
    case "tool_use":
    case "tool-call": {
      const out: MessagePart = {
        type: "tool_call",
        name: String(block.name ?? block.toolName ?? "tool"),
      };
      const id = block.id ?? block.toolCallId;
      if (id !== undefined) out.id = String(id);
      const args = block.arguments ?? block.input ?? block.args;
      if (args !== undefined) out.arguments = parseArguments(args);
      return out;
    }
    case "tool_call_response":
    case "tool_result":
    case "tool-result": {
      const out: MessagePart = {
        type: "tool_call_response",
        response: block.response ?? block.content ?? block.result ?? block.output ?? null,
      };
      const id = block.id ?? block.tool_use_id ?? block.toolCallId;
      if (id !== undefined) out.id = String(id);
      return out;
    }
    default:
      return { ...block, type: block.type };
  }
}

function parts(content: unknown): MessagePart[] {
  if (content === undefined || content === null) return [];
  if (Array.isArray(content)) return content.map(part);
  return [isObject(content) && typeof content.type === "string" ? part(content) : text(content)];
}

function message(value: unknown, defaultRole: string): ChatMessage {
  if (!isObject(value)) return { role: defaultRole, parts: [text(value)] };
  const role = typeof value.role === "string" ? value.role : defaultRole;
  const out: ChatMessage = {
    role,
    parts: Array.isArray(value.parts) ? value.parts.map(part) : parts(value.content),
  };
  if (typeof value.name === "string") out.name = value.name;
  // OpenAI's assistant message lists its tool calls beside the content.
  if (Array.isArray(value.tool_calls)) {
    for (const call of value.tool_calls) {
      if (!isObject(call)) continue;
      const fn = isObject(call.function) ? call.function : call;
      out.parts.push(
        part({ type: "tool_call", id: call.id, name: fn.name, arguments: fn.arguments }),
      );
    }
  }
  // OpenAI's tool message answers one call.
  if (role === "tool" && typeof value.tool_call_id === "string" && !Array.isArray(value.parts)) {
    out.parts = [
      { type: "tool_call_response", id: value.tool_call_id, response: value.content ?? null },
    ];
  }
  if (out.parts.length === 0 && !Array.isArray(value.parts) && value.content === undefined) {
    // Not a message at all (an arbitrary object): keep it whole as text.
    out.parts = [text(value)];
  }
  return out;
}

function list(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  // A prompt object such as `{ messages: [...] }` or `{ prompt: "..." }`.
  if (isObject(value) && Array.isArray(value.messages)) return value.messages;
  return [value];
}

/** `gen_ai.input.messages` from whatever a run or model call was given. */
export function inputMessages(input: unknown): ChatMessage[] {
  return list(input).map((m) => message(m, "user"));
}

/**
 * `gen_ai.output.messages` from what a run or model call returned. Each message needs a finish
 * reason; `finishReason` is the call's own when it reported one.
 */
export function outputMessages(output: unknown, finishReason: string): OutputMessage[] {
  return list(output).map((m) => {
    const msg = message(m, "assistant");
    const own = isObject(m) && typeof m.finish_reason === "string" ? m.finish_reason : undefined;
    return { ...msg, finish_reason: own ?? finishReason };
  });
}
