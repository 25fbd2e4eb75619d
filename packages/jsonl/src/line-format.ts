import { type AuditEvent, assertValidEvent } from "@audit/core";

/**
 * The one place an event becomes a line of a file: every append and every prune rewrite goes
 * through it, so changing the stored bytes (for instance to canonical JSON) is a change here only.
 * The line ends with its newline.
 */
export function lineOf(event: AuditEvent): string {
  return JSON.stringify(event) + "\n";
}

/**
 * The event a line holds, or `undefined` when the line is not one (not JSON, or not a valid
 * event). Readers, the index and the live tail all judge lines by this one rule, so an id counts
 * as stored exactly when a reader would return its event.
 */
export function eventOf(text: string): AuditEvent | undefined {
  try {
    const e = JSON.parse(text) as unknown;
    assertValidEvent(e);
    return e;
  } catch {
    return undefined;
  }
}
