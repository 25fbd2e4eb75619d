import type { WritePipeline } from "../pipeline/write-pipeline.js";
import type { AuditStore, PrunedChainHead, PruneOptions } from "../store.js";

/**
 * Prunes the store, then records a prune checkpoint for every chain that now starts after seq 1
 * without one: it names the last deleted link (the first remaining event's seq − 1 and its `prev`
 * hash), so the rest of the chain still verifies. Anchors are read from what remains (for the chains
 * whose first event the prune removed) rather than predicted from what will be deleted, so writers appending during the prune (which can move a
 * `keep` cut) never leave a chain with a gap.
 */
async function firstLinks(store: AuditStore): Promise<Map<string, { seq: number; prev: string }>> {
  const first = new Map<string, { seq: number; prev: string }>();
  for await (const e of store.stream()) {
    if (!e.chain) continue;
    const f = first.get(e.chain.id);
    if (!f || e.chain.seq < f.seq) first.set(e.chain.id, { seq: e.chain.seq, prev: e.chain.prev });
  }
  return first;
}

// The highest seq each chain's remaining prune anchors cover.
async function pruneAnchors(store: AuditStore): Promise<Map<string, number>> {
  const anchored = new Map<string, number>();
  for await (const e of store.stream({ type: "audit.checkpoint" })) {
    const d = e.data as { chainId?: unknown; seq?: unknown; reason?: unknown };
    if (d.reason !== "prune" || typeof d.chainId !== "string" || typeof d.seq !== "number")
      continue;
    anchored.set(d.chainId, Math.max(anchored.get(d.chainId) ?? 0, d.seq));
  }
  return anchored;
}

export async function pruneWithAnchors(
  store: AuditStore,
  options: PruneOptions,
  pipeline: WritePipeline,
): Promise<number> {
  const sealer = pipeline.seal.sealer;
  if (!sealer) return store.prune(options);
  // A store that reports what it deleted (onRetention, which this auditor listens to) is anchored
  // from that report, taken in the same pass as the deletion: exact even while other processes
  // write. Otherwise the anchors are read from what remains: only chains whose head this prune
  // removed get one (a chain that already started late, its head deleted by someone else, must
  // keep showing that gap). Either way a prune can remove an earlier prune's anchor (anchors age
  // like any event): an anchor still needed is written again.
  const reports = store.onRetention !== undefined;
  const before = reports ? undefined : await firstLinks(store);
  const anchoredBefore = await pruneAnchors(store);
  const deleted = await store.prune(options);
  if (deleted === 0) return deleted;
  await pipeline.flush();
  const anchored = await pruneAnchors(store);
  const anchors: [string, { seq: number; prev: string }][] = [];
  for (const [chainId, f] of await firstLinks(store)) {
    if ((anchored.get(chainId) ?? 0) >= f.seq - 1) continue;
    // A chain first written while the prune ran counts as starting at 1.
    const headCut = before !== undefined && f.seq > (before.get(chainId)?.seq ?? 1);
    const anchorCut = (anchoredBefore.get(chainId) ?? 0) >= f.seq - 1;
    if (headCut || anchorCut) anchors.push([chainId, f]);
  }
  if (anchors.length === 0) return deleted;
  await pipeline.exclusive(async () => {
    for (const [chainId, f] of anchors) {
      const data = sealer.anchorData(chainId, f.seq - 1, f.prev, { reason: "prune" });
      pipeline.enqueueInternal(sealer.checkpointEvent(data, undefined));
    }
  });
  await pipeline.flush();
  return deleted;
}

/**
 * Writes a prune checkpoint for each chain head a store deleted by itself (a size cap), so the
 * rest of each chain still verifies with no gap.
 */
export function anchorRetention(pipeline: WritePipeline, heads: readonly PrunedChainHead[]): void {
  const sealer = pipeline.seal.sealer;
  if (!sealer) return;
  for (const h of heads) {
    const data = sealer.anchorData(h.chainId, h.seq, h.hash, { reason: "prune" });
    pipeline.enqueueInternal(sealer.checkpointEvent(data, undefined));
  }
}
