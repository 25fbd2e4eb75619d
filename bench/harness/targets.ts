// Every target of the benchmark, as data. Verdicts are computed from the measured repetitions,
// never written by hand: "met (all reps)" when every repetition meets the target, "met (median)"
// when the median does but some repetition does not, "missed" otherwise.
import { median } from "./stats.js";

/** A goal for one row: `figure op value`, or `ratio op value` (ratio oriented so above 1 is better). */
export interface Target {
  op: "<=" | ">=";
  value: number;
  /** What the target constrains: the figure itself, or its ratio to the row's baseline. */
  on: "figure" | "ratio";
}

/** What the repetitions say about a target. */
export type Verdict = "met (all reps)" | "met (median)" | "missed";

/** True when one value meets the target. */
export function meets(value: number, target: Target): boolean {
  if (!Number.isFinite(value)) return false;
  return target.op === "<=" ? value <= target.value : value >= target.value;
}

/** The verdict of a target over the repetitions' values (figures or ratios, as the target says). */
export function verdict(values: readonly number[], target: Target): Verdict {
  if (values.length === 0) return "missed";
  if (values.every((v) => meets(v, target))) return "met (all reps)";
  return meets(median(values), target) ? "met (median)" : "missed";
}

/** The target as a reader sees it: "≤ 4 µs/event", "≥ 0.85× baseline". */
export function describeTarget(target: Target, unit: string): string {
  const op = target.op === "<=" ? "≤" : "≥";
  const n = target.value.toLocaleString("en-US", { maximumFractionDigits: 3 });
  return target.on === "ratio" ? `${op} ${n}× baseline` : `${op} ${n} ${unit}`;
}

const figure = (op: Target["op"], value: number): Target => ({ op, value, on: "figure" });
const ratio = (op: Target["op"], value: number): Target => ({ op, value, on: "ratio" });

/** The project's targets. Change a goal here; every row that carries it follows. */
export const TARGETS = {
  /** `record()` on the agent's path, per event (ns). */
  recordNs: figure("<=", 2000),
  /** Main-thread CPU of the whole write path of a small event, record → durable (µs). */
  fullCostMainSmallUs: figure("<=", 4),
  /** Event-loop delay p99 while recording 20,000 events/s (ms). */
  loopP99Ms: figure("<=", 10),
  /** SQLite through the auditor, chain on, against a hand-written writer of the same rows. */
  sqliteChainVsRaw: ratio(">=", 0.85),
  /** SQLite through the auditor, chain and privacy off, against the same writer. */
  sqlitePlainVsRaw: ratio(">=", 0.85),
  /** A batching store against one write per event. */
  vsNaive: ratio(">=", 20),
  /** JSONL through the auditor, chain and privacy on, against pino writing the same records. */
  jsonlVsPino: ratio(">=", 1.0),
  /** JSONL through the auditor against raw appends of the same batches with the same fsyncs. */
  jsonlVsRawAppend: ratio(">=", 0.7),
  /** PostgreSQL through the auditor, chain on, against raw pg with the same batches. */
  postgresChainVsRaw: ratio(">=", 0.7),
  /** PostgreSQL through the auditor, chain and privacy off, against raw pg. */
  postgresPlainVsRaw: ratio(">=", 0.85),
  /** SQLite file size (incl. WAL after a checkpoint) per small event (bytes). */
  sqliteBytesPerEvent: figure("<=", 600),
  /** The 100 newest events of one session (ms). */
  sessionPageMs: figure("<=", 10),
  /** JSONL `get(id)` at 1,000,000 events (ms). */
  jsonlGetMs: figure("<=", 5),
  /** JSONL page of 100 after a cursor at 1,000,000 events (ms). */
  jsonlPageAfterMs: figure("<=", 10),
  /** JSONL tail poll: bytes read per poll of the large store no more than of the small one. */
  jsonlPollBytesVsSmall: ratio(">=", 1.0),
  /** JSONL tail poll time of the large store within 2× of the small one. */
  jsonlPollTimeVsSmall: ratio(">=", 0.5),
  /** JSONL writer heap while appending 1,000,000 events (MB). */
  jsonlWriterHeapMb: figure("<=", 50),
  /** JSONL first append after a restart, 1,000,000 events stored (ms). */
  jsonlFirstAppendMs: figure("<=", 1000),
  /** A stalled store: events held in memory stay within the default queue bound (`maxQueue`). */
  stalledHeldEvents: figure("<=", 10_000),
} as const satisfies Record<string, Target>;
