/**
 * Draws the benchmark results as an SVG chart, with Observable Plot rendered
 * on linkedom's document (as @weft/trace draws its timeline):
 *
 *   node chart.ts [RESULTS.json [NODE22.json] OUT.svg]     (pnpm bench:chart at the root)
 *
 * Without arguments: docs/bench/results.json (Node 24) and, when it exists,
 * docs/bench/results-node22.json (Node 22) → docs/bench/bench.svg (the
 * checked-in files, see docs/performance.md); relative paths
 * are taken from where pnpm was started.
 *
 * One group per scenario, one horizontal bar per implementation: its median
 * relative to the scenario's floor ({@link floorOf}: raw Node, raw-context or
 * p-limit; raw Node or p-limit, {@link baselineOf}, when the report has no
 * result for the floor) of the first report, on a log scale so that 0.1x and
 * 1000x both fit, labelled with the median itself and the ratio. With a second
 * report, weft's median on it is one more bar, "weft (Node 22)", relative to
 * the same floor (so its bar and weft's compare the two Nodes directly). The
 * colours are Okabe–Ito's; the background is an opaque white rectangle, so the
 * chart reads the same on GitHub's light and dark themes.
 *
 * The groups are rows of one band scale (a heading row, then a row per bar)
 * rather than Plot facets: facets share the y scale, so every group would
 * keep an empty row for each implementation it lacks.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as Plot from "@observablehq/plot";
import { IMPL_NAMES, type ImplName, type ScenarioName } from "./scenario.ts";
import { argumentPath, invocationPath, repositoryPath } from "./support/command-line-paths.ts";
import { baselineOf, floorOf } from "./support/goals.ts";
import { type Report, readReport } from "./support/report.ts";
import type { Summary } from "./support/stats.ts";
import { SVG_NS, svgDocument } from "./support/svg-document.ts";
import { formatValue, type ScenarioResult } from "./support/table.ts";

/** A bar of a group: an implementation of the first report, or weft of the second. */
type Series = ImplName | typeof WEFT_SECOND;

/** The second report's weft bar (labelled "weft (Node 22)", with the second report's major). */
const WEFT_SECOND = "weft-second";

/** The bars of a group, in order. */
const SERIES: readonly Series[] = ["weft", WEFT_SECOND, ...IMPL_NAMES.filter((i) => i !== "weft")];

/**
 * Colours per series, from the Okabe–Ito palette (distinguishable with the
 * common colour-vision deficiencies): weft vermillion, weft on Node 22 orange,
 * the raw floors black and sky blue.
 */
const COLOURS: Record<Series, string> = {
  weft: "#D55E00",
  [WEFT_SECOND]: "#E69F00",
  raw: "#000000",
  "raw-context": "#56B4E9",
  "p-limit": "#F0E442",
  effection: "#0072B2",
  effect: "#CC79A7",
  fastify: "#009E73",
};

const TEXT = "#1f2937";
const MUTED = "#4b5563";
const GRID = "#e5e7eb";
const WIDTH = 900;
const ROW = 18; // a bar's row, a heading's, and the gap between groups
const MARGIN_LEFT = 112; // implementation names
const MARGIN_RIGHT = 124; // value labels past the longest bar
/** The class of the headings' mark, whose texts get their notes after the plot is drawn. */
const HEADING_CLASS = "chart-heading";

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

/** A bar: one series' median on one scenario, relative to the scenario's floor. */
interface Bar {
  /** Its row of the y scale. */
  readonly key: string;
  readonly scenario: ScenarioName;
  readonly series: Series;
  readonly label: string;
  readonly median: number;
  readonly ratio: number;
  /** Shown on hover. */
  readonly title: string;
}

/** A group's heading row: the scenario's name, then its unit and floor. */
interface Heading {
  readonly key: string;
  readonly name: ScenarioName;
  readonly note: string;
}

/** The implementation a scenario's bars are relative to: its floor, else its baseline. */
function floorIn(scenario: ScenarioResult): ImplName | undefined {
  const floor = floorOf(scenario.name);
  if (scenario.results[floor] !== undefined) return floor;
  const baseline = baselineOf(scenario.name);
  return scenario.results[baseline] === undefined ? undefined : baseline;
}

/**
 * The SVG text of the chart of `report`, with weft's medians from `second`
 * (the same benchmark on Node 22) as one more bar per scenario when given.
 */
