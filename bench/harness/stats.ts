// Summaries of repeated measurements: the median says what is typical, min–max and the
// interquartile range say how far one run can be trusted.

/** What a set of repetitions of one figure looks like. */
export interface Summary {
  /** How many repetitions. */
  n: number;
  median: number;
  min: number;
  max: number;
  /** First quartile. */
  q1: number;
  /** Third quartile. */
  q3: number;
}

/** The `q` quantile (0–1) of already sorted values, linearly interpolated (R's type 7). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/** The `q` quantile (0–1) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  return quantileSorted(
    [...values].sort((a, b) => a - b),
    q,
  );
}

/** The median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Median, extremes and quartiles of `values`; NaN everywhere when there are none. */
export function summarize(values: readonly number[]): Summary {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantileSorted(s, 0.5),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
    q1: quantileSorted(s, 0.25),
    q3: quantileSorted(s, 0.75),
  };
}

/**
 * Per-repetition ratios of a figure to its baseline, oriented so that above 1 is better than the
 * baseline: figure ÷ baseline when higher is better, baseline ÷ figure when lower is better.
 * Repetitions are paired (figure and baseline were measured in the same repetition); when the
 * counts differ, each figure is compared with the baseline's median.
 */
export function ratios(
  figures: readonly number[],
  baselines: readonly number[],
  better: "higher" | "lower",
): number[] {
  const paired = figures.length === baselines.length;
  const baseMedian = median(baselines);
  return figures.map((f, i) => {
    const b = paired ? (baselines[i] as number) : baseMedian;
    if (f === b) return 1; // also 0 against 0: the same amount of work
    return better === "higher" ? f / b : b / f;
  });
}
