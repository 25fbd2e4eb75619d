// Events per second through an auditor, from the first `record()` until `flush()` resolves.
import type { AuditorInit, AuditStore, EventInput } from "@audit/core";
import { timed } from "../lib.js";
import { type BenchContext, recordAll } from "./context.js";
import { collect } from "./memory.js";

/** What one run through an auditor achieved. */
export interface AuditorRun {
  eventsPerSecond: number;
  /** Events that went to the spool instead of the store (the queue was full or the store failed). */
  spooled: number;
}

/**
 * Records `inputs` through a fresh auditor on `store` (default settings plus `options`) and
 * measures the rate until they are durable. The store is opened first and left open.
 */
export async function throughAuditor(
  ctx: BenchContext,
  store: AuditStore,
  events: readonly EventInput[],
  options: Partial<AuditorInit> = {},
): Promise<AuditorRun> {
  await store.count(); // opens, connects and migrates before the clock starts
  const audit = ctx.auditor(store, options);
  await collect();
  const { ms } = await timed(() => recordAll(audit, events));
  const spooled = audit.stats().spooled;
  await audit.close();
  return { eventsPerSecond: (events.length / ms) * 1000, spooled };
}

/** A note on spooled events, when there were any. */
export function spoolNote(spooled: number): { note: string } | Record<string, never> {
  return spooled > 0
    ? {
        note: `${spooled.toLocaleString("en-US")} events went to the spool over all repetitions instead of the store`,
      }
    : {};
}
