import { AuditError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import { normalizePayload } from "../normalize.js";

/**
 * A step every event passes through in `record()`, after it is stamped and normalised. Privacy and
 * the hash chain come later, when the event leaves the queue, so they see what processors produced
 * and the chain covers exactly what is stored. A processor must be synchronous and should not
 * throw; if it throws or returns something that is not an event, the event's payload is replaced
 * by an error marker rather than stored unprocessed.
 */
export interface EventProcessor {
  /** Name used in error reports. */
  readonly name: string;
  /** Returns the event to store (the same object, changed, or a new one). */
  process(event: AuditEvent): AuditEvent;
}

/**
 * Runs the user's processors. Contract: never throws; the result keeps the stamped identity (id,
 * type, time) and a payload normalised again, so a processor that adds a BigInt, a cycle or a NUL
 * cannot break a later stage.
 */
export function runProcessors(
  processors: readonly EventProcessor[],
  event: AuditEvent,
  report: (error: AuditError) => void,
): AuditEvent {
  let current = event;
  for (const p of processors) {
    try {
      const out = p.process(current) as unknown;
      if (out === null || typeof out !== "object" || Array.isArray(out)) {
        throw new TypeError(`returned ${out === null ? "null" : typeof out}, not an event`);
      }
      const next = out as AuditEvent;
      current = {
        ...next,
        id: event.id,
        type: event.type,
        time: event.time,
        data: normalizePayload(next.data),
      };
    } catch (err) {
      // Storing the unprocessed payload could leak what a privacy step was meant to remove.
      current = {
        ...current,
        data: { $processorError: `${p.name}: ${String((err as Error)?.message ?? err)}` },
      };
      report(
        new AuditError(`processor ${p.name} failed on ${event.type}`, {
          cause: err,
          stage: "pipeline",
        }),
      );
    }
  }
  return current;
}
