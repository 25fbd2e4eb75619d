import { resolve as resolvePath } from "node:path";
import { Spool } from "../durable/spool.js";
import { StoreWriter } from "../durable/store-writer.js";
import type { AuditError } from "../errors.js";
import type { AuditExporter } from "../exporters/exporter.js";
import { ExporterLanes } from "../exporters/lanes.js";
import { BatchQueue } from "../pipeline/batch-queue.js";
import { SealStage } from "../pipeline/seal.js";
import { EventStamper } from "../pipeline/stamp.js";
import { WritePipeline } from "../pipeline/write-pipeline.js";
import { PrivacyFilter } from "../privacy.js";
import type { AuditorInit, ResolvedSettings } from "./options.js";

/** The stages of one auditor, wired together. */
export interface Stages {
  stamper: EventStamper;
  writer: StoreWriter;
  pipeline: WritePipeline;
  /** The witness's own lane, when checkpoints go to a witness. */
  witness: ExporterLanes | undefined;
}

/** Builds the stages from checked settings: stamp → queue → seal → writer/spool, exporter lanes. */
export function assembleStages(
  options: AuditorInit,
  s: ResolvedSettings,
  report: (error: AuditError) => void,
  hooks: { onIdle: () => void },
): Stages {
  const lanes = (exporters: readonly AuditExporter[]) =>
    new ExporterLanes(exporters, {
      maxPending: s.batch.maxQueue,
      timeoutMs: s.exportTimeoutMs,
      report,
    });
  let witness: ExporterLanes | undefined;
  const seal = new SealStage({
    privacy: options.privacy === false ? undefined : new PrivacyFilter(options.privacy ?? {}),
    integrity: options.integrity === false ? false : (options.integrity ?? {}),
    actor: options.actor,
    report,
    onCheckpoint: (e) => witness?.dispatch([e]),
    onIdle: hooks.onIdle,
  });
  witness = seal.sealer?.witness ? lanes([seal.sealer.witness]) : undefined;
  const spool =
    s.spool === false ? undefined : new Spool(resolvePath(s.spool), { maxBytes: s.spoolMaxBytes });
  let pipeline: WritePipeline | undefined;
  const writer = new StoreWriter({
    store: options.store,
    spool,
    retry: s.retry,
    appendTimeoutMs: s.appendTimeoutMs,
    maxEvents: s.batch.maxEvents,
    report,
    onReplayed: () => pipeline?.tracker.spoolReplayed(),
  });
  pipeline = new WritePipeline({
    queue: (onReady) => new BatchQueue(s.batch, onReady),
    seal,
    writer,
    lanes: lanes(options.exporters ?? []),
    onOverflow: s.onOverflow,
    durability: s.durability,
    report,
  });
  const stamper = new EventStamper({
    actor: options.actor,
    normalize: options.normalize,
    traceContext: options.traceContext,
  });
  return { stamper, writer, pipeline, witness };
}
