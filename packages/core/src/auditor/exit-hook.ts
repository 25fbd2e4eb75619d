/** What the exit hook needs of an auditor. */
export interface ExitParticipant {
  /** True while events are queued or being written. */
  readonly busy: boolean;
  /** Starts writing what is queued (the event loop stays alive until it is done). */
  flushSoon(): void;
  /** Writes what is still in memory to the spool, synchronously. */
  spillSync(): void;
}

// Held weakly: an auditor the application dropped can be collected; the hook never keeps it alive.
const live = new Set<WeakRef<ExitParticipant>>();
const registry = new FinalizationRegistry<WeakRef<ExitParticipant>>((ref) => live.delete(ref));
let installed = false;

function each(fn: (p: ExitParticipant) => void): void {
  for (const ref of live) {
    const p = ref.deref();
    if (!p) {
      live.delete(ref);
      continue;
    }
    try {
      fn(p);
    } catch {
      // The process is ending: nothing more can be done for this auditor.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  each((p) => p.spillSync());
  // When nobody else handles the signal, behave as if we were not there: die of it.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  // On process.exit() no more I/O can be awaited: what is in memory goes to the spool,
  // synchronously, to be replayed by the next auditor that opens it.
  process.on("exit", () => each((p) => p.spillSync()));
  // The event loop ran dry with events still queued (a forgotten flush): write them first.
  process.on("beforeExit", () =>
    each((p) => {
      if (p.busy) p.flushSoon();
    }),
  );
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, onSignal);
}

/**
 * Registers an auditor for the exit hook; returns the function that unregisters it (on close).
 */
export function registerForExit(participant: ExitParticipant): () => void {
  install();
  const ref = new WeakRef(participant);
  live.add(ref);
  registry.register(participant, ref, ref);
  return () => {
    live.delete(ref);
    registry.unregister(ref);
  };
}
