import type { Span } from "@opentelemetry/api";

/** A span the exporter started and whose end has not arrived. */
export interface OpenSpan {
  span: Span;
  /** The run it belongs to, if any. */
  runId: string | undefined;
  /** When it was opened (wall clock), for the age limit. */
  openedAt: number;
  /** Highest risk seen on its events. */
  risk: string | undefined;
}

/** What the exporter knows of a run: the ids its spans hang from. */
export interface RunIds {
  traceId: string;
  /** The audit span id of the run (the exported span id when the provider uses our ids). */
  spanId: string;
  traceFlags: number;
}

/** A run whose span is open. */
export interface OpenRun extends RunIds {
  runId: string;
  /** Key of the run's span in the open spans. */
  key: string;
  openedAt: number;
  /** Whether `gen_ai.provider.name` was set (it may come from a later model call). */
  provider: boolean;
  /** Keys of its open child spans. */
  children: Set<string>;
}

/**
 * A map that forgets its oldest entries past a size: ids of what already ended, kept so that late
 * or duplicate events neither open a second span nor lose their place in the trace.
 */
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next().value as K;
      this.#map.delete(oldest);
    }
  }
}
