// The rows a run produces, each with every repetition kept, and what the console shows as they
// come in.
import { ratios, type Summary, summarize } from "./stats.js";
import { describeTarget, type Target, type Verdict, verdict } from "./targets.js";

/** One measured line of the results. */
export interface Row {
  section: string;
  workload: string;
  unit: string;
  /** Which direction is better for this figure. */
  better: "higher" | "lower";
  /** One value per repetition. */
  samples: number[];
  /** What the figure is compared with, measured in the same repetitions. */
  baseline?: { name: string; samples: number[] };
  target?: Target;
  /** Why a figure looks the way it does, or what was skipped. */
  note?: string;
}

/** A row that could not be measured, and why. */
export interface SkippedRow {
  section: string;
  workload: string;
  reason: string;
}

/** A row with its summaries and verdict worked out. */
export interface EvaluatedRow extends Row {
  figure: Summary;
  base: Summary | undefined;
  ratio: Summary | undefined;
  verdict: Verdict | undefined;
}

/** Works out a row's median, spread, ratio and verdict from its repetitions. */
export function evaluate(row: Row): EvaluatedRow {
  const figure = summarize(row.samples);
  const base = row.baseline ? summarize(row.baseline.samples) : undefined;
  const r = row.baseline ? ratios(row.samples, row.baseline.samples, row.better) : undefined;
  const ratio = r ? summarize(r) : undefined;
  let v: Verdict | undefined;
  if (row.target) {
    const values = row.target.on === "ratio" ? (r ?? []) : row.samples;
    v = verdict(values, row.target);
  }
  return { ...row, figure, base, ratio, verdict: v };
}

/** Number formatting shared by the console and the results file. */
export const fmt: {
  n: (v: number) => string;
  ratio: (v: number) => string;
  spread: (s: Summary, f?: (v: number) => string) => string;
} = {
  n(v: number): string {
    if (!Number.isFinite(v)) return "—";
    const a = Math.abs(v);
    if (a >= 100) return Math.round(v).toLocaleString("en-US");
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    return v.toPrecision(2);
  },
  ratio: (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "—"),
  spread: (s: Summary, f: (v: number) => string = fmt.n): string =>
    s.n <= 1 ? "(1 run)" : `${f(s.min)}–${f(s.max)} (IQR ${f(s.q1)}–${f(s.q3)})`,
};

/** Collects the rows, skipped rows and notes of one run. */
export class Report {
  readonly rows: Row[] = [];
  readonly skipped: SkippedRow[] = [];
  /** Notes per section, in order. */
  readonly notes = new Map<string, string[]>();
  /** Failures the auditors reported during the run (each message once). */
  readonly errors = new Set<string>();

  /** Adds a measured row and prints it. */
  add(row: Row): void {
    this.rows.push(row);
    const e = evaluate(row);
    let line = `  ${row.workload}: ${fmt.n(e.figure.median)} ${row.unit} ${fmt.spread(e.figure)}`;
    if (e.base && row.baseline) {
      line += ` | ${row.baseline.name}: ${fmt.n(e.base.median)} ${fmt.spread(e.base)}`;
    }
    if (e.ratio) line += ` | ratio ${fmt.ratio(e.ratio.median)} ${fmt.spread(e.ratio, fmt.ratio)}`;
    if (row.target) line += ` | target ${describeTarget(row.target, row.unit)}: ${e.verdict}`;
    console.log(line);
    if (row.note) console.log(`    note: ${row.note}`);
  }

  /** Records that a row could not be measured (a missing feature, a failing step). */
  skip(section: string, workload: string, reason: string): void {
    this.skipped.push({ section, workload, reason });
    console.log(`  ${workload}: skipped (${reason})`);
  }

  /** Adds a note to a section. */
  note(section: string, text: string): void {
    const list = this.notes.get(section) ?? [];
    list.push(text);
    this.notes.set(section, list);
    console.log(`  note: ${text}`);
  }
}
