import { AuditError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import { ChainSealer, type IntegrityOptions } from "../integrity.js";
import type { PrivacyFilter } from "../privacy.js";

/** Options of {@link SealStage}. */
export interface SealStageOptions {
  privacy: PrivacyFilter | undefined;
  integrity: IntegrityOptions | false;
  actor: string | undefined;
  report: (error: AuditError) => void;
  /** Receives every checkpoint, for the witness. */
  onCheckpoint: (event: AuditEvent) => void;
  /** Called when the chain went quiet with events no checkpoint covers. */
  onIdle: () => void;
}

/**
 * The last step before an event leaves the process: privacy, then the hash-chain link, then a
 * checkpoint whenever one falls due. Contract: it runs as events leave the queue, in the order they
 * were recorded, so the chain covers exactly what is stored, exported and spooled; each event is
 * prepared once (a batch may be prepared ahead while the previous one is written); a privacy
 * failure replaces the payload with an error marker rather than let an unfiltered payload through.
 * It owns the idle-checkpoint timer.
 */
export class SealStage {
  readonly sealer: ChainSealer | undefined;
  readonly #privacy: PrivacyFilter | undefined;
  readonly #actor: string | undefined;
  readonly #report: (error: AuditError) => void;
  readonly #onCheckpoint: (event: AuditEvent) => void;
  readonly #onIdle: () => void;
  // Events prepared while there is no chain (see `prepare`).
  readonly #prepared = new WeakSet<AuditEvent>();
  readonly #checkpointsAfter = new Map<AuditEvent, AuditEvent>();
  #idleTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: SealStageOptions) {
    this.#privacy = options.privacy;
    this.sealer = options.integrity === false ? undefined : new ChainSealer(options.integrity);
    this.#actor = options.actor;
    this.#report = options.report;
    this.#onCheckpoint = options.onCheckpoint;
    this.#onIdle = options.onIdle;
  }

  /** Prepares a batch and returns what to write: the events, each followed by its checkpoint. */
  seal(recorded: readonly AuditEvent[]): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (const e of recorded) {
      this.prepare(e);
      out.push(e);
      const checkpoint = this.#checkpointsAfter.get(e);
      if (checkpoint) {
        out.push(checkpoint);
        this.#checkpointsAfter.delete(e);
      }
    }
    this.#armIdle();
    return out;
  }

  /** Privacy and the chain link for one event (once); a checkpoint due right after it is made now. */
  prepare(e: AuditEvent): void {
    // A sealed event must not change: its link says it was prepared (here, or before a replay).
    if (e.chain !== undefined) return;
    const sealer = this.sealer;
    // Without a chain nothing on the event tells; a weak set remembers (only then: a weak entry
    // per event is work for the garbage collector).
    if (!sealer) {
      if (this.#prepared.has(e)) return;
      this.#prepared.add(e);
    }
    // Checkpoints are made by the library alone (record() refuses the type) and hold only ids,
    // hashes and signatures: privacy must not touch them, or a signature could be "redacted".
    if (e.type === "audit.checkpoint") sealer?.placeAfterHead(e);
    else if (this.#privacy) this.#applyPrivacy(e);
    if (!sealer) return;
    sealer.seal(e);
    if (sealer.due()) this.#checkpointsAfter.set(e, this.checkpoint(false, "head"));
  }

  /**
   * Privacy and the chain link for an event written on its own (an approval resolution): no
   * checkpoint is made right after it, so that undoing its link (if it lost) leaves nothing behind;
   * a checkpoint that fell due is made after the next event.
   */
  prepareAlone(e: AuditEvent): void {
    if (!this.sealer) this.#prepared.add(e);
    if (this.#privacy) this.#applyPrivacy(e);
    this.sealer?.seal(e);
  }

  // The event object is changed in place, so the one record() returned shows what was stored.
  #applyPrivacy(e: AuditEvent): void {
    try {
      Object.assign(e, this.#privacy!.apply(e));
    } catch (err) {
      e.data = { $processorError: `privacy: ${String((err as Error)?.message ?? err)}` };
      this.#report(new AuditError(`privacy failed on ${e.type}`, { cause: err, stage: "seal" }));
    }
  }

  /**
   * A sealed checkpoint of the current head (handed to the witness too). `at: "head"` when events
   * recorded before it may still be sealed after it (see `ChainSealer.checkpointEvent`).
   */
  checkpoint(final: boolean, at: "head" | "now" = "now"): AuditEvent {
    const sealer = this.sealer!;
    const event = sealer.checkpointEvent(sealer.checkpointData({ final }), this.#actor, at);
    sealer.seal(event);
    sealer.covered();
    this.#onCheckpoint(event);
    return event;
  }

  /** True when events were sealed since the last checkpoint. */
  get uncovered(): boolean {
    return (this.sealer?.uncovered ?? 0) > 0;
  }

  // A chain that goes quiet with events not covered by a checkpoint gets one.
  #armIdle(): void {
    const sealer = this.sealer;
    if (!sealer || this.#stopped || sealer.uncovered === 0) return;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (!this.#stopped && sealer.uncovered > 0) this.#onIdle();
    }, sealer.idleMs);
    // The chain's checkpoint must not keep a finished process alive; close() writes the final one.
    this.#idleTimer.unref();
  }

  /** Re-arms the idle checkpoint (the pipeline was busy when it fell due). */
  rearmIdle(): void {
    this.#armIdle();
  }

  /** Stops the idle timer. */
  stop(): void {
    this.#stopped = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}
