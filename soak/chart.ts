/**
 * The soak run's chart: one panel per series the server sampled (heap and
 * ArrayBuffers after GC, RSS, descriptors, tasks, event-loop delay) and one of
 * the load it took (requests and connections per second), over the seconds
 * of the run, with the warm-up and the drain shaded and the trend test's two
 * medians drawn — so that the verdict written above each panel can be checked
 * by eye. Drawn with Observable Plot on linkedom (@weft/bench/svg-document, as
 * the benchmark chart).
 *
 *   node chart.ts [REPORT.json [OUT.svg]]    (default docs/soak/soak.json → docs/soak/soak.svg)
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as Plot from "@observablehq/plot";
import { argumentPath, invocationPath } from "@weft/bench/command-line-paths";
import { type DomNode, SVG_NS, svgDocument } from "@weft/bench/svg-document";
import { SERIES } from "./analysis/series.ts";
import type { SoakReport, StampedSample } from "./report.ts";

const WIDTH = 900;
const PANEL_HEIGHT = 130;
const PANEL_GAP = 26;
const TEXT = "#1f2937";
const MUTED = "#4b5563";
/** Okabe–Ito: the series blue, the load's two lines vermillion and bluish green. */
const LINE = "#0072B2";
const REQUESTS = "#D55E00";
const CONNECTIONS = "#009E73";
const SHADE = "#f3f4f6";
const MEDIAN = "#6b7280";
const GROWING = "#b91c1c";

interface PanelInput {
  readonly title: string;
  readonly note: string;
  readonly noteColour: string;
  readonly marks: Plot.Markish[];
  readonly xAxis: boolean;
}

