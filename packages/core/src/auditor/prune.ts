import { resolvePrune } from "../filter.js";
import type { WritePipeline } from "../pipeline/write-pipeline.js";
import type { AuditStore, PruneOptions } from "../store.js";

/**
 * Prunes the store and records a prune checkpoint for every chain that lost events, naming its
 * last deleted link, so the rest of each chain still verifies.
 */
export async function pruneWithAnchors(
  store: AuditStore,
  options: PruneOptions,
  pipeline: WritePipeline,
): Promise<number> {
  const { before, keep } = resolvePrune(options);
  const sealer = pipeline.seal.sealer;
  const anchors = new Map<string, { seq: number; hash: string }>();
  if (sealer) {
    // The events prune will delete are the oldest ones: those before `before`, and the first
    // (count - keep). Their chains' highest deleted links become the anchors.
    const limit = keep === undefined ? undefined : Math.max(0, (await store.count()) - keep);
    let n = 0;
    for await (const e of store.stream()) {
      const byCount = limit !== undefined && n < limit;
      const byTime = before !== undefined && e.time < before;
      n++;
      // Ascending order: once an event survives both conditions, every later one does too.
      if (!byCount && !byTime) break;
      if (!e.chain) continue;
      const a = anchors.get(e.chain.id);
      if (!a || e.chain.seq > a.seq)
        anchors.set(e.chain.id, { seq: e.chain.seq, hash: e.chain.hash });
    }
  }
  const deleted = await store.prune(options);
  if (sealer && anchors.size > 0) {
    await pipeline.exclusive(async () => {
      for (const [chainId, a] of anchors) {
        const data = sealer.anchorData(chainId, a.seq, a.hash, { reason: "prune" });
        pipeline.enqueueInternal(sealer.checkpointEvent(data, undefined));
      }
    });
    await pipeline.flush();
  }
  return deleted;
}
