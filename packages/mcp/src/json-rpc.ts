import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/** The fields of a JSON-RPC message this package reads, whatever its kind. */
export interface LooseMessage {
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code?: number; message?: string; data?: unknown };
}

/** The message as a plain object with optional fields (shape checks instead of the SDK's zod). */
export function loose(message: JSONRPCMessage): LooseMessage {
  return message as unknown as LooseMessage;
}

/** True for a request (has a method and an id). */
export function isRequest(
  m: LooseMessage,
): m is LooseMessage & { id: string | number; method: string } {
  return typeof m.method === "string" && (typeof m.id === "string" || typeof m.id === "number");
}

/** True for a response (has an id, a result or an error, and no method). */
export function isResponse(m: LooseMessage): m is LooseMessage & { id: string | number } {
  return m.method === undefined && m.id !== undefined && ("result" in m || "error" in m);
}

/** An MCP party's name and version, from `clientInfo` / `serverInfo`. */
export interface Implementation {
  name: string;
  version: string;
}

/** Reads `{ name, version }` from an `initialize` request's or result's info field. */
export function implementationOf(value: unknown): Implementation | undefined {
  if (!value || typeof value !== "object") return undefined;
  const v = value as { name?: unknown; version?: unknown };
  if (typeof v.name !== "string") return undefined;
  return { name: v.name, version: typeof v.version === "string" ? v.version : "" };
}

/** The text parts of a tool result's `content`, joined; what a failing tool said. */
export function contentText(result: Record<string, unknown> | undefined): string {
  const content = result?.content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) =>
      part && typeof part === "object" && (part as { type?: unknown }).type === "text"
        ? String((part as { text?: unknown }).text ?? "")
        : "",
    )
    .filter((t) => t !== "")
    .join("\n");
}
