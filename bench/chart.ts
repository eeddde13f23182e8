/**
 * Draws the benchmark results as a self-contained SVG (no dependencies):
 *
 *   node chart.ts [RESULTS.json [NODE22.json] OUT.svg]     (pnpm bench:chart at the root)
 *
 * Without arguments: docs/bench/results.json (Node 24) and, when it exists,
 * docs/bench/results-node22.json (Node 22) → docs/bench/bench.svg (the
 * checked-in files, see the README's Performance section); relative paths
 * are taken from where pnpm was started.
 *
 * One group per scenario, one horizontal bar per implementation: its median
 * relative to the scenario's baseline (raw Node; p-limit for map-limit) of the
 * first report, on a log scale so that 0.1x and 1000x both fit, labelled with
 * the median itself and the ratio. With a second report, weft's median on it
 * is one more bar, "weft (Node 22)", relative to the same baseline (so its bar
 * and weft's compare the two Nodes directly). The background is an opaque
 * white rectangle, so the chart reads the same on GitHub's light and dark
 * themes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { IMPL_NAMES, type ImplName } from "./scenario.ts";
import { baselineOf } from "./support/goals.ts";
import type { Summary } from "./support/stats.ts";
import { formatValue, type ScenarioResult } from "./support/table.ts";

/** The part of bench/run.ts's JSON the chart uses. */
interface Report {
  readonly node: string;
  readonly scenarios: readonly ScenarioResult[];
  readonly machine?: { cpu?: string; cores?: number; memoryGiB?: number; platform?: string };
  readonly mode?: string;
  readonly date?: string;
}

/** A bar of a group: an implementation of the first report, or weft of the second. */
type Series = ImplName | typeof WEFT_SECOND;

/** The second report's weft bar (labelled "weft (Node 22)", with the second report's major). */
const WEFT_SECOND = "weft-second";

/** The bars of a group, in order. */
const SERIES: readonly Series[] = ["weft", WEFT_SECOND, ...IMPL_NAMES.filter((i) => i !== "weft")];

/** Colours per series: weft stands out; all dark enough for white text-free bars. */
const COLOURS: Record<Series, string> = {
  weft: "#d9480f",
  [WEFT_SECOND]: "#f59f00",
  raw: "#495057",
  "raw-context": "#0c8599",
  "p-limit": "#868e96",
  effection: "#1c7ed6",
  effect: "#7048e8",
  fastify: "#2b8a3e",
};

const WIDTH = 960;
const LEFT = 110; // implementation names
const RIGHT = 190; // value labels
const BAR = 14;
const GAP = 4;
const GROUP_GAP = 16;
const HEADING = 20;
const TOP = 92;

function xml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function ratioText(ratio: number): string {
  return ratio >= 10
    ? `${ratio.toFixed(0)}x`
    : ratio >= 1
      ? `${ratio.toFixed(1)}x`
      : `${ratio.toFixed(2)}x`;
}

/** Log-scale ticks 1-2-5 per decade covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const result: number[] = [];
  for (let decade = Math.floor(Math.log10(lo)); decade <= Math.ceil(Math.log10(hi)); decade++) {
    for (const step of [1, 2, 5]) {
      const value = step * 10 ** decade;
      if (value >= lo * 0.999 && value <= hi * 1.001) result.push(value);
    }
  }
  return result;
}

/**
 * The SVG text of the chart of `report`, with weft's medians from `second`
 * (the same benchmark on Node 22) as one more bar per scenario when given.
 */
