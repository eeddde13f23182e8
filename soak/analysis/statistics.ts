/** Robust statistics for the trend test: medians, MAD, Theil–Sen slopes. */

export interface Point {
  /** Seconds. */
  readonly t: number;
  readonly v: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median absolute deviation, scaled to estimate a standard deviation (×1.4826). */
export function scaledMad(values: readonly number[]): number {
  const m = median(values);
  return 1.4826 * median(values.map((v) => Math.abs(v - m)));
}

/** At most `max` points: medians of consecutive bins (keeps Theil–Sen's pairs few). */
export function binned(points: readonly Point[], max: number): Point[] {
  if (points.length <= max) return [...points];
  const size = Math.ceil(points.length / max);
  const bins: Point[] = [];
  for (let i = 0; i < points.length; i += size) {
    const bin = points.slice(i, i + size);
    bins.push({ t: median(bin.map((p) => p.t)), v: median(bin.map((p) => p.v)) });
  }
  return bins;
}

/**
 * Theil–Sen estimator: the median of the slopes between every two points
 * (per second). Robust: up to 29% of the points can be wild without moving it.
 */
export function theilSenSlope(points: readonly Point[]): number {
  const sample = binned(points, 300);
  const slopes: number[] = [];
  for (let i = 0; i < sample.length; i++) {
    for (let j = i + 1; j < sample.length; j++) {
      const dt = sample[j]!.t - sample[i]!.t;
      if (dt > 0) slopes.push((sample[j]!.v - sample[i]!.v) / dt);
    }
  }
  return slopes.length === 0 ? 0 : median(slopes);
}
