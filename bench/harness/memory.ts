// Heap figures are only comparable after a full collection: without one, a figure says as much
// about when V8 last collected as about what the code holds.

/** True when the process runs with --expose-gc. */
export const hasGc = typeof globalThis.gc === "function";

/** A full collection (twice, so objects freed by finalisers go too), then a turn of the loop. */
export async function collect(): Promise<void> {
  if (!hasGc) return;
  globalThis.gc?.();
  await new Promise((r) => setImmediate(r));
  globalThis.gc?.();
}

/** Heap in use after a full collection, in bytes. */
export async function heapAfterGc(): Promise<number> {
  await collect();
  return process.memoryUsage().heapUsed;
}
