import type { AuditEvent } from "../event.js";

/** The stored form of a sealed event and of its payload, as the seal stage wrote them. */
interface SealedText {
  /** The canonical JSON of the whole event, chain hash included. */
  event: string;
  /** The canonical JSON of `data` alone (a part of `event`). */
  data: string;
}

// Kept per event object, weakly: an event that is dropped takes its text with it.
const sealed = new WeakMap<AuditEvent, SealedText>();

/**
 * Remembers the text an event was hashed from, as its stored form: the chain input (the event's
 * canonical JSON with `chain` holding id, seq and prev) with the hash put in. Canonical JSON sorts
 * `hash` first in `chain`, so the stored text is the chain input with `"hash":"…",` inserted —
 * the hashed bytes are the written bytes, and nothing is serialised twice.
 */
export function rememberSealedText(event: AuditEvent, chainInput: string, data: string): void {
  const hash = event.chain!.hash;
  const at = chainInput.indexOf(CHAIN_OPEN);
  if (at < 0) return;
  const cut = at + CHAIN_OPEN.length;
  sealed.set(event, {
    event: `${chainInput.slice(0, cut)}"hash":"${hash}",${chainInput.slice(cut)}`,
    data,
  });
}

// Inside a JSON string every `"` is escaped, so this only occurs as the `chain` member itself.
const CHAIN_OPEN = '"chain":{';

/**
 * The text to store for an event: for an event sealed in this process, the exact canonical bytes
 * its chain hash was computed from (with the hash), otherwise `JSON.stringify`. A store writes
 * this and never serialises the event again.
 */
export function eventText(event: AuditEvent): string {
  return sealed.get(event)?.event ?? JSON.stringify(event);
}

/** The text of the event's `data`, from the seal when there is one (see {@link eventText}). */
export function eventDataText(event: AuditEvent): string {
  return sealed.get(event)?.data ?? JSON.stringify(event.data);
}
