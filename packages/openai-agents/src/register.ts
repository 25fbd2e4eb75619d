import type { Auditor } from "@audit/core";
import { addTraceProcessor } from "@openai/agents-core";
import { AuditTracingProcessor, type AuditTracingProcessorOptions } from "./tracing-processor.js";

/**
 * Creates an {@link AuditTracingProcessor} and adds it to the SDK's processors with
 * `addTraceProcessor`. Call it after `import "@openai/agents"`, whose default exporter replaces the
 * processor list (and shuts down any processor added before it).
 */
export function registerAuditTracing(
  audit: Auditor,
  options: AuditTracingProcessorOptions = {},
): AuditTracingProcessor {
  const processor = new AuditTracingProcessor(audit, options);
  addTraceProcessor(processor);
  return processor;
}
