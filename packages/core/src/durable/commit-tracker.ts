import type { AuditEvent } from "../event.js";

/** Where an event ended up. */
export type Outcome = "stored" | "spooled" | "quarantined" | "lost" | "dropped";

interface Waiter {
  resolve: (outcome: Outcome) => void;
}

/**
 * Remembers where each recorded event ended up and lets callers wait for it. Contract: every
 * waiter is settled exactly once, with the event's outcome, as soon as it is known; outcomes are
 * held weakly (an event nobody references any more is forgotten). Counts per range of event
 * numbers answer `flush()`'s question "how many of the events recorded before me are not stored".
 */
export class CommitTracker {
  readonly #outcomes = new WeakMap<AuditEvent, Outcome>();
  readonly #waiters = new Map<AuditEvent, Waiter[]>();
  // Runs of event numbers that did not reach the store: [start, end), outcome.
  #notStored: { start: number; end: number; outcome: Outcome }[] = [];

  /** The outcome of an event, once known (a stored event nobody waited for is not remembered). */
  outcome(event: AuditEvent): Outcome | undefined {
    return this.#outcomes.get(event);
  }

  /** Resolves with the event's outcome once it is known. */
  wait(event: AuditEvent): Promise<Outcome> {
    const known = this.#outcomes.get(event);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const list = this.#waiters.get(event);
      if (list) list.push({ resolve });
      else this.#waiters.set(event, [{ resolve }]);
    });
  }

  /** Records an event's outcome (with its number, when it was counted) and wakes its waiters. */
  settle(event: AuditEvent, outcome: Outcome, seq?: number): void {
    const list = this.#waiters.get(event);
    // Stored is the common case: remembered only for a waiter. A later `commit` of a stored event
    // that nobody waited for asks the store (it is there), which keeps the write path lean.
    if (outcome !== "stored" || list) this.#outcomes.set(event, outcome);
    if (seq !== undefined && outcome !== "stored") {
      const last = this.#notStored[this.#notStored.length - 1];
      if (last && last.end === seq && last.outcome === outcome) last.end = seq + 1;
      else this.#notStored.push({ start: seq, end: seq + 1, outcome });
    }
    if (!list) return;
    this.#waiters.delete(event);
    for (const w of list) w.resolve(outcome);
  }

  /** Counts outcomes other than "stored" among event numbers [from, to). */
  countNotStored(from: number, to: number): Record<Exclude<Outcome, "stored">, number> {
    const counts = { spooled: 0, quarantined: 0, lost: 0, dropped: 0 };
    for (const r of this.#notStored) {
      const n = Math.min(r.end, to) - Math.max(r.start, from);
      if (n > 0) counts[r.outcome as Exclude<Outcome, "stored">] += n;
    }
    return counts;
  }

  /** After a replay emptied the spool: spooled events are in the store now. */
  spoolReplayed(): void {
    this.#notStored = this.#notStored.filter((r) => r.outcome !== "spooled");
  }

  /** Forgets runs below `seq` (no flush will ask about them again). */
  forgetBelow(seq: number): void {
    if (this.#notStored.length > 0 && this.#notStored[0]!.end <= seq) {
      this.#notStored = this.#notStored.filter((r) => r.end > seq);
    }
  }
}
