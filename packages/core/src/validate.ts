import { AuditValidationError } from "./errors.js";
import { type AuditEvent, isRisk, isValidEventType } from "./event.js";

const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** True for the event time format: RFC 3339 UTC with exactly three fractional digits. */
export function isEventTime(value: unknown): value is string {
  if (typeof value !== "string" || !TIME_PATTERN.test(value)) return false;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return false;
  // Date.parse rolls some impossible times over ("2026-02-30" is March 2nd, "T24:00" the next
  // day): such a text would name another instant than it says. Only a day past the 28th or hour
  // 24 can roll over, so only those pay for the round trip.
  const rolls =
    value.charCodeAt(8) > 50 ||
    (value[8] === "2" && value[9] === "9") ||
    (value[11] === "2" && value[12] === "4");
  return !rolls || new Date(ms).toISOString() === value;
}

/**
 * Throws {@link AuditValidationError} naming the problem when `event` is not a well-formed stored
 * event. Stores call it on `append` so bad input is refused before anything is written.
 */
export function assertValidEvent(event: unknown): asserts event is AuditEvent {
  if (event === null || typeof event !== "object") {
    throw new AuditValidationError("an event must be an object");
  }
  const e = event as Record<string, unknown>;
  if (typeof e.id !== "string" || e.id.length === 0 || e.id.length > 200) {
    throw new AuditValidationError("event.id must be a non-empty string (a UUIDv7)");
  }
  if (!isValidEventType(e.type)) {
    throw new AuditValidationError(
      `event ${e.id}: type ${JSON.stringify(e.type)} must be dotted lowercase, e.g. "tool.start"`,
    );
  }
  if (!isEventTime(e.time)) {
    throw new AuditValidationError(
      typeof e.time === "string" && TIME_PATTERN.test(e.time)
        ? `event ${e.id}: time ${e.time} is not a real UTC instant (a day past its month's end, or hour 24)`
        : `event ${e.id}: time ${JSON.stringify(e.time)} must be RFC 3339 UTC with milliseconds`,
    );
  }
  if (e.data === null || typeof e.data !== "object" || Array.isArray(e.data)) {
    throw new AuditValidationError(`event ${e.id}: data must be an object`);
  }
  if (e.risk !== undefined && !isRisk(e.risk)) {
    throw new AuditValidationError(`event ${e.id}: risk must be low, medium, high or critical`);
  }
  for (const key of ["actor", "sessionId", "runId", "spanId", "parentSpanId", "traceId"] as const) {
    if (e[key] !== undefined && typeof e[key] !== "string") {
      throw new AuditValidationError(`event ${e.id}: ${key} must be a string`);
    }
  }
}

/** Validates every event of a batch. */
export function assertValidBatch(events: readonly unknown[]): asserts events is AuditEvent[] {
  if (!Array.isArray(events)) throw new AuditValidationError("append expects an array of events");
  for (const e of events) assertValidEvent(e);
}