export function renderSoakChart(report: SoakReport): string {
  const doc = svgDocument();
  const samples = report.samples;
  const xMax = Math.max(report.duration, ...samples.map((s) => s.at));
  const shaded = [
    { x1: 0, x2: Math.min(report.warmup, xMax), label: "warm-up" },
    { x1: report.duration, x2: xMax, label: "drain" },
  ].filter((r) => r.x2 > r.x1);
  const background: Plot.Markish[] = [
    Plot.rect(shaded, { x1: "x1", x2: "x2", fill: SHADE }),
    Plot.text(shaded, {
      x: (r: { x1: number; x2: number }) => (r.x1 + r.x2) / 2,
      text: "label",
      // At the bottom: the series start at zero and mostly run high in their panel.
      frameAnchor: "bottom",
      dy: -4,
      fill: MUTED,
      fontSize: 10,
    }),
  ];

  const panels: PanelInput[] = SERIES.map((series) => {
    const verdict = report.verdicts[series.key];
    const points = samples.map((s) => ({ t: s.at, v: series.value(s) }));
    const medians: Plot.Markish[] = [];
    if (verdict !== undefined && !verdict.tooShort) {
      const third = (verdict.to - verdict.from) / 3;
      const segments = [
        { x1: verdict.from, x2: verdict.from + third, y: verdict.firstMedian },
        { x1: verdict.to - third, x2: verdict.to, y: verdict.lastMedian },
      ];
      medians.push(
        Plot.ruleY(segments, {
          x1: "x1",
          x2: "x2",
          y: "y",
          stroke: MEDIAN,
          strokeWidth: 2,
          strokeDasharray: "5,3",
        }),
      );
    }
    const unit = series.unit === "" ? "" : ` (${series.unit})`;
    return {
      title: `${series.label}${unit}`,
      note: verdict === undefined ? "" : verdict.reason,
      noteColour: verdict?.growing === true ? GROWING : MUTED,
      marks: [
        ...background,
        Plot.lineY(points, { x: "t", y: "v", stroke: LINE, strokeWidth: 1.2 }),
        ...medians,
      ],
      xAxis: false,
    };
  });

  // The load: per-second rates from the cumulative counters.
  const rates = samples.slice(1).flatMap((s, i) => {
    const previous: StampedSample = samples[i]!;
    const dt = s.at - previous.at;
    if (!(dt > 0)) return [];
    return [
      { t: s.at, v: (s.requests - previous.requests) / dt, what: "requests/s" },
      { t: s.at, v: (s.connections - previous.connections) / dt, what: "connections/s" },
    ];
  });
  panels.push({
    title: "load: requests/s (vermillion) and connections accepted/s (green)",
    note: "",
    noteColour: MUTED,
    marks: [
      ...background,
      Plot.lineY(rates, {
        x: "t",
        y: "v",
        z: "what",
        stroke: (r: { what: string }) => (r.what === "requests/s" ? REQUESTS : CONNECTIONS),
        strokeWidth: 1.2,
      }),
    ],
    xAxis: true,
  });

  const drawn: DomNode[] = [];
  let y = 0;
  const header = 74;
  for (const panel of panels) {
    const height = PANEL_HEIGHT + (panel.xAxis ? 30 : 0);
    const plot = doc.plot({
      ariaLabel: panel.title,
      width: WIDTH,
      height,
      marginLeft: 64,
      marginRight: 24,
      marginTop: 8,
      marginBottom: panel.xAxis ? 38 : 8,
      style: { background: "#ffffff", color: TEXT, fontSize: "11px" },
      x: {
        domain: [0, xMax],
        grid: true,
        ...(panel.xAxis ? { label: "seconds since the load began" } : { axis: null }),
      },
      y: { grid: true, nice: true, zero: true, label: null, ticks: 4 },
      marks: panel.marks,
    });
    const top = header + y + 18;
    drawn.push(
      doc.element(
        "text",
        { x: 12, y: top - 6, "font-size": 12, "font-weight": "bold", fill: TEXT },
        panel.title,
      ),
    );
    if (panel.note !== "") {
      drawn.push(
        doc.element(
          "text",
          {
            x: WIDTH - 12,
            y: top - 6,
            "font-size": 10.5,
            "text-anchor": "end",
            fill: panel.noteColour,
          },
          panel.note,
        ),
      );
    }
    plot.setAttribute("x", "0");
    plot.setAttribute("y", String(top));
    drawn.push(plot);
    y += height + PANEL_GAP;
  }

  const height = header + y;
  const passed = report.problems.length === 0;
  const svg = doc.element("svg", {
    xmlns: SVG_NS,
    width: WIDTH,
    height,
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "img",
    "aria-labelledby": "soak-title",
    "font-family": "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif",
  });
  const minutes =
    report.duration >= 120 ? `${(report.duration / 60).toFixed(0)} min` : `${report.duration} s`;
  const subtitle = [
    `Node ${report.node}`,
    `seed ${report.seed}`,
    report.date.slice(0, 16).replace("T", " "),
    passed ? "passed" : `FAILED: ${report.problems.length} problem(s)`,
  ].join(" · ");
  svg.append(
    doc.element("title", { id: "soak-title" }, `weft soak run (${minutes}): ${report.summary}`),
    doc.element("rect", { x: 0, y: 0, width: WIDTH, height, fill: "#ffffff" }),
    doc.element(
      "text",
      { x: 12, y: 22, "font-size": 16, "font-weight": "bold", fill: TEXT },
      `weft soak run: serveHttp and serveTcp under ${minutes} of mixed, misbehaving load`,
    ),
    doc.element(
      "text",
      { x: 12, y: 40, "font-size": 12, fill: passed ? MUTED : GROWING },
      subtitle,
    ),
    doc.element(
      "text",
      { x: 12, y: 56, "font-size": 11, fill: MUTED },
      "Sampled every second in the server's process. Dashed: the medians of the first and last third after the warm-up, which the trend test compares.",
    ),
    ...drawn,
  );
  return `${svg.outerHTML}\n`;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args.length > 2) {
    console.error("usage: node chart.ts [REPORT.json [OUT.svg]]");
    process.exit(2);
  }
  const input = argumentPath(args[0], "docs/soak/soak.json");
  const output = args[1] === undefined ? input.replace(/\.json$/, ".svg") : invocationPath(args[1]);
  const report = JSON.parse(readFileSync(input, "utf8")) as SoakReport;
  writeFileSync(output, renderSoakChart(report));
  console.log(`wrote ${output}`);
}

if (import.meta.main) main();
