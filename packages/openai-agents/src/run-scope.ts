import { AsyncLocalStorage } from "node:async_hooks";
import type { AuditEvent } from "@audit/core";

/** The audit run a span belongs to, as the tracing processor keeps it. */
export interface TracedRun {
  runId: string;
  /** The span id of the run's root (the first task span). */
  rootSpanId: string;
  sessionId: string | undefined;
  traceId: string | undefined;
  actor: string | undefined;
  /** Set once `run.end` is recorded. */
  ended: boolean;
}

/**
 * One `runWithApprovals` call. The runner's spans are created inside it, so the processor finds it
 * through AsyncLocalStorage and keeps one audit run open across the invocations that resume the
 * run after approvals, instead of ending the run each time the SDK pauses for a human.
 */
export interface RunScope {
  run: TracedRun | undefined;
  input: unknown;
  /** Model names by agent name, read from the agents the caller passed in. */
  models: Map<string, string>;
  /** Token usage summed over every invocation of the scope. */
  usage: RunUsage;
  /** The error of the last root span that ended with one. */
  rootError: unknown;
}

/** Token usage of a run, summed over its model calls. */
export interface RunUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  requests: number;
  cachedInputTokens: number;
}

export const runScopes = new AsyncLocalStorage<RunScope>();

/** Creates an empty scope. */
export function newRunScope(input: unknown, models: Map<string, string>): RunScope {
  return {
    run: undefined,
    input,
    models,
    usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0, requests: 0, cachedInputTokens: 0 },
    rootError: undefined,
  };
}

/** The envelope fields of an event recorded inside a traced run. */
export function runEnvelope(
  run: TracedRun,
): Pick<AuditEvent, "runId" | "sessionId" | "traceId" | "actor"> {
  return {
    runId: run.runId,
    ...(run.sessionId !== undefined && { sessionId: run.sessionId }),
    ...(run.traceId !== undefined && { traceId: run.traceId }),
    ...(run.actor !== undefined && { actor: run.actor }),
  };
}
