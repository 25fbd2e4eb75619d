import { isRejection } from "../durable/failure.js";
import type { StoreWriter } from "../durable/store-writer.js";
import { withTimeout } from "../durable/timeout.js";
import { describeError, StoreError, StoreTimeoutError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import type { WritePipeline } from "../pipeline/write-pipeline.js";

/**
 * Writes an approval resolution as the next link of the auditor's chain and returns what the store
 * holds under its id afterwards. Contract: the resolution is written alone while no batch is in
 * flight, so that if another resolver won (the store kept the other one under the same id) its link
 * can be undone and the chain has no gap; a store that refuses it undoes the link too; a store that
 * does not answer keeps it in the spool (it may have landed) and throws `StoreError`. A winning
 * resolution goes to the exporters like any event.
 */
export function writeResolution(
  pipeline: WritePipeline,
  writer: StoreWriter,
  appendTimeoutMs: number,
  event: AuditEvent,
): Promise<AuditEvent | undefined> {
  const store = writer.store;
  return pipeline.exclusive(async () => {
    const sealer = pipeline.seal.sealer;
    const mark = sealer?.mark();
    // A chain's times never go back, whatever the request's writer's clock said.
    const head = mark?.headEvent?.time;
    if (head !== undefined && event.time < head) event.time = head;
    pipeline.seal.prepareAlone(event);
    const undo = () => {
      if (mark && event.chain) sealer?.rewind(mark, event.chain.seq);
    };
    try {
      await withTimeout(
        () => store.append([event]),
        appendTimeoutMs,
        () => new StoreTimeoutError(store.id, "append of a resolution", appendTimeoutMs),
      );
    } catch (err) {
      if (isRejection(err)) undo();
      else writer.toSpool([event]);
      throw new StoreError(
        store.id,
        `cannot write the resolution of approval ${String(event.data.approvalId)}: ${describeError(err)}`,
        { cause: err },
      );
    }
    const stored = await store.get(event.id);
    const won = event.chain
      ? stored?.chain?.hash === event.chain.hash
      : sameResolution(stored, event);
    if (won) pipeline.lanes.dispatch([event]);
    else undo();
    return stored;
  });
}

// Without a chain: key order may differ in what a store reads back, so compare what identifies it.
function sameResolution(stored: AuditEvent | undefined, ours: AuditEvent): boolean {
  return (
    stored !== undefined &&
    stored.time === ours.time &&
    stored.data.outcome === ours.data.outcome &&
    stored.data.resolvedBy === ours.data.resolvedBy &&
    stored.data.comment === ours.data.comment
  );
}
