import type { AuditStore } from "@audit/core";
import { UsageError } from "./args.js";

// Shorter than this, a fragment matches too much to be what someone copied from a table.
const MIN_FRAGMENT = 4;

function pick(what: string, fragment: string, matches: ReadonlySet<string>): string | undefined {
  if (matches.size === 1) return [...matches][0];
  if (matches.size > 1) {
    const list = [...matches].slice(0, 5).join(", ");
    throw new UsageError(
      `${what} "${fragment}" is ambiguous: it matches ${matches.size} ${what}s (${list}${matches.size > 5 ? ", …" : ""}); give more characters`,
    );
  }
  return undefined;
}

const fits = (id: string, fragment: string) =>
  id !== fragment && (id.startsWith(fragment) || id.endsWith(fragment));

/**
 * The full run id for `shown`: itself when the store has events of that run, else the one run id
 * that starts or ends with it (the tables show the last 8 characters). Undefined when none does.
 * @throws {UsageError} when several runs match.
 */
export async function resolveRunId(store: AuditStore, shown: string): Promise<string | undefined> {
  if ((await store.count({ runId: shown, limit: 1 })) > 0) return shown;
  if (shown.length < MIN_FRAGMENT) return undefined;
  // Every run starts with run.start; a run whose start was pruned is found by the full scan.
  const matches = new Set<string>();
  for await (const e of store.stream({ type: "run.start" }))
    if (e.runId && fits(e.runId, shown)) matches.add(e.runId);
  if (matches.size === 0)
    for await (const e of store.stream()) if (e.runId && fits(e.runId, shown)) matches.add(e.runId);
  return pick("run id", shown, matches);
}

/**
 * The full event id for `shown`: itself when the store has it, else the one event id that starts
 * or ends with it. Undefined when none does.
 * @throws {UsageError} when several events match.
 */
export async function resolveEventId(
  store: AuditStore,
  shown: string,
): Promise<string | undefined> {
  if (await store.get(shown)) return shown;
  if (shown.length < MIN_FRAGMENT) return undefined;
  const matches = new Set<string>();
  for await (const e of store.stream()) if (fits(e.id, shown)) matches.add(e.id);
  return pick("event id", shown, matches);
}

/**
 * The id among `ids` that `shown` is, starts or ends: for ids listed by another query (pending
 * approvals). Undefined when none fits.
 * @throws {UsageError} when several fit.
 */
export function resolveAmong(
  what: string,
  ids: readonly string[],
  shown: string,
): string | undefined {
  if (ids.includes(shown)) return shown;
  if (shown.length < MIN_FRAGMENT) return undefined;
  return pick(what, shown, new Set(ids.filter((id) => fits(id, shown))));
}

/** Replaces a short run id in `filter.runId` by the full one it stands for. */
export async function resolveFilterRun(
  store: AuditStore,
  filter: { runId?: string },
): Promise<void> {
  if (filter.runId) filter.runId = (await resolveRunId(store, filter.runId)) ?? filter.runId;
}
