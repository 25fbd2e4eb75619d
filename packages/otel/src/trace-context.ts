import { type Span, TraceFlags, trace } from "@opentelemetry/api";

// Audit events carry a trace id but no trace flags, so the sampling decision of the application's
// span is remembered here, by trace id, when the auditor asks for the active context. Bounded: the
// traces that matter are the ones of runs still being exported.
const MAX_TRACES = 10_000;
const flagsByTrace = new Map<string, number>();

/** The trace flags of a trace seen through {@link otelTraceContext}, if it was seen. */
export function traceFlagsOf(traceId: string): number | undefined {
  return flagsByTrace.get(traceId);
}

function remember(traceId: string, flags: number): void {
  if (flagsByTrace.get(traceId) === flags) return;
  flagsByTrace.delete(traceId);
  flagsByTrace.set(traceId, flags);
  if (flagsByTrace.size > MAX_TRACES) {
    const oldest = flagsByTrace.keys().next().value;
    if (oldest !== undefined) flagsByTrace.delete(oldest);
  }
}

/**
 * The active span's trace and span ids, for the auditor's `traceContext` option: events recorded
 * inside a span carry its trace id, and a run started inside one becomes its child. The span's
 * sampled flag is remembered too, so a run inside an unsampled trace is not exported as sampled.
 */
export function otelTraceContext(): { traceId: string; spanId: string } | undefined {
  const span: Span | undefined = trace.getActiveSpan();
  const sc = span?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return undefined;
  remember(sc.traceId, sc.traceFlags & TraceFlags.SAMPLED);
  return { traceId: sc.traceId, spanId: sc.spanId };
}