export function renderChart(report: Report, second?: Report): string {
  const secondLabel = `weft (Node ${second?.node.split(".")[0] ?? "?"})`;
  const labelOf = (series: Series) => (series === WEFT_SECOND ? secondLabel : series);
  const groups = report.scenarios.flatMap((scenario) => {
    const floor = floorIn(scenario);
    const base = floor === undefined ? undefined : scenario.results[floor]?.median;
    if (floor === undefined || base === undefined || !(base > 0)) return [];
    const secondWeft = second?.scenarios.find((s) => s.name === scenario.name)?.results.weft;
    const bars = SERIES.flatMap((series): Bar[] => {
      const summary: Summary | undefined =
        series === WEFT_SECOND ? secondWeft : scenario.results[series];
      if (summary === undefined) return [];
      const ratio = summary.median / base;
      const label = labelOf(series);
      return [
        {
          key: `${scenario.name}/${series}`,
          scenario: scenario.name,
          series,
          label,
          median: summary.median,
          ratio,
          title:
            `${scenario.name} ${label}: ${formatValue(summary.median)} ${scenario.unit}` +
            ` (${ratioText(ratio)} ${floor})`,
        },
      ];
    });
    const missing =
      floor === floorOf(scenario.name) ? "" : ` (no ${floorOf(scenario.name)} result)`;
    const heading: Heading = {
      key: `${scenario.name}/`,
      name: scenario.name,
      note: `${scenario.unit}, relative to ${floor}${missing}`,
    };
    return [{ heading, bars }];
  });
  const headings = groups.map((group) => group.heading);
  const bars = groups.flatMap((group) => group.bars);
  const rows = groups.flatMap((group, i) => [
    ...(i === 0 ? [] : [`${group.heading.key}gap`]),
    group.heading.key,
    ...group.bars.map((bar) => bar.key),
  ]);

  // The axis spans every ratio, from a 1-2-5 value at or below the smallest
  // (at most 0.5x, so the floor's 1x bar has a visible length).
  const ratios = bars.map((bar) => bar.ratio);
  const lo = Math.min(0.5, ...ratios) / 1.2;
  const hi = Math.max(2, ...ratios) * 1.1;
  const axisTicks = ticks(lo, hi);
  // Grid lines per bar row, so that they stop at the headings instead of striking them.
  const grid = bars.flatMap((bar) => axisTicks.map((tick) => ({ key: bar.key, tick })));

  const marginTop = 30;
  const marginBottom = 30;
  const plotHeight = rows.length * ROW + marginTop + marginBottom;
  const { plot: drawPlot, element } = svgDocument();
  const plot = drawPlot({
    width: WIDTH,
    height: plotHeight,
    marginLeft: MARGIN_LEFT,
    marginRight: MARGIN_RIGHT,
    marginTop,
    marginBottom,
    ariaLabel: "per scenario, a bar per implementation: its median relative to the floor",
    style: { background: "#ffffff", color: TEXT, fontSize: "11px" },
    x: {
      type: "log",
      domain: [lo, hi],
      axis: null,
    },
    y: { domain: rows, axis: null, padding: 0 },
    color: { domain: [...SERIES], range: SERIES.map((series) => COLOURS[series]) },
    marks: [
      Plot.tickX(
        grid.filter((line) => line.tick !== 1),
        { x: "tick", y: "key", stroke: GRID },
      ),
      Plot.tickX(
        grid.filter((line) => line.tick === 1),
        { x: "tick", y: "key", stroke: TEXT, strokeDasharray: "3,3" },
      ),
      Plot.barX(bars, {
        x1: () => lo,
        x2: "ratio",
        y: "key",
        fill: "series",
        stroke: (bar: Bar) => (bar.series === "p-limit" ? "#8a7d00" : "none"),
        insetTop: 2,
        insetBottom: 2,
        title: "title",
      }),
      Plot.text(bars, {
        y: "key",
        text: "label",
        frameAnchor: "left",
        textAnchor: "end",
        dx: -8,
        fill: TEXT,
        fontSize: 12,
      }),
      Plot.text(bars, {
        x: "ratio",
        y: "key",
        text: (bar: Bar) => `${formatValue(bar.median)} · ${ratioText(bar.ratio)}`,
        textAnchor: "start",
        dx: 5,
        fill: TEXT,
        // A white halo, so that the label reads where it crosses the 1x line.
        stroke: "#ffffff",
        strokeWidth: 3,
      }),
      Plot.text(headings, {
        y: "key",
        text: "name",
        frameAnchor: "left",
        textAnchor: "start",
        dx: -MARGIN_LEFT + 12,
        dy: 3,
        fill: TEXT,
        fontSize: 12,
        fontWeight: "bold",
        className: HEADING_CLASS,
      }),
      // The axis, above and below: the 1-2-5 ticks (Plot's log axis would label only some).
      ...(["top", "bottom"] as const).map((anchor) =>
        Plot.text(axisTicks, {
          x: (tick: number) => tick,
          text: ratioText,
          frameAnchor: anchor,
          dy: anchor === "top" ? -10 : 12,
          fill: MUTED,
        }),
      ),
    ],
  });
  // The picture's parts outside Plot's marks are built with `element`, on the same document.
  // Each heading's note follows its name in the same line of text, in a lighter style
  // (Plot's text mark has one style per mark).
  const headingTexts = [...plot.querySelectorAll(`g.${HEADING_CLASS} text`)];
  if (headingTexts.length !== headings.length) {
    throw new Error(`${headingTexts.length} heading texts drawn for ${headings.length} scenarios`);
  }
  headingTexts.forEach((text, i) => {
    const attributes = { dx: 6, "font-weight": "normal", "font-size": 11, fill: MUTED };
    text.append(element("tspan", attributes, headings[i]!.note));
  });
  for (const g of plot.querySelectorAll(`g.${HEADING_CLASS}`)) g.removeAttribute("class");

  const machine = report.machine;
  const nodes = `Node ${report.node}${second === undefined ? "" : ` (${secondLabel}: ${second.node}, against Node ${report.node}'s floor)`}`;
  const setup = [
    machine?.cpu !== undefined ? `${machine.cpu}, ${machine.cores ?? "?"} cores` : undefined,
    machine?.memoryGiB !== undefined ? `${machine.memoryGiB} GiB` : undefined,
    report.mode !== undefined ? `${report.mode} mode` : undefined,
    report.date?.slice(0, 10),
  ]
    .filter((part) => part !== undefined)
    .join(" · ");
  const subtitle = setup === "" ? nodes : `${nodes} · ${setup}`;
  // One line of subtitle if it fits (about 6.5px a character), else the Nodes and the machine.
  const subtitleLines = subtitle.length * 6.5 <= WIDTH - 24 ? [subtitle] : [nodes, setup];
  // The accessible description: weft's ratio to the floor per scenario.
  const summaryText = bars
    .filter((bar) => bar.series === "weft")
    .map((bar) => `${bar.scenario} ${ratioText(bar.ratio)}`)
    .join(", ");

  const legend = element("g", { "aria-hidden": "true" });
  let lx = 12;
  let ly = 58 + (subtitleLines.length - 1) * 16;
  for (const series of SERIES.filter((s) => bars.some((bar) => bar.series === s))) {
    const label = labelOf(series);
    const itemWidth = 18 + label.length * 7 + 22;
    if (lx > 12 && lx + itemWidth > WIDTH - 12) {
      lx = 12;
      ly += 20;
    }
    legend.append(
      element("rect", {
        x: lx,
        y: ly - 10,
        width: 12,
        height: 12,
        fill: COLOURS[series],
        ...(series === "p-limit" ? { stroke: "#8a7d00" } : {}),
      }),
      element("text", { x: lx + 18, y: ly, "font-size": 12, fill: TEXT }, label),
    );
    lx += itemWidth;
  }
  const top = ly + 8;
  plot.setAttribute("x", "0");
  plot.setAttribute("y", String(top));
  const height = top + plotHeight;
  const svg = element("svg", {
    xmlns: SVG_NS,
    width: WIDTH,
    height,
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "img",
    "aria-labelledby": "chart-title",
    "font-family": "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif",
  });
  svg.append(
    element("title", { id: "chart-title" }, `weft benchmarks (${subtitle}): ${summaryText}`),
    element("rect", { x: 0, y: 0, width: WIDTH, height, fill: "#ffffff" }),
    element(
      "text",
      { x: 12, y: 22, "font-size": 16, "font-weight": "bold", fill: TEXT },
      "weft benchmarks: median per operation relative to the floor (log scale, lower is better)",
    ),
    ...subtitleLines.map((line, i) =>
      element("text", { x: 12, y: 40 + i * 16, "font-size": 12, fill: MUTED }, line),
    ),
    legend,
    plot,
  );
  return `${svg.outerHTML}\n`;
}

/** The checked-in results and chart, relative to the repository root. */
const DEFAULT_INPUT = "docs/bench/results.json";
const DEFAULT_SECOND = "docs/bench/results-node22.json";
const DEFAULT_OUTPUT = "docs/bench/bench.svg";

function main(): void {
  const args = process.argv.slice(2);
  if (args.length === 1 || args.length > 3) {
    console.error("usage: node chart.ts [RESULTS.json [NODE22.json] OUT.svg]");
    process.exit(2);
  }
  const input = argumentPath(args[0], DEFAULT_INPUT);
  const secondInput =
    args.length === 3
      ? invocationPath(args[1]!)
      : args.length === 0 && existsSync(repositoryPath(DEFAULT_SECOND))
        ? repositoryPath(DEFAULT_SECOND)
        : undefined;
  const output = argumentPath(args.at(-1), DEFAULT_OUTPUT);
  const report = readReport(input);
  const second = secondInput === undefined ? undefined : readReport(secondInput);
  mkdirSync(path.dirname(output), { recursive: true });
  writeFileSync(output, renderChart(report, second));
  console.log(`wrote ${output}${second === undefined ? "" : ` (with ${secondInput})`}`);
}

main();
