/**
 * The measuring harness of the net benchmarks (bench/net.ts), in the style of
 * bench/core.ts: warm-up iterations, then measured ones with a full GC before
 * each, medians reported. Needs `--expose-gc`.
 */
import { execFileSync } from "node:child_process";

/** Summary of a series of measurements. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

/** Median, minimum and maximum of `samples`. */
export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples };
}

/** The same measurements in another unit (`f` may reverse the order, as 1/x does). */
export function mapStats(s: Stats, f: (x: number) => number): Stats {
  return stats(s.samples.map(f));
}

function gc(): void {
  const collect = globalThis.gc;
  if (collect === undefined) throw new Error("the benchmarks need node --expose-gc");
  collect();
}

/** Lets pending callbacks, timers and finalizers settle, then collects garbage twice. */
export async function settle(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  gc();
  await new Promise<void>((resolve) => setImmediate(resolve));
  gc();
}

/**
 * Measures two implementations of one scenario, alternating between them (raw,
 * weft, then weft, raw, ...) so that a change in machine load during the
 * measurement affects both alike. Returns `[raw, weft]`.
 */
export async function measurePair(
  label: string,
  unit: string,
  raw: () => Promise<number>,
  weft: () => Promise<number>,
  warmup: number,
  runs: number,
): Promise<[Stats, Stats]> {
  const once = async (iteration: () => Promise<number>): Promise<number> => {
    await settle();
    // An iteration does its work, checks the result (throwing if it is wrong)
    // and returns the measured quantity: its own timing, so that setup and
    // checks stay out of it.
    return iteration();
  };
  for (let i = 0; i < warmup; i++) {
    await once(raw);
    await once(weft);
  }
  const rawSamples: number[] = [];
  const weftSamples: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      rawSamples.push(await once(raw));
      weftSamples.push(await once(weft));
    } else {
      weftSamples.push(await once(weft));
      rawSamples.push(await once(raw));
    }
  }
  const result: [Stats, Stats] = [stats(rawSamples), stats(weftSamples)];
  for (const [name, s] of [
    ["raw", result[0]],
    ["weft", result[1]],
  ] as const) {
    process.stderr.write(
      `  ${`${label} ${name} (${unit})`.padEnd(30)} median ${fmt(s.median)}  min ${fmt(s.min)}  max ${fmt(s.max)}\n`,
    );
  }
  return result;
}

/** Throws when a correctness check fails: a benchmark must not skip work. */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`correctness check failed: ${message}`);
}

/** Three significant-ish digits. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** One line of the results table: one scenario in one unit, raw against weft. */
export interface Row {
  scenario: string;
  unit: string;
  /** True for throughputs (MB/s, round trips/s): the best run is the largest. */
  higherIsBetter: boolean;
  raw: Stats;
  weft: Stats;
  /** weft median / raw median */
  ratio: number;
  goal: string;
  /** null when the row has no goal */
  pass: boolean | null;
}

/** A row; `goal.pass` gets the weft/raw ratio of the medians. */
export function row(
  scenario: string,
  unit: string,
  higherIsBetter: boolean,
  raw: Stats,
  weft: Stats,
  goal: { text: string; pass: (ratio: number) => boolean } | null,
): Row {
  const ratio = weft.median / raw.median;
  return {
    scenario,
    unit,
    higherIsBetter,
    raw,
    weft,
    ratio,
    goal: goal?.text ?? "-",
    pass: goal === null ? null : goal.pass(ratio),
  };
}

/** Prints the rows as an aligned table: medians, best runs, ratio, goal. */
export function printTable(rows: Row[]): void {
  const header = [
    "scenario",
    "unit",
    "raw median",
    "raw best",
    "weft median",
    "weft best",
    "weft/raw",
    "goal",
    "ok",
  ];
  const best = (r: Row, s: Stats) => fmt(r.higherIsBetter ? s.max : s.min);
  const lines = rows.map((r) => [
    r.scenario,
    r.unit,
    fmt(r.raw.median),
    best(r, r.raw),
    fmt(r.weft.median),
    best(r, r.weft),
    `${r.ratio.toFixed(2)}x`,
    r.goal,
    r.pass === null ? "" : r.pass ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const numeric = new Set([2, 3, 4, 5, 6]);
  const format = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  console.log(format(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of lines) console.log(format(line));
}

/** The commit measured, and whether `paths` (relative to bench/) differ from it ("+dirty"). */
export function sourceRevision(paths: string[]): string {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: import.meta.dirname, encoding: "utf8" }).trim();
    const head = git("rev-parse", "--short", "HEAD");
    const dirty = git("status", "--porcelain", "--", ...paths) !== "";
    return `${head}${dirty ? "+dirty" : ""}`;
  } catch {
    return "unknown";
  }
}
