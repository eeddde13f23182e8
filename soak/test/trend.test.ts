// The soak's trend test on synthetic series: what it must call growing, and what not.
import { describe, expect, test } from "vitest";
import type { Point } from "../analysis/statistics.ts";
import { trendOf } from "../analysis/trend.ts";
import { Random } from "../load/random.ts";

const OPTIONS = { warmup: 150, end: 600, resolution: 0 };

/** A sample a second for 600 s: `shape(t)` plus uniform noise of ±`noise`. */
function series(shape: (t: number) => number, noise: number, seed = 7): Point[] {
  const random = new Random(seed);
  return Array.from({ length: 600 }, (_, t) => ({
    t,
    v: shape(t) + (random.next() * 2 - 1) * noise,
  }));
}

describe("trendOf", () => {
  test("a flat noisy series is not growing", () => {
    expect(
      trendOf(
        series(() => 40, 5),
        OPTIONS,
      ).growing,
    ).toBe(false);
  });

  test("a steady leak, 70 times smaller a second than the noise's swing, is growing", () => {
    // 3 KB/s of heap (in MB) under ±0.2 MB of noise: 1.35 MB over the window.
    const verdict = trendOf(
      series((t) => 20 + t * 0.003, 0.2),
      OPTIONS,
    );
    expect(verdict.growing).toBe(true);
    expect(verdict.reason).toMatch(/GROWING$/);
  });

  test("a series that rose during the window and then settled is not growing", () => {
    const verdict = trendOf(
      series((t) => 30 + 10 * Math.min(1, (t - 150) / 150), 0.5),
      OPTIONS,
    );
    expect(verdict.growing).toBe(false);
    expect(verdict.reason).toMatch(/grew, then settled$/);
  });

  test("a count that wobbles by one is not growing, a count that climbs by one a minute is", () => {
    const wobble = Array.from({ length: 600 }, (_, t) => ({ t, v: 31 + (t % 3 === 0 ? 1 : 0) }));
    expect(trendOf(wobble, { ...OPTIONS, resolution: 1 }).growing).toBe(false);
    const climb = Array.from({ length: 600 }, (_, t) => ({ t, v: 31 + Math.floor(t / 60) }));
    expect(trendOf(climb, { ...OPTIONS, resolution: 1 }).growing).toBe(true);
  });

  test("the warm-up and the drain are left out", () => {
    // Climbs during the warm-up, falls in the drain: flat in between.
    const points = series((t) => (t < 150 ? t : t > 600 ? 0 : 150), 1);
    const drained = [...points, ...Array.from({ length: 20 }, (_, i) => ({ t: 600 + i, v: 0 }))];
    expect(trendOf(drained, OPTIONS).growing).toBe(false);
  });

  test("too few samples are never judged growing, and say so", () => {
    const verdict = trendOf(series((t) => t, 0).slice(0, 160), OPTIONS);
    expect(verdict).toMatchObject({ growing: false, tooShort: true });
  });
});
