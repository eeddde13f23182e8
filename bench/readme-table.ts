/**
 * Prints the benchmark table of docs/performance.md (markdown) from the checked-in results
 * of the same benchmark on Node 24 and on Node 22:
 *
 *   node readme-table.ts [NODE24.json [NODE22.json]]     (pnpm bench:table at the root)
 *
 * Without arguments: docs/bench/results.json (`pnpm bench --json
 * docs/bench/results.json`) and docs/bench/results-node22.json (`pnpm bench
 * --node 22 --json docs/bench/results-node22.json`); a missing Node 22 file
 * leaves its columns empty. Relative paths are taken from where pnpm was
 * started.
 *
 * One row per scenario: weft on both Nodes, the floor's medians on Node 24
 * (raw, or p-limit for map-limit; raw-context where measured), weft / floor on
 * both Nodes (each against its own Node's floor) with the floor goal, weft
 * against Effection and Effect on Node 24, and which of the scenario's goals
 * (support/goals.ts) the Node 24 run misses.
 */
import { existsSync } from "node:fs";
import type { ImplName } from "./scenario.ts";
import { argumentPath } from "./support/command-line-paths.ts";
import { baselineOf, floorOf, GOALS } from "./support/goals.ts";
import { type Report, readReport } from "./support/report.ts";
import { formatValue, ratio, type ScenarioResult } from "./support/table.ts";

/** Display names of the implementations that appear in the table's text. */
const NAMES: Partial<Record<ImplName, string>> = {
  effection: "Effection",
  effect: "Effect",
  fastify: "Fastify",
};

const nameOf = (impl: ImplName): string => NAMES[impl] ?? impl;

/** A median, compact: "3.75 M", "122 k", "1,256", "83.5". */
function value(median: number | undefined): string {
  if (median === undefined) return "—";
  if (median >= 1e6) return `${(median / 1e6).toPrecision(3)} M`;
  if (median >= 1e5) return `${(median / 1e3).toPrecision(3)} k`;
  return formatValue(median);
}

/** A ratio: "15×", "4.4×", "0.96×". */
function times(ratioValue: number | undefined): string {
  if (ratioValue === undefined) return "—";
  const digits = ratioValue >= 10 ? 0 : ratioValue >= 1 ? 1 : 2;
  return `${ratioValue.toFixed(digits)}×`;
}

/** "✓" when `result` meets all its goals, else "✗" and the missed ones by implementation ("—": no goal). */
function missed(result: ScenarioResult): string {
  const goals = Object.entries(GOALS[result.name] ?? {}) as [ImplName, number][];
  const checked = goals.filter(([impl]) => ratio(result, impl) !== undefined);
  if (checked.length === 0) return "—";
  const misses = checked.filter(([impl, goal]) => ratio(result, impl)! > goal);
  return misses.length === 0 ? "✓" : `✗ ${misses.map(([i]) => nameOf(i)).join(", ")}`;
}

/** The markdown table of `node24` (and `node22`'s weft) as lines. */
export function readmeTable(node24: Report, node22: Report | undefined): string[] {
  const header = [
    "scenario",
    "unit",
    "weft (24)",
    "weft (22)",
    "raw",
    "raw-context",
    "weft / floor (24)",
    "goal",
    "weft / floor (22)",
    "Effection",
    "weft / Effection",
    "Effect",
    "weft / Effect",
    "goals (24)",
  ];
  const rows = node24.scenarios.map((result) => {
    const on22 = node22?.scenarios.find((s) => s.name === result.name);
    const baseline = baselineOf(result.name);
    const floor = floorOf(result.name);
    const goal = GOALS[result.name]?.[floor];
    const baseValue = value(result.results[baseline]?.median);
    return [
      `\`${result.name}\``,
      result.unit,
      value(result.results.weft?.median),
      value(on22?.results.weft?.median),
      baseline === "raw" || baseValue === "—" ? baseValue : `${baseValue} (${baseline})`,
      value(result.results["raw-context"]?.median),
      times(ratio(result, floor)),
      goal === undefined ? "" : `≤ ${goal}× ${floor}`,
      on22 === undefined ? "—" : times(ratio(on22, floor)),
      value(result.results.effection?.median),
      times(ratio(result, "effection")),
      value(result.results.effect?.median),
      times(ratio(result, "effect")),
      missed(result),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // Text columns (scenario, unit, goal, goals) left-aligned, numbers right-aligned.
  const left = new Set([0, 1, 7, 13]);
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (left.has(i) ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`;
  const flags = (report: Report) =>
    report.nodeFlags !== undefined && report.nodeFlags.length > 0
      ? ` with ${report.nodeFlags.join(" ")}`
      : "";
  return [
    line(header),
    rule,
    ...rows.map(line),
    "",
    `Node ${node24.node}${flags(node24)}` +
      (node22 === undefined
        ? " (no Node 22 results)."
        : `; "22": Node ${node22.node}${flags(node22)}.`),
    "Medians per operation, lower is better; raw, raw-context, Effection and Effect on Node 24.",
    "weft / floor: weft's median over the floor's on the same Node — raw-context (raw async",
    "functions, each in its own AsyncLocalStorage context) for spawn-join, sleep-many and",
    "memory-per-task, p-limit for map-limit, raw Node elsewhere. goals (24): every goal of the",
    "scenario on Node 24, the rivals' included (✓ all met, ✗ the missed ones; bench/README.md).",
  ];
}

function main(): void {
  const args = process.argv.slice(2);
  if (args.length > 2) {
    console.error("usage: node readme-table.ts [NODE24.json [NODE22.json]]");
    process.exit(2);
  }
  const file24 = argumentPath(args[0], "docs/bench/results.json");
  const file22 = argumentPath(args[1], "docs/bench/results-node22.json");
  const node22 = existsSync(file22) ? readReport(file22) : undefined;
  if (node22 === undefined) console.error(`(${file22} not found: no Node 22 columns)`);
  console.log(readmeTable(readReport(file24), node22).join("\n"));
}

main();
