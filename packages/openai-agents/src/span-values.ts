import type { RunUsage } from "./run-scope.js";

/**
 * The SDK passes tool input and output as JSON text. Parsed back into values, the auditor's
 * privacy layer can see key names (an `apiKey` argument is scrubbed by its name); text that is not
 * JSON is kept as it is.
 */
export function parseJsonText(text: unknown): unknown {
  if (typeof text !== "string") return text;
  if (text === "") return undefined;
  const first = text.trimStart()[0];
  if (first !== "{" && first !== "[") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** An OpenTelemetry trace id from the SDK's `trace_<32 hex>`; undefined for any other shape. */
export function otelTraceId(sdkTraceId: string): string | undefined {
  const hex = sdkTraceId.startsWith("trace_") ? sdkTraceId.slice(6) : sdkTraceId;
  return /^[0-9a-f]{32}$/.test(hex) ? hex : undefined;
}

/** Reads a token count from any of the usage shapes the SDK's span data uses. */
function count(usage: Record<string, unknown>, ...keys: string[]): number {
  for (const key of keys) {
    const v = usage[key];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return 0;
}

/** The usage of a turn, task, generation or response span in one shape. */
export function readUsage(usage: unknown): RunUsage | undefined {
  if (usage === null || typeof usage !== "object") return undefined;
  const u = usage as Record<string, unknown>;
  const inputTokens = count(u, "input_tokens", "inputTokens", "prompt_tokens");
  const outputTokens = count(u, "output_tokens", "outputTokens", "completion_tokens");
  return {
    inputTokens,
    outputTokens,
    totalTokens: count(u, "total_tokens", "totalTokens") || inputTokens + outputTokens,
    requests: count(u, "requests") || 1,
    cachedInputTokens: count(u, "cached_input_tokens", "cachedInputTokens"),
  };
}

/** Adds `b` into `a`. */
export function addUsage(a: RunUsage, b: RunUsage): void {
  a.inputTokens += b.inputTokens;
  a.outputTokens += b.outputTokens;
  a.totalTokens += b.totalTokens;
  a.requests += b.requests;
  a.cachedInputTokens += b.cachedInputTokens;
}

/** Milliseconds between two ISO times; 0 when either is missing. */
export function durationBetween(start: string | null, end: string | null): number {
  if (!start || !end) return 0;
  const ms = Date.parse(end) - Date.parse(start);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** The SDK's error text for a tool call a human rejected. */
export function isRejection(error: { message: string; data?: Record<string, unknown> }): boolean {
  const detail = error.data?.error;
  return typeof detail === "string" && detail.includes("manually rejected");
}
