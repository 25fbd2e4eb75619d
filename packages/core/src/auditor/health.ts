import type { StoreHealth } from "../durable/store-writer.js";
import type { ExporterHealth } from "../exporters/lanes.js";

/** Counters of what the auditor did (kept for compatibility; `health()` says more). */
export interface AuditorStats {
  recorded: number;
  stored: number;
  spooled: number;
  replayed: number;
  dropped: number;
  lost: number;
  quarantined: number;
  exportDropped: number;
  exportFailed: number;
  queued: number;
  storeHealthy: boolean;
}

/** The state of every stage, for health checks and `audit doctor`. */
export interface AuditorHealth {
  /** The store: up or down, since when, the last failure. */
  store: StoreHealth & { id: string };
  /** Events waiting in memory, and the bound. */
  queue: { depth: number; max: number };
  /** The spool, when there is one: bytes in the directory, this auditor's events awaiting replay. */
  spool: { dir: string; bytes: number; maxBytes: number; events: number } | undefined;
  /** Events by where they ended up, since the auditor was created. */
  events: {
    recorded: number;
    stored: number;
    spooled: number;
    replayed: number;
    quarantined: number;
    lost: number;
    dropped: number;
  };
  /** One entry per exporter. */
  exporters: ExporterHealth[];
  /** The last failure reported to `onError`. */
  lastError: { message: string; code: string; stage: string; time: string } | undefined;
}
