import type { PrunedChainHead } from "@audit/core";
import type { Database } from "better-sqlite3";
import { hashText } from "./row-layout.js";

/**
 * Deletions for `prune` and `maxEvents`. Each collects into `heads` the last deleted link of every
 * chain it cut, read in the same transaction as the deletion (the caller's), so the auditor can
 * anchor what remains with a prune checkpoint even while other processes write.
 */

/** Deletes the events older than `time` (a stored time); returns how many. */
export function deleteBefore(db: Database, time: unknown, heads: PrunedChainHead[]): number {
  heads.push(...headsWhere(db, "time < ?", [time]));
  return db.prepare("DELETE FROM audit_events WHERE time < ?").run(time).changes;
}

/** Deletes all but the newest `keep` events in `(time, id)` order; returns how many. */
export function keepNewest(db: Database, keep: number, heads: PrunedChainHead[]): number {
  if (keep === 0) {
    heads.push(...headsWhere(db, "1 = 1", []));
    return db.prepare("DELETE FROM audit_events").run().changes;
  }
  const boundary = db
    .prepare("SELECT time, id FROM audit_events ORDER BY time DESC, id DESC LIMIT 1 OFFSET ?")
    .get(keep - 1) as { time: unknown; id: string } | undefined;
  if (!boundary) return 0;
  const params = [boundary.time, boundary.id];
  heads.push(...headsWhere(db, "(time, id) < (?, ?)", params));
  return db.prepare("DELETE FROM audit_events WHERE (time, id) < (?, ?)").run(...params).changes;
}

/** One head per chain: the highest, when a prune by time and one by count both cut it. */
export function highestHeads(found: readonly PrunedChainHead[]): PrunedChainHead[] {
  const byChain = new Map<string, PrunedChainHead>();
  for (const h of found) {
    if ((byChain.get(h.chainId)?.seq ?? 0) < h.seq) byChain.set(h.chainId, h);
  }
  return [...byChain.values()];
}

// The highest link of each chain among the rows matching `where`, in one pass over those rows:
// with `max()`, SQLite takes the bare `chain_hash` from the row holding the maximum, so no index on
// the chain is needed.
function headsWhere(db: Database, where: string, params: unknown[]): PrunedChainHead[] {
  const rows = db
    .prepare(
      `SELECT chain_id AS chainId, max(chain_seq) AS seq, chain_hash AS hash FROM audit_events WHERE (${where}) AND chain_id IS NOT NULL GROUP BY chain_id`,
    )
    .all(...params) as { chainId: string; seq: number; hash: unknown }[];
  const heads: PrunedChainHead[] = [];
  for (const r of rows) {
    const hash = hashText(r.hash);
    if (typeof hash === "string" && hash !== "")
      heads.push({ chainId: r.chainId, seq: r.seq, hash });
  }
  return heads;
}
