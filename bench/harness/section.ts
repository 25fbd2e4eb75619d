import type { BenchContext } from "./context.js";

/** One part of the benchmark: a title, how it measures, and the measuring. */
export interface Section {
  /** The name BENCH_ONLY selects it by. */
  name: string;
  /** The heading of its table in RESULTS.md. */
  title: string;
  /** How the figures are made, printed above the table. */
  method: string;
  run(ctx: BenchContext): Promise<void>;
}
