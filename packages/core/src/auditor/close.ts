import type { StoreWriter } from "../durable/store-writer.js";
import { delay, withTimeout } from "../durable/timeout.js";
import { type AuditError, describeError, StoreError, StoreTimeoutError } from "../errors.js";
import type { ExporterLanes } from "../exporters/lanes.js";
import type { WritePipeline } from "../pipeline/write-pipeline.js";

/** What closing needs: the stages, what the auditor owns, and its bound. */
export interface CloseParts {
  pipeline: WritePipeline;
  writer: StoreWriter;
  witness: ExporterLanes | undefined;
  ownsStore: boolean;
  ownsExporters: boolean;
  timeoutMs: number;
  report: (error: AuditError) => void;
}

/**
 * Closes the stages in order within `timeoutMs`: flush, the final checkpoint, a replay of the
 * spool if the store answers; past the bound, what is still in memory goes to the spool
 * synchronously. Then timers stop, exporters and (if owned) the store are released with what
 * remains of the bound. Never rejects.
 */
export async function closeWithin(parts: CloseParts): Promise<void> {
  const { pipeline, writer, report } = parts;
  const deadline = Date.now() + parts.timeoutMs;
  const remaining = () => Math.max(0, deadline - Date.now());
  const graceful = async () => {
    await pipeline.flush().catch(report);
    // The final checkpoint closes the chain: verify can then tell a cut-off tail.
    const sealer = pipeline.seal.sealer;
    if (sealer && sealer.head.seq > 0) {
      pipeline.enqueueInternal(pipeline.seal.checkpoint(true));
      await pipeline.flush().catch(report);
    }
    if (writer.spool?.hasPending()) await writer.replay();
    return true;
  };
  const done = await Promise.race([graceful(), delay(remaining()).then(() => false)]);
  if (!done) {
    pipeline.abort(true);
    report(
      new StoreError(
        writer.store.id,
        `close() ran out of its ${parts.timeoutMs} ms; what was not written is in the spool`,
      ),
    );
  }
  pipeline.queue.stop();
  pipeline.seal.stop();
  writer.stop();
  writer.spool?.close();
  const lanes = pipeline.lanes;
  await Promise.race([
    Promise.all([parts.ownsExporters ? lanes.shutdown() : lanes.flush(), parts.witness?.flush()]),
    delay(remaining()),
  ]);
  if (parts.ownsStore) {
    const store = writer.store;
    await withTimeout(
      () => store.close(),
      Math.max(1, remaining()),
      () => new StoreTimeoutError(store.id, "close", parts.timeoutMs),
    ).catch((err: unknown) => {
      report(new StoreError(store.id, `close failed: ${describeError(err)}`, { cause: err }));
    });
  }
}
