/**
 * The soak's pass/fail test for a series: does it grow without bound? Not a
 * fixed limit (a server may well settle at 40 MB of heap, or 300 open
 * descriptors): growth judged against the series' own noise.
 *
 * The first quarter of the load (at least 30 s; the caller decides) is warm-up — JIT, pools,
 * buffers growing to their working size — and is left out; so is the drain
 * after the load. Over the rest, a series is GROWING when both hold:
 *
 * - it grew: the median of the last third is above the median of the first
 *   third by more than 3 × noise;
 * - it is still growing: the Theil–Sen slope over the last half, times the
 *   half's length, is more than 1.5 × noise (a series that rose and settled,
 *   as a cache filling up, passes).
 *
 * A series that rises in steps (`steps`: RSS, whose allocators keep part of
 * what a burst of load made them map) must also grow by more than its noise
 * in each quarter of the window: a leak grows all the time, a high-water mark
 * only when a burst sets a new one, and stays flat in between. Steps that
 * leave a quarter flat pass; a steady climb does not.
 *
 * The noise is the scaled MAD of the residuals around the Theil–Sen line of
 * the whole window (so a steady climb does not count as noise), and at least
 * the series' resolution (1 for counts): a count that wobbles between 31
 * and 32 is not growing.
 */
import { median, type Point, scaledMad, theilSenSlope } from "./statistics.ts";

export interface TrendOptions {
  /** Seconds of warm-up to leave out. */
  readonly warmup: number;
  /** Seconds at which the load stopped (later points are the drain). */
  readonly end: number;
  /** The smallest step the series can take (1 for counts, 0 for continuous values). */
  readonly resolution: number;
  /**
   * The series rises in steps that are not leaks (high-water marks): it is
   * growing only if it grows in each quarter of the window.
   */
  readonly steps?: boolean;
}

export interface TrendVerdict {
  readonly growing: boolean;
  /** Too few points to judge: never growing, but said so. */
  readonly tooShort: boolean;
  /** The analysed window (seconds). */
  readonly from: number;
  readonly to: number;
  /** Medians of its first and last thirds. */
  readonly firstMedian: number;
  readonly lastMedian: number;
  readonly noise: number;
  /** Per second, over the window and over its last half. */
  readonly slope: number;
  readonly lateSlope: number;
  /** One line: what was compared, and the verdict. */
  readonly reason: string;
}

/** Fewer analysed points than this: too short to tell. */
const MIN_POINTS = 12;

export function trendOf(points: readonly Point[], options: TrendOptions): TrendVerdict {
  const window = points.filter((p) => p.t >= options.warmup && p.t <= options.end);
  const from = window[0]?.t ?? options.warmup;
  const to = window.at(-1)?.t ?? options.end;
  if (window.length < MIN_POINTS) {
    return {
      growing: false,
      tooShort: true,
      from,
      to,
      firstMedian: Number.NaN,
      lastMedian: Number.NaN,
      noise: Number.NaN,
      slope: Number.NaN,
      lateSlope: Number.NaN,
      reason: `${window.length} samples after warm-up: too few to judge`,
    };
  }
  const third = Math.floor(window.length / 3);
  const firstMedian = median(window.slice(0, third).map((p) => p.v));
  const lastMedian = median(window.slice(-third).map((p) => p.v));
  const slope = theilSenSlope(window);
  const noise = Math.max(
    scaledMad(window.map((p) => p.v - slope * p.t)),
    options.resolution,
    Number.MIN_VALUE,
  );
  const late = window.slice(Math.floor(window.length / 2));
  const lateSlope = theilSenSlope(late);
  const lateGrowth = lateSlope * spanOf(late);
  const grew = lastMedian - firstMedian > 3 * noise;
  const stillGrowing = lateGrowth > 1.5 * noise;
  // Growth in each quarter, judged for stepwise series only. A burst's spike
  // (a sample or two, then back) barely moves a quarter's Theil–Sen slope.
  const quarterGrowths = options.steps === true ? quarters(window).map(growthOf) : [];
  const steady = quarterGrowths.every((growth) => growth > noise);
  const growing = grew && stillGrowing && steady;
  const byQuarter =
    quarterGrowths.length === 0
      ? ""
      : ` (${quarterGrowths.map((g) => fmt(g)).join(", ")} by quarters)`;
  const reason =
    `median ${fmt(firstMedian)} → ${fmt(lastMedian)} (first → last third of ${fmt(from)}–${fmt(to)} s), ` +
    `noise ${fmt(noise)}, late growth ${fmt(lateGrowth)}${byQuarter}: ` +
    (growing
      ? "GROWING"
      : grew && stillGrowing
        ? "rose in steps, then flat"
        : grew
          ? "grew, then settled"
          : "flat");
  return {
    growing,
    tooShort: false,
    from,
    to,
    firstMedian,
    lastMedian,
    noise,
    slope,
    lateSlope,
    reason,
  };
}

/** The Theil–Sen slope over the points, times their span: how much they grew. */
function growthOf(points: readonly Point[]): number {
  return theilSenSlope(points) * spanOf(points);
}

/** Seconds from the first point to the last. */
function spanOf(points: readonly Point[]): number {
  return points.at(-1)!.t - points[0]!.t;
}

/** Four consecutive stretches of nearly equal length. */
function quarters(points: readonly Point[]): Point[][] {
  const cut = (i: number) => Math.round((points.length * i) / 4);
  return [0, 1, 2, 3].map((i) => points.slice(cut(i), cut(i + 1)));
}

function fmt(value: number): string {
  const abs = Math.abs(value);
  return abs >= 100 || value === Math.round(value)
    ? value.toFixed(0)
    : abs >= 1
      ? value.toFixed(1)
      : value.toPrecision(2);
}