export function renderChart(report: Report, second?: Report): string {
  const secondLabel = `weft (Node ${second?.node.split(".")[0] ?? "?"})`;
  const rows = report.scenarios
    .map((scenario) => {
      const base = scenario.results[baselineOf(scenario.name)]?.median;
      const secondWeft = second?.scenarios.find((s) => s.name === scenario.name)?.results.weft;
      const bars = SERIES.flatMap((impl) => {
        const summary: Summary | undefined =
          impl === WEFT_SECOND ? secondWeft : scenario.results[impl];
        if (summary === undefined || base === undefined || base <= 0) return [];
        const label = impl === WEFT_SECOND ? secondLabel : impl;
        return [{ impl, label, median: summary.median, ratio: summary.median / base }];
      });
      return { scenario, bars };
    })
    .filter((row) => row.bars.length > 0);
  const ratios = rows.flatMap((row) => row.bars.map((bar) => bar.ratio));
  // The axis spans every ratio, from a 1-2-5 value at or below the smallest
  // (at most 0.5x, so the baseline's 1x bar has a visible length).
  const lo = Math.min(0.5, ...ratios) / 1.2;
  const hi = Math.max(2, ...ratios) * 1.1;
  const axisTicks = ticks(lo, hi);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (ratio: number) =>
    LEFT + (plotWidth * (Math.log(ratio) - Math.log(lo))) / (Math.log(hi) - Math.log(lo));

  const parts: string[] = [];
  /** Grid lines behind one group's bars (not across the headings, which they would strike). */
  const grid = (top: number, bottom: number) =>
    axisTicks.map((tick) => {
      const tx = x(tick).toFixed(1);
      return `<line x1="${tx}" y1="${top}" x2="${tx}" y2="${bottom}" class="${tick === 1 ? "one" : "grid"}"/>`;
    });
  let y = TOP;
  for (const { scenario, bars } of rows) {
    const baseline = baselineOf(scenario.name);
    parts.push(
      `<text x="12" y="${y + 14}" class="heading">${xml(scenario.name)}` +
        ` <tspan class="note">${xml(scenario.unit)}, relative to ${xml(baseline)}</tspan></text>`,
    );
    y += HEADING;
    parts.push(...grid(y - 2, y + bars.length * (BAR + GAP) - GAP + 2));
    for (const bar of bars) {
      const end = x(bar.ratio);
      parts.push(
        `<text x="${LEFT - 8}" y="${y + BAR - 3}" class="impl" text-anchor="end">${xml(bar.label)}</text>`,
        `<rect x="${LEFT}" y="${y}" width="${Math.max(1, end - LEFT).toFixed(1)}" height="${BAR}"` +
          ` fill="${COLOURS[bar.impl]}"><title>${xml(
            `${scenario.name} ${bar.label}: ${formatValue(bar.median)} ${scenario.unit} (${ratioText(bar.ratio)} ${baseline})`,
          )}</title></rect>`,
        `<text x="${(end + 6).toFixed(1)}" y="${y + BAR - 3}" class="value">` +
          `${xml(formatValue(bar.median))} · ${xml(ratioText(bar.ratio))}</text>`,
      );
      y += BAR + GAP;
    }
    y += GROUP_GAP;
  }
  const tickLabels = axisTicks.map(
    (tick) =>
      `<text x="${x(tick).toFixed(1)}" y="${TOP - 10}" class="tick" text-anchor="middle">${ratioText(tick)}</text>`,
  );

  const machine = report.machine;
  const subtitle = [
    `Node ${report.node}${second === undefined ? "" : ` (${secondLabel}: ${second.node}, against Node ${report.node}'s baseline)`}`,
    machine?.cpu !== undefined ? `${machine.cpu}, ${machine.cores ?? "?"} cores` : undefined,
    machine?.memoryGiB !== undefined ? `${machine.memoryGiB} GiB` : undefined,
    report.mode !== undefined ? `${report.mode} mode` : undefined,
    report.date?.slice(0, 10),
  ]
    .filter((part) => part !== undefined)
    .join(" · ");
  const legend = SERIES.filter((impl) =>
    rows.some((row) => row.bars.some((b) => b.impl === impl)),
  ).map((impl, i) => {
    const lx = 12 + i * 112;
    return (
      `<rect x="${lx}" y="54" width="12" height="12" fill="${COLOURS[impl]}"/>` +
      `<text x="${lx + 18}" y="64" class="impl">${xml(impl === WEFT_SECOND ? secondLabel : impl)}</text>`
    );
  });
  const height = y - GROUP_GAP + 12;
  // The accessible description: weft's ratio to the baseline per scenario.
  const summaryText = rows
    .map(({ scenario, bars }) => {
      const weft = bars.find((bar) => bar.impl === "weft");
      return weft === undefined ? undefined : `${scenario.name} ${ratioText(weft.ratio)}`;
    })
    .filter((text) => text !== undefined)
    .join(", ");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="chart-title" font-family="-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<title id="chart-title">${xml(`weft benchmarks (${subtitle}): ${summaryText}`)}</title>`,
    "<style>",
    "text { fill: #212529; font-size: 12px; }",
    ".title { font-size: 16px; font-weight: 600; }",
    ".heading { font-weight: 600; }",
    ".note, .tick { fill: #6c757d; font-size: 11px; font-weight: 400; }",
    ".value { font-size: 11px; }",
    ".grid { stroke: #dee2e6; stroke-width: 1; }",
    ".one { stroke: #212529; stroke-width: 1; stroke-dasharray: 3 3; }",
    "</style>",
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" class="title">weft benchmarks: median per operation relative to the baseline (log scale, lower is better)</text>`,
    `<text x="12" y="42" class="note">${xml(subtitle)}</text>`,
    ...legend,
    ...tickLabels,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

/** The checked-in results and chart, relative to the repository root. */
const DEFAULT_INPUT = "docs/bench/results.json";
const DEFAULT_SECOND = "docs/bench/results-node22.json";
const DEFAULT_OUTPUT = "docs/bench/bench.svg";

function readReport(file: string): Report {
  const report = JSON.parse(readFileSync(file, "utf8")) as Report;
  if (!Array.isArray(report.scenarios)) throw new Error(`${file}: no "scenarios" array`);
  return report;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args.length === 1 || args.length > 3) {
    console.error("usage: node chart.ts [RESULTS.json [NODE22.json] OUT.svg]");
    process.exit(2);
  }
  const root = path.resolve(import.meta.dirname, "..");
  // Run through pnpm, the script's cwd is bench/; paths are meant from where pnpm was started.
  const base = args.length === 0 ? root : (process.env.INIT_CWD ?? process.cwd());
  const input = path.resolve(base, args[0] ?? DEFAULT_INPUT);
  const secondInput =
    args.length === 3
      ? path.resolve(base, args[1]!)
      : args.length === 0 && existsSync(path.resolve(root, DEFAULT_SECOND))
        ? path.resolve(root, DEFAULT_SECOND)
        : undefined;
  const output = path.resolve(base, args.at(-1) ?? DEFAULT_OUTPUT);
  const report = readReport(input);
  const second = secondInput === undefined ? undefined : readReport(secondInput);
  mkdirSync(path.dirname(output), { recursive: true });
  writeFileSync(output, renderChart(report, second));
  console.log(`wrote ${output}${second === undefined ? "" : ` (with ${secondInput})`}`);
}

main();
