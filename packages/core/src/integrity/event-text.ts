import type { AuditEvent, ChainLink } from "../event.js";

// Inside a JSON string every `"` is escaped, so this only occurs as the `chain` member itself.
const CHAIN_OPEN = '"chain":{';

/**
 * The chain link the seal stage gives an event. It serialises like a plain link (id, seq, prev,
 * hash), and it privately remembers the text the event was hashed from, for the stores to write:
 * kept on the link rather than in a WeakMap keyed by event, so sealing adds no weak entry per
 * event for the garbage collector to trace. The text is handed out only for the very event object
 * that was sealed: a copy (`{ ...event, data }`) shares the link but not the text.
 */
export class SealedLink implements ChainLink {
  id: string;
  seq: number;
  prev: string;
  hash = "";
  #event: AuditEvent | undefined;
  #text = "";
  #data = "";

  constructor(id: string, seq: number, prev: string) {
    this.id = id;
    this.seq = seq;
    this.prev = prev;
  }

  /**
   * Sets the hash and remembers the stored form: the chain input with `"hash":"…",` put right
   * after `"chain":{` (canonical JSON sorts `hash` first in `chain`), so the hashed bytes are the
   * written bytes. `data` is the canonical text of the payload alone (a part of the input).
   */
  seal(event: AuditEvent, hash: string, chainInput: string, data: string): void {
    this.hash = hash;
    const at = chainInput.indexOf(CHAIN_OPEN);
    if (at < 0) return;
    const cut = at + CHAIN_OPEN.length;
    this.#event = event;
    this.#text = `${chainInput.slice(0, cut)}"hash":"${hash}",${chainInput.slice(cut)}`;
    this.#data = data;
  }

  /** The stored text of `event`, if it is the event this link sealed. */
  textOf(event: AuditEvent): string | undefined {
    return event === this.#event && event.chain === this ? this.#text : undefined;
  }

  /** The payload's text of `event`, if it is the event this link sealed. */
  dataTextOf(event: AuditEvent): string | undefined {
    return event === this.#event && event.chain === this ? this.#data : undefined;
  }
}

/**
 * The text to store for an event: for an event sealed in this process, the exact canonical bytes
 * its chain hash was computed from (with the hash), otherwise `JSON.stringify`. A store writes
 * this and never serialises the event again.
 */
export function eventText(event: AuditEvent): string {
  const link = event.chain;
  return (link instanceof SealedLink && link.textOf(event)) || JSON.stringify(event);
}

/** The text of the event's `data`, from the seal when there is one (see {@link eventText}). */
export function eventDataText(event: AuditEvent): string {
  const link = event.chain;
  return (link instanceof SealedLink && link.dataTextOf(event)) || JSON.stringify(event.data);
}
