import type { AuditEvent } from "@audit/core";
import { assertValidEvent, eventText } from "@audit/core/store-kit";

/**
 * The one place an event becomes a line of a file: every append and every prune rewrite goes
 * through it. The text is the store kit's `eventText`: for an event sealed in this process, the
 * very canonical JSON its chain hash was computed from (hash included), so the line is written
 * without serialising the event again. The line ends with its newline.
 */
export function lineOf(event: AuditEvent): string {
  return `${eventText(event)}\n`;
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
