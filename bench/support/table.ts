/**
 * The results table bench/run.ts prints: one row per scenario, the median of
 * each implementation, then weft's ratios against its baseline (raw; p-limit
 * for map-limit), raw-context, its rivals and Fastify, each with whether its
 * goal (support/goals.ts) is met.
 */
import { IMPL_NAMES, type ImplName, type ScenarioName } from "../scenario.ts";
import { baselineOf, GOALS, goalOf, OTHERS, RIVALS } from "./goals.ts";
import type { Summary } from "./stats.ts";

/** One scenario's results, as the JSON file holds them. */
export interface ScenarioResult {
  readonly name: ScenarioName;
  readonly unit: string;
  readonly results: Partial<Record<ImplName, Summary>>;
}

/** A number with three significant digits at most (and no exponent). */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** weft's median over `other`'s, or undefined when either is missing. */
export function ratio(result: ScenarioResult, other: ImplName): number | undefined {
  const weft = result.results.weft?.median;
  const base = result.results[other]?.median;
  if (weft === undefined || base === undefined || base === 0) return undefined;
  return weft / base;
}

function ratioCell(value: number | undefined, goal: number | undefined): string {
  if (value === undefined) return "-";
  const text = `${value.toFixed(2)}x`;
  if (goal === undefined) return text;
  return `${text} ${value <= goal ? "ok" : "MISS"}`;
}

/** Goals missed, as "scenario: weft/impl 1.50x > 1.25x" lines. */
export function missedGoals(results: readonly ScenarioResult[]): string[] {
  const missed: string[] = [];
  for (const result of results) {
    for (const [other, goal] of Object.entries(GOALS[result.name] ?? {})) {
      const value = ratio(result, other as ImplName);
      if (value !== undefined && value > goal) {
        missed.push(`${result.name}: weft/${other} ${value.toFixed(2)}x > ${goal}x`);
      }
    }
  }
  return missed;
}

/** The goals of `results`' scenarios as "scenario: impl N, impl N" items, wrapped into lines. */
function goalLines(results: readonly ScenarioResult[], width: number): string[] {
  const items = results.flatMap((result) => {
    const goals = Object.entries(GOALS[result.name] ?? {});
    if (goals.length === 0) return [];
    return [`${result.name} ${goals.map(([impl, goal]) => `${impl} ${goal}`).join(", ")}`];
  });
  const lines: string[] = [];
  let line = "Goals, weft/impl at most:";
  for (const [i, item] of items.entries()) {
    const text = `${item}${i < items.length - 1 ? ";" : "."}`;
    if (line.length + 1 + text.length > width) {
      lines.push(line);
      line = `  ${text}`;
    } else {
      line += ` ${text}`;
    }
  }
  return [...lines, line];
}

/** The table as lines of text (columns only for implementations that have a result). */
export function formatTable(results: readonly ScenarioResult[]): string[] {
  const impls = IMPL_NAMES.filter((impl) => results.some((r) => r.results[impl] !== undefined));
  // A ratio column against another implementation only when it has a result.
  const ratioImpls: ImplName[] = [
    ...(impls.includes("raw-context") ? (["raw-context"] as const) : []),
    ...RIVALS,
    ...OTHERS.filter((other) => impls.includes(other)),
  ];
  // Ratio headers are "/impl" (weft's median over impl's), to keep the table narrow.
  const header = ["scenario", "unit", ...impls, "/raw*", ...ratioImpls.map((i) => `/${i}`)];
  const rows = results.map((result) => {
    const baseline = baselineOf(result.name);
    return [
      result.name,
      result.unit,
      ...impls.map((impl) => {
        const summary = result.results[impl];
        return summary === undefined ? "-" : formatValue(summary.median);
      }),
      ratioCell(ratio(result, baseline), goalOf(result.name, baseline)),
      ...ratioImpls.map((other) => ratioCell(ratio(result, other), goalOf(result.name, other))),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
    "",
    "Medians per operation (lower is better). /impl: weft's median over impl's (/raw*: over",
    "p-limit's for map-limit); ok/MISS against the goal where there is one.",
    "raw-context: raw async functions, each in its own AsyncLocalStorage context (the floor",
    "of spawn-join, sleep-many and memory-per-task).",
    ...goalLines(results, 92),
    ...formatExtras(results),
  ];
}

/**
 * The medians of the runs' extras (http-hello's latencies), one line per
 * scenario that has any, after a blank line; nothing when none has.
 */
export function formatExtras(results: readonly ScenarioResult[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    const parts = IMPL_NAMES.flatMap((impl) => {
      const extras = result.results[impl]?.extras;
      if (extras === undefined || Object.keys(extras).length === 0) return [];
      const values = Object.entries(extras).map(([name, value]) => `${name} ${formatValue(value)}`);
      return [`${impl} ${values.join(", ")}`];
    });
    if (parts.length > 0) lines.push(`${result.name} (medians of the runs): ${parts.join("; ")}`);
  }
  return lines.length > 0 ? ["", ...lines] : [];
}
