import { AuditValidationError } from "../errors.js";
import { type AuditEvent, type EventInput, isRisk, isValidEventType } from "../event.js";
import { uuidv7WithTime } from "../ids.js";
import { type NormalizeOptions, normalizePayload, storableString } from "../normalize.js";
import { isEventTime } from "../validate.js";

/** Gives the active trace context (see `AuditorOptions.traceContext`). */
export type TraceContextProvider = () => { traceId?: string; spanId?: string } | undefined;

/**
 * Event types only the library writes: a caller who could record them could forge a checkpoint or
 * an approval decision.
 */
export function isReservedType(type: string): boolean {
  return type === "approval.resolve" || type === "audit" || type.startsWith("audit.");
}

// Ids of the form the library derives from names (UUID version 8): an approval's resolution id is
// one, and a caller who could choose it could claim or block that approval.
const LIBRARY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Options of {@link EventStamper}. */
export interface StampOptions {
  actor: string | undefined;
  normalize: NormalizeOptions | undefined;
  traceContext: TraceContextProvider | undefined;
}

/**
 * The first stage: checks a caller's input and turns it into an event — id, time, envelope, trace
 * context, and a payload normalised into storable JSON. Contract: it throws
 * {@link AuditValidationError} for input it will not record (bad type, a reserved type, a library
 * id, a bad risk or time) and never throws for anything inside the payload.
 */
export class EventStamper {
  readonly #options: StampOptions;

  constructor(options: StampOptions) {
    this.#options = options;
  }

  stamp(input: EventInput): AuditEvent {
    if (input === null || typeof input !== "object") {
      throw new AuditValidationError("record() expects an object like { type, data }");
    }
    if (!isValidEventType(input.type)) {
      throw new AuditValidationError(
        `event type ${JSON.stringify(input.type)} must be dotted lowercase, e.g. "tool.start" or "billing.refund"`,
      );
    }
    if (isReservedType(input.type)) {
      throw new AuditValidationError(
        `event type "${input.type}" is reserved: only the library writes audit.* events and approval.resolve (use approvals.resolve() to answer an approval)`,
      );
    }
    if (input.risk !== undefined && !isRisk(input.risk)) {
      throw new AuditValidationError("risk must be low, medium, high or critical");
    }
    let id: string;
    let time: string;
    if (input.id === undefined && input.time === undefined) {
      const t = uuidv7WithTime();
      id = t.id;
      time = new Date(t.ms).toISOString();
    } else {
      id = input.id ?? uuidv7WithTime().id;
      if (typeof id !== "string" || id.length === 0 || id.length > 200) {
        throw new AuditValidationError(
          "event id must be a non-empty string of at most 200 characters",
        );
      }
      if (LIBRARY_ID.test(id) || storableString(id) !== id) {
        throw new AuditValidationError(
          `event id ${JSON.stringify(id)} is not one record() accepts: ids of the library's own form (UUID version 8) are reserved`,
        );
      }
      time = input.time === undefined ? new Date().toISOString() : toEventTime(input.time);
    }
    const event: AuditEvent = {
      id,
      type: input.type,
      time,
      data: normalizePayload(input.data, this.#options.normalize),
    };
    const actor = input.actor ?? this.#options.actor;
    if (actor !== undefined) event.actor = envelope(actor);
    if (input.sessionId !== undefined) event.sessionId = envelope(input.sessionId);
    if (input.runId !== undefined) event.runId = envelope(input.runId);
    if (input.spanId !== undefined) event.spanId = envelope(input.spanId);
    if (input.parentSpanId !== undefined) event.parentSpanId = envelope(input.parentSpanId);
    let traceId = input.traceId;
    if (traceId === undefined && this.#options.traceContext) {
      let active: { traceId?: string; spanId?: string } | undefined;
      try {
        active = this.#options.traceContext();
      } catch {
        active = undefined;
      }
      traceId = active?.traceId;
      // A run (or a lone event) recorded inside an active span happens inside that span.
      const opensOperation = input.runId === undefined || input.type === "run.start";
      if (active?.spanId !== undefined && input.parentSpanId === undefined && opensOperation) {
        event.parentSpanId = envelope(active.spanId);
      }
    }
    if (traceId !== undefined) event.traceId = envelope(traceId);
    if (input.risk !== undefined) event.risk = input.risk;
    return event;
  }
}

// Envelope fields are indexed columns in SQL stores: short, storable strings.
function envelope(value: unknown): string {
  const s = storableString(String(value));
  return s.length > 1000 ? s.slice(0, 1000) : s;
}

function toEventTime(value: string | Date): string {
  if (typeof value === "string" && isEventTime(value)) return value;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms))
    throw new AuditValidationError(`event time ${String(value)} is not a valid time`);
  return new Date(ms).toISOString();
}
