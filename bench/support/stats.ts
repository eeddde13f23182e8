/** The statistics the benchmark reports: median and 95th percentile of the runs. */

/** Summary of one implementation's runs of one scenario (per-operation values). */
export interface Summary {
  readonly median: number;
  readonly p95: number;
  /**
   * Medians of the runs' extras by name (http-hello: "p50 ms", "p99 ms"
   * latencies), when the scenario reports any.
   */
  readonly extras?: Readonly<Record<string, number>>;
}

/**
 * Median (mean of the two middle values for an even count) and p95 by the
 * nearest-rank method: the smallest sample with at least 95% of the samples at
 * or below it. With the 5–15 runs a full benchmark makes, that is the slowest
 * or second slowest run — an honest "bad case", not an interpolated one.
 */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError("samples must not be empty");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const p95 = sorted[Math.ceil(0.95 * sorted.length) - 1]!;
  return { median, p95 };
}
