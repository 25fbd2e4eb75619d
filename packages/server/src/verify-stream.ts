import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  type StoredRow,
  type VerifyOptions,
  type VerifyReport,
  verifyChain,
} from "@audit/core";
import { SseStream } from "./sse.js";

/** A finding of the verifier, with the type of the event it names, for linking in the viewer. */
export type NamedProblem = VerifyReport["problems"][number] & { eventType?: string };

/** What `GET /api/verify` sends last. */
export interface VerifyResult extends Omit<VerifyReport, "problems" | "warnings"> {
  problems: NamedProblem[];
  warnings: NamedProblem[];
}

/**
 * The store as `verifyChain` sees it, counting the events its full pass reads. Built as a plain
 * object rather than a Proxy because stores keep private fields that a Proxy's `this` cannot reach.
 */
function counting(store: AuditStore, onEvent: () => void): AuditStore {
  return {
    id: store.id,
    capabilities: store.capabilities,
    append: (events) => store.append(events),
    query: (filter) => store.query(filter),
    get: (id) => store.get(id),
    count: (filter) => store.count(filter),
    prune: (options) => store.prune(options),
    close: async () => undefined,
    // Where the store offers its stored rows, verify reads those instead of the stream (strict
    // JSON, indexed columns, stored order): pass them on, counted the same way.
    ...(store.storedRows && {
      async *storedRows(): AsyncIterable<StoredRow> {
        for await (const row of store.storedRows!()) {
          onEvent();
          yield row;
        }
      },
    }),
    async *stream(filter?: AuditFilter): AsyncIterable<AuditEvent> {
      const full = filter === undefined || Object.keys(filter).length === 0;
      for await (const e of store.stream(filter)) {
        if (full) onEvent();
        yield e;
      }
    },
  };
}

/** Runs `verifyChain`, calling `onProgress(checked, total)` at most every `everyMs`. */
export async function verifyWithProgress(
  store: AuditStore,
  options: VerifyOptions,
  onProgress: (checked: number, total: number) => void,
  everyMs = 200,
): Promise<VerifyResult> {
  const total = await store.count();
  let checked = 0;
  let lastReport = 0;
  onProgress(0, total);
  const report = await verifyChain(
    counting(store, () => {
      checked++;
      const now = Date.now();
      if (now - lastReport >= everyMs) {
        lastReport = now;
        onProgress(checked, total);
      }
    }),
    options,
  );
  onProgress(checked, Math.max(total, checked));
  const name = async (p: VerifyReport["problems"][number]): Promise<NamedProblem> => {
    if (!p.eventId) return p;
    const e = await store.get(p.eventId).catch(() => undefined);
    return e ? { ...p, eventType: e.type } : p;
  };
  const problems: NamedProblem[] = [];
  for (const p of report.problems) problems.push(await name(p));
  const warnings: NamedProblem[] = [];
  for (const w of report.warnings) warnings.push(await name(w));
  return { ...report, problems, warnings };
}

/** `GET /api/verify`: `progress` frames `{checked, total}`, then one `report` frame, then the end. */
export async function streamVerify(
  req: IncomingMessage,
  res: ServerResponse,
  store: AuditStore,
  options: VerifyOptions,
): Promise<void> {
  const sse = new SseStream(req, res);
  try {
    const result = await verifyWithProgress(store, options, (checked, total) =>
      sse.send({ event: "progress", data: JSON.stringify({ checked, total }) }),
    );
    sse.send({ event: "report", data: JSON.stringify(result) });
  } catch (err) {
    sse.send({
      event: "failure",
      data: JSON.stringify({ error: err instanceof Error ? err.message : String(err) }),
    });
  } finally {
    sse.close();
  }
}
