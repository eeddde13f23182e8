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

  // RSS: a spike of buffers in flight, a second long, leaves it a few MB
  // higher for good; the steps come rarer as the run goes on.
  const highWaterMarks = (t: number) =>
    160 +
    [180, 260, 380, 520].filter((at) => t >= at).length * 4 +
    ([179, 259, 379, 519, 560].includes(t) ? 6 : 0);
  const STEPWISE = { ...OPTIONS, resolution: 1, steps: true };

  test("a series that rose in steps, one of them late, is not growing when it is stepwise", () => {
    const points = series(highWaterMarks, 0.2);
    // The plain test reads the steps as a climb: the reason for `steps`.
    expect(trendOf(points, { ...OPTIONS, resolution: 1 }).growing).toBe(true);
    const verdict = trendOf(points, STEPWISE);
    expect(verdict.growing).toBe(false);
    expect(verdict.reason).toMatch(/by quarters\): rose in steps, then flat$/);
  });

  test("a steady leak under those steps and spikes is growing when it is stepwise", () => {
    // 20 KB/s: 9 MB over the window, next to 16 MB of steps.
    const verdict = trendOf(
      series((t) => highWaterMarks(t) + 0.02 * t, 0.2),
      STEPWISE,
    );
    expect(verdict.growing).toBe(true);
    expect(verdict.reason).toMatch(/GROWING$/);
  });

  test("a recorded 60 s run's RSS steps are not growing; with a leak of 0.3 MB/s added they are", () => {
    // RSS (MB) of a CI-length soak that the plain test failed: steps at 36,
    // 44 and 48 s, spikes at 44, 55 and 57 s; warm-up 30 s, load until 60 s.
    const rss = [
      163, 163.7, 163.7, 163.7, 163.7, 164.5, 165, 165.6, 165.6, 165.6, 165.6, 165.4, 165.4, 168.5,
      165.8, 165.3, 165.3, 166.6, 168.8, 169.8, 168.9, 169.1, 170, 169.1, 176.8, 169.1, 172.2,
      169.3, 170.7,
    ];
    const recorded = rss.map((v, i) => ({ t: 30.5 + i, v }));
    const options = { warmup: 30, end: 60, resolution: 1 };
    expect(trendOf(recorded, options).growing).toBe(true);
    expect(trendOf(recorded, { ...options, steps: true }).growing).toBe(false);
    const leaking = recorded.map((p) => ({ t: p.t, v: p.v + 0.3 * (p.t - 30) }));
    expect(trendOf(leaking, { ...options, steps: true }).growing).toBe(true);
  });

  // A CI-length window (warm-up 30 s, load until 60 s): 29 samples, quarters of 7 or 8.
  const SHORT_STEPWISE = { warmup: 30, end: 60, resolution: 1, steps: true };
  const shortRun = (shape: (t: number) => number) =>
    Array.from({ length: 29 }, (_, i) => ({ t: 30.5 + i, v: shape(30.5 + i) }));
  const stepsAt = (at: readonly number[]) => (t: number) =>
    160 + at.filter((a) => t >= a).length * 3;

  test("steps that leave only the first or only the last quarter flat are not growing", () => {
    // The last step is a new high at the very last sample: the last half grew,
    // the last quarter's Theil–Sen line did not. Every quarter is judged.
    const lastFlat = trendOf(shortRun(stepsAt([33.5, 41, 48.5, 58.5])), SHORT_STEPWISE);
    expect(lastFlat.growing).toBe(false);
    expect(lastFlat.reason).toMatch(/rose in steps, then flat$/);
    const firstFlat = trendOf(shortRun(stepsAt([38, 41, 48.5, 55.5])), SHORT_STEPWISE);
    expect(firstFlat.growing).toBe(false);
  });

  test("a stepwise series grows in a quarter only by more than the noise", () => {
    // Noise 1 (the resolution): 0.2 MB/s grows 1.2 in each 6 s quarter.
    expect(
      trendOf(
        shortRun((t) => 160 + 0.2 * (t - 30)),
        SHORT_STEPWISE,
      ).growing,
    ).toBe(true);
    // 0.3 MB/s slowing to 0.12 in the last quarter: 0.72 there.
    const slowing = (t: number) =>
      160 + 0.3 * (Math.min(t, 51.5) - 30) + 0.12 * Math.max(0, t - 51.5);
    expect(trendOf(shortRun(slowing), SHORT_STEPWISE).growing).toBe(false);
  });

  test("a sawtooth that climbs in every quarter but falls back is not growing", () => {
    // Two teeth of 4.2 MB: every quarter and the last half grow, the window
    // does not. The quarters alone are not the test; the medians still are.
    const sawtooth = (t: number) => 160 + 0.3 * ((t - 30.5) % 14.5);
    const verdict = trendOf(shortRun(sawtooth), SHORT_STEPWISE);
    expect(verdict.growing).toBe(false);
    expect(verdict.reason).toMatch(/: flat$/);
  });

  test("too few samples are never judged growing, and say so", () => {
    const verdict = trendOf(series((t) => t, 0).slice(0, 160), OPTIONS);
    expect(verdict).toMatchObject({ growing: false, tooShort: true });
  });
});
