import type { AuditEvent, AuditStore } from "@audit/core";

/** Options of {@link LiveFeed}. */
export interface LiveFeedOptions {
  /**
   * How often the store is read for new events.
   * @default 250
   */
  pollMs?: number;
  /**
   * How far back each read looks, so an event committed late (a writer's batch that was stamped
   * before another writer's event) is still delivered.
   * @default 5000
   */
  lookbackMs?: number;
  /** Called with a failed read; the next read tries again. */
  onError?: (err: unknown) => void;
}

/** Receives each new event once, in store order. */
export type FeedListener = (event: AuditEvent) => void;

const PAGE = 1000;

/**
 * One reader of new events shared by every live client (SSE tails, the webhook notifier), so 50
 * open pages cost one query per tick, not 50. It reads by keyset (`since` a lookback window, then
 * `after` the last row) and remembers the ids delivered inside the window, so each event reaches
 * the listeners exactly once even when writers commit out of time order. A store with `subscribe`
 * wakes it at once instead of at the next tick.
 */
export class LiveFeed {
  readonly #store: AuditStore;
  readonly #pollMs: number;
  readonly #lookbackMs: number;
  readonly #onError: (err: unknown) => void;
  readonly #listeners = new Set<FeedListener>();
  /** Delivered ids by time, for the lookback window. */
  #seen = new Map<string, string>();
  #watermark = "";
  #ready: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  #failing = false;
  #closed = false;

  constructor(store: AuditStore, options: LiveFeedOptions = {}) {
    this.#store = store;
    this.#pollMs = options.pollMs ?? 250;
    this.#lookbackMs = options.lookbackMs ?? 5000;
    this.#onError = options.onError ?? (() => undefined);
  }

  /**
   * Adds a listener; resolves once the feed has a starting point, so a caller that then reads the
   * store for catch-up misses nothing between its read and the first live event.
   */
  async add(listener: FeedListener): Promise<() => void> {
    this.#listeners.add(listener);
    this.#ready ??= this.#start().catch((err: unknown) => {
      // A store that was down at the first read: the next listener tries again.
      this.#ready = undefined;
      throw err;
    });
    try {
      await this.#ready;
    } catch (err) {
      this.#listeners.delete(listener);
      throw err;
    }
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** The start of the window the feed still reads: it never delivers an event older than this. */
  get windowStart(): string {
    return this.#watermark;
  }

  /** Number of listeners. */
  get size(): number {
    return this.#listeners.size;
  }

  async #start(): Promise<void> {
    const now = Date.now();
    this.#watermark = new Date(now - this.#lookbackMs).toISOString();
    // What is already stored is history, not news: mark it seen without delivering it.
    await this.#read(false);
    this.#timer = setInterval(() => this.wake(), this.#pollMs);
    this.#timer.unref();
    if (this.#store.capabilities.subscribe && this.#store.subscribe) {
      try {
        this.#unsubscribe = this.#store.subscribe({}, () => this.wake());
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /** Reads the store now (coalesced with a read in progress). */
  wake(): void {
    if (this.#closed) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#read(true);
        } while (this.#again && !this.#closed);
        this.#failing = false;
      } catch (err) {
        // Said once per outage, not at every tick while the store is down.
        if (!this.#failing) this.#onError(err);
        this.#failing = true;
      } finally {
        this.#reading = undefined;
      }
    })();
  }

  /** Waits for the read in progress, if any (tests and close use it). */
  async settled(): Promise<void> {
    await this.#reading;
  }

  async #read(deliver: boolean): Promise<void> {
    const since = this.#watermark;
    let after: string | undefined;
    let newest = since;
    for (;;) {
      const page = await this.#store.query({
        since,
        order: "asc",
        limit: PAGE,
        ...(after !== undefined && { after }),
      });
      for (const e of page) {
        if (e.time > newest) newest = e.time;
        if (this.#seen.has(e.id)) continue;
        this.#seen.set(e.id, e.time);
        if (!deliver) continue;
        for (const l of this.#listeners) {
          try {
            l(e);
          } catch (err) {
            this.#onError(err);
          }
        }
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.id;
    }
    // Slide the window: it starts lookbackMs before the newest event seen (or before now, which
    // keeps it moving when nothing is written and bounds the seen set).
    const floor = Math.max(Date.parse(newest), Date.now()) - this.#lookbackMs;
    const next = new Date(floor).toISOString();
    if (next > this.#watermark) {
      this.#watermark = next;
      for (const [id, time] of this.#seen) if (time < next) this.#seen.delete(id);
    }
  }

  /** Stops reading. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
    await this.#reading;
    this.#listeners.clear();
  }
}
