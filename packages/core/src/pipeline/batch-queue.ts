import type { AuditEvent } from "../event.js";

/** Batching of writes to the store (group commit). */
export interface BatchOptions {
  /**
   * The most events written in one store call.
   * @default 512
   */
  maxEvents?: number;
  /**
   * How long a recorded event may wait for companions before it is written.
   * @default 50
   */
  maxDelayMs?: number;
  /**
   * The most events held in memory waiting for the store; past it `onOverflow` applies.
   * @default 10000
   */
  maxQueue?: number;
}

/**
 * The bounded queue between `record()` and the store. Contract: it holds at most `maxQueue` events
 * (the caller applies the overflow policy when `full`), numbers events in the order they were
 * queued, and calls `onReady` — never inside `push`, so a synchronous store never runs inside
 * `record()` — once a batch is full or the oldest event has waited `maxDelayMs`. It owns the one
 * batching timer.
 */
export class BatchQueue {
  readonly maxEvents: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;
  readonly #onReady: () => void;
  #events: AuditEvent[] = [];
  /** Number of the next event to be queued. */
  #nextSeq = 0;
  /** Number of the event at the head of the queue. */
  #headSeq = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate = false;

  constructor(options: Required<BatchOptions>, onReady: () => void) {
    this.maxEvents = options.maxEvents;
    this.maxDelayMs = options.maxDelayMs;
    this.maxQueue = options.maxQueue;
    this.#onReady = onReady;
  }

  get length(): number {
    return this.#events.length;
  }

  get full(): boolean {
    return this.#events.length >= this.maxQueue;
  }

  /** Number the next queued event will get: every event numbered below it was queued. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** Number of the oldest event still queued (equals `nextSeq` when empty). */
  get headSeq(): number {
    return this.#headSeq;
  }

  /** Queues an event and returns its number. */
  push(event: AuditEvent): number {
    this.#events.push(event);
    if (this.#events.length >= this.maxEvents) this.readySoon();
    else this.#arm();
    return this.#nextSeq++;
  }

  /** True when `event` is waiting in the queue. */
  includes(event: AuditEvent): boolean {
    return this.#events.includes(event);
  }

  /** Events at the head, without removing them (for preparing the next batch ahead of time). */
  peek(n: number): readonly AuditEvent[] {
    return this.#events.slice(0, n);
  }

  /** Removes and returns the next batch (at most `maxEvents`), with the number of its first event. */
  take(): { events: AuditEvent[]; start: number } {
    this.#disarm();
    const start = this.#headSeq;
    let events: AuditEvent[];
    if (this.#events.length <= this.maxEvents) {
      events = this.#events;
      this.#events = [];
    } else {
      events = this.#events.splice(0, this.maxEvents);
    }
    this.#headSeq += events.length;
    return { events, start };
  }

  /** Removes and returns everything queued. */
  takeAll(): { events: AuditEvent[]; start: number } {
    this.#disarm();
    const start = this.#headSeq;
    const events = this.#events;
    this.#events = [];
    this.#headSeq += events.length;
    return { events, start };
  }

  /** Asks for a drain on the next turn of the event loop. */
  readySoon(): void {
    if (this.#immediate) return;
    this.#immediate = true;
    setImmediate(() => {
      this.#immediate = false;
      this.#onReady();
    });
  }

  #arm(): void {
    if (this.#timer || this.#immediate) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#onReady();
    }, this.maxDelayMs);
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stops the timer; queued events stay. */
  stop(): void {
    this.#disarm();
  }
}
