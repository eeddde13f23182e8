import * as Plot from "@observablehq/plot";
import {
  checkCount,
  checkOptionsObject,
  describeValue,
  isArray,
  isRevokedProxy,
} from "@weft/core/validate";
import { parseHTML } from "linkedom";
import type { TraceFile } from "../trace-format.ts";
import { escapeMarkup } from "./escape-markup.ts";
import { formatMs } from "./format-ms.ts";
import { type TimelineBar, timelineBars } from "./timeline-bars.ts";
import { type LegendEntry, timelineLegend } from "./timeline-legend.ts";
import {
  buildTimelineModel,
  type TimelineCancel,
  type TimelineFlow,
  type TimelineModel,
  type TimelineSlice,
  type TimelineTask,
} from "./timeline-model.ts";
import { timelinePalette as palette } from "./timeline-palette.ts";

/** Options of {@link renderTimelineSvg} and `renderTimelineHtml`. */
export interface TimelineOptions {
  /** The picture's title (default "weft trace timeline"). */
  readonly title?: string;
  /** A line under the title, before the counts (for example the file name). */
  readonly subtitle?: string;
  /** Width in pixels (default 1100, at least 480). */
  readonly width?: number;
  /** Height of a task's row in pixels (default 22, at least 12). */
  readonly rowHeight?: number;
  /** Rows drawn at most; further tasks are left out and counted (default 80). */
  readonly maxTasks?: number;
  /** Step and wait bars drawn at most, about; beyond, short ones are merged (default 4000). */
  readonly maxBars?: number;
  /** Spawn and wake arrows drawn at most; beyond, none are drawn (default 400; 0 = no arrows). */
  readonly maxFlows?: number;
}

/** What a rendered timeline shows, alongside its SVG. */
export interface TimelineSummary {
  /** Tasks in the trace. */
  readonly tasks: number;
  /** Task rows drawn (at most `maxTasks`). */
  readonly rows: number;
  /** Nurseries in the trace. */
  readonly nurseries: number;
  /** From the first to the last event, in ms. */
  readonly durationMs: number;
  /** Events the recorder dropped. */
  readonly dropped: number;
  /** Short slices merged into shared bars (0 if none). */
  readonly merged: number;
  /** Notes about what was left out or merged, also written in the picture. */
  readonly notes: readonly string[];
}

/** An SVG timeline and its summary. */
export interface RenderedTimeline {
  /** The timeline: an SVG document. */
  readonly svg: string;
  /** What it shows, in numbers. */
  readonly summary: TimelineSummary;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const LABEL_FONT_PX = 11;
const CHAR_PX = 6.4;
const MAX_LABEL_CHARS = 44;

const truncate = (text: string, chars: number): string =>
  text.length <= chars ? text : chars <= 1 ? "…" : `${text.slice(0, chars - 1)}…`;

const clockLine = (clock: number | undefined): string =>
  clock === undefined ? "" : `\nclock ${formatMs(clock)} (the run's clock)`;

const spanLine = (start: number, end: number): string =>
  `start ${formatMs(start)}, duration ${formatMs(end - start)}`;

function barTitle(bar: TimelineBar): string {
  if (bar.count > 1) {
    return (
      `${bar.task}\n${bar.count} short slices merged: running ${formatMs(bar.runningMs)}, ` +
      `blocked ${formatMs(bar.blockedMs)}\n${spanLine(bar.start, bar.end)}${clockLine(bar.clock)}`
    );
  }
  const what = bar.kind === "step" ? "running" : `waiting for ${bar.name}`;
  return `${bar.task}\n${what}\n${spanLine(bar.start, bar.end)}${clockLine(bar.clock)}`;
}

function scopeTitle(scope: TimelineSlice): string {
  let deadline = "";
  if (scope.deadline !== undefined) {
    deadline = `, deadline at clock ${formatMs(scope.deadline)}`;
    if (scope.clock !== undefined)
      deadline += ` (${formatMs(scope.deadline - scope.clock)} after entry)`;
  }
  return `${scope.task}\n${scope.name}${deadline}\n${spanLine(scope.start, scope.end)}${clockLine(scope.clock)}`;
}

function cancelTitle(cancel: TimelineCancel): string {
  const source = cancel.source === "" ? "" : ` (source: ${cancel.source})`;
  return `${cancel.task}\ncancelled: ${cancel.reason}${source}\nat ${formatMs(cancel.at)}${clockLine(cancel.clock)}`;
}

function rowTitle(task: TimelineTask): string {
  return (
    `${task.label}\nin ${task.nursery}\nrunning ${formatMs(task.runningMs)} in ${task.steps} ` +
    `step${task.steps === 1 ? "" : "s"}, blocked ${formatMs(task.blockedMs)} in ${task.waits} ` +
    `wait${task.waits === 1 ? "" : "s"}`
  );
}

interface Row {
  readonly key: string;
  readonly label: string;
  readonly kind: "task" | "nursery" | "more";
  readonly title: string;
}

/** The rows to draw, in tree order: each nursery's header, then its tasks; at most `maxTasks` tasks. */
function layoutRows(model: TimelineModel, maxTasks: number): { rows: Row[]; shown: number } {
  const rows: Row[] = [];
  let shown = 0;
  for (const nursery of model.nurseries) {
    if (shown >= maxTasks) break;
    rows.push({
      key: `n:${nursery.pid}`,
      label: nursery.label,
      kind: "nursery",
      title: `${nursery.label}: ${nursery.tasks.length} task${nursery.tasks.length === 1 ? "" : "s"}`,
    });
    for (const task of nursery.tasks) {
      if (shown >= maxTasks) break;
      rows.push({ key: task.key, label: task.label, kind: "task", title: rowTitle(task) });
      shown++;
    }
  }
  const hidden = model.tasks.size - shown;
  if (hidden > 0) {
    rows.push({
      key: "more",
      label: `… ${hidden} more task${hidden === 1 ? "" : "s"} not shown`,
      kind: "more",
      title: `${hidden} tasks are not drawn (maxTasks = ${maxTasks})`,
    });
  }
  return { rows, shown };
}

/**
 * Renders a trace file as a timeline: a self-contained SVG document (white
 * background, title, counts, legend), drawn with Observable Plot on
 * linkedom's document. One row per task, grouped under a header row per
 * nursery, in tree order; x is time in ms since the recording began. Steps
 * are full bars, waits thinner lighter bars labelled with what they wait for,
 * cancellations crosses, cancel scopes outlines (solid and coloured when they
 * have a deadline), spawns and wake-ups arrows. Every mark has a `<title>`
 * (task, what, start, duration, the run's clock), which browsers show on
 * hover. Size is bounded: rows beyond `maxTasks` are left out and short
 * slices merged beyond `maxBars`, and the picture says so.
 */
export function renderTimelineSvg(trace: TraceFile, options: TimelineOptions = {}): string {
  return renderTimeline(trace, options).svg;
}

/**
 * `text` with what XML 1.0 cannot hold (control characters other than tab,
 * newline and return — a task may be named anything — and lone surrogates)
 * replaced by U+FFFD, so that the SVG parses as a file of its own.
 */
function asXmlText(text: string): string {
  const wellFormed = text.toWellFormed();
  let out = "";
  let from = 0;
  for (let i = 0; i < wellFormed.length; i++) {
    const code = wellFormed.charCodeAt(i);
    const allowed =
      code >= 0x20
        ? code !== 0xfffe && code !== 0xffff
        : code === 0x09 || code === 0x0a || code === 0x0d;
    if (allowed) continue;
    out += `${wellFormed.slice(from, i)}\uFFFD`;
    from = i + 1;
  }
  return from === 0 ? wellFormed : out + wellFormed.slice(from);
}

/** The widest picture drawn, in pixels: wider ones would take gigabytes to build. */
export const MAX_WIDTH = 20_000;
/** The most task rows a picture has. */
export const MAX_ROWS = 2_000;

/** An integer option in [min, max] (a `TypeError`/`RangeError` naming it otherwise). */
function inRange(name: string, value: unknown, min: number, max: number): number {
  checkCount(name, value, { min });
  if (value > max) throw new RangeError(`${name} must be at most ${max}, got ${value}`);
  return value;
}

/** {@link renderTimelineSvg}, with a summary of what was drawn. */
export function renderTimeline(trace: TraceFile, options: TimelineOptions = {}): RenderedTimeline {
  checkTraceFile(trace);
  checkOptionsObject("options", options);
  const width = inRange("options.width", options.width ?? 1100, 480, MAX_WIDTH);
  const rowHeight = inRange("options.rowHeight", options.rowHeight ?? 22, 12, 200);
  const maxTasks = inRange("options.maxTasks", options.maxTasks ?? 80, 1, MAX_ROWS);
  const maxBars = inRange("options.maxBars", options.maxBars ?? 4000, 1, 1_000_000);
  const maxFlows = inRange("options.maxFlows", options.maxFlows ?? 400, 0, 100_000);
  const model = buildTimelineModel(trace);

  const { rows, shown } = layoutRows(model, maxTasks);
  const shownRows = new Set(rows.filter((row) => row.kind === "task").map((row) => row.key));
  const longest = Math.max(
    10,
    ...rows.map(
      (row) => Math.min(row.label.length, MAX_LABEL_CHARS) + (row.kind === "task" ? 0 : -12),
    ),
  );
  const marginLeft = Math.min(340, Math.max(140, Math.round(longest * CHAR_PX + 24)));
  const marginRight = 24;
  const frameWidth = width - marginLeft - marginRight;
  const x0 = model.start;
  const x1 = model.end > model.start ? model.end : model.start + 1;
  const msPerPx = (x1 - x0) / frameWidth;

  const slices = model.slices.filter((slice) => shownRows.has(slice.row));
  const { bars, merged } = timelineBars(slices, maxBars, msPerPx);
  const scopes = slices.filter((slice) => slice.kind === "scope");
  const cancels = model.cancels.filter((cancel) => shownRows.has(cancel.row));
  const allFlows = model.flows.filter(
    (flow) => shownRows.has(flow.from) && shownRows.has(flow.to) && flow.from !== flow.to,
  );
  const flows: TimelineFlow[] = allFlows.length <= maxFlows ? allFlows : [];

  const notes: string[] = [];
  if (shown < model.tasks.size) {
    notes.push(`Showing the first ${shown} of ${model.tasks.size} tasks (in tree order).`);
  }
  if (merged > 0) {
    notes.push(
      `${merged} short steps and waits are merged into shared bars (more than ${maxBars} slices).`,
    );
  }
  if (allFlows.length > flows.length) {
    notes.push(`${allFlows.length} spawn and wake arrows are not drawn (more than ${maxFlows}).`);
  }
  if (model.dropped > 0) {
    notes.push(
      `The recorder dropped the ${model.dropped} oldest events: the start of the run is missing.`,
    );
  }

  const bandInner = rowHeight * 0.92;
  const stepInset = Math.max(1, bandInner * 0.16);
  const waitInset = Math.max(2, bandInner * 0.32);
  const minWidthMs = msPerPx; // zero-length slices are drawn one pixel wide
  const widen = (bar: { start: number; end: number }): number =>
    Math.max(bar.end, bar.start + minWidthMs);
  const single = bars.filter((bar) => bar.count === 1);
  const steps = single.filter((bar) => bar.kind === "step");
  const waits = single.filter((bar) => bar.kind === "wait");
  const mergedBars = bars.filter((bar) => bar.count > 1);
  const waitLabels = waits
    .map((bar) => ({ bar, chars: Math.floor(((bar.end - bar.start) / msPerPx - 6) / 5.2) }))
    .filter(({ chars }) => chars >= 4)
    .map(({ bar, chars }) => ({ ...bar, text: truncate(bar.name, chars) }));

  const taskRows = rows.filter((row) => row.kind === "task");
  const headerRows = rows.filter((row) => row.kind !== "task");
  const axisBoth = rows.length > 16;
  const marginTop = axisBoth ? 30 : 8;
  const marginBottom = 36;
  const plotHeight = rows.length * rowHeight + marginTop + marginBottom;

  const marks: Plot.Markish[] = [
    Plot.barX(headerRows, {
      x1: () => x0,
      x2: () => x1,
      y: "key",
      fill: palette.header,
      title: "title",
      className: "weft-nursery-row",
    }),
    Plot.barX(taskRows, {
      x1: () => x0,
      x2: () => x1,
      y: "key",
      fill: palette.row,
      insetTop: 0.5,
      insetBottom: 0.5,
      title: "title",
      className: "weft-task-row",
    }),
    Plot.gridX({ stroke: "#ffffff", strokeOpacity: 0.9 }),
    Plot.text(headerRows, {
      y: "key",
      text: (row: Row) => truncate(row.label, 90),
      frameAnchor: "left",
      textAnchor: "start",
      dx: -marginLeft + 8,
      fontWeight: "bold",
      fontSize: LABEL_FONT_PX,
      fill: (row: Row) => (row.kind === "more" ? palette.cancelled : palette.text),
      className: "weft-nursery-label",
    }),
    Plot.text(taskRows, {
      y: "key",
      text: (row: Row) => truncate(row.label, MAX_LABEL_CHARS),
      frameAnchor: "left",
      textAnchor: "end",
      dx: -8,
      fontSize: LABEL_FONT_PX,
      fill: palette.text,
      title: "title",
      className: "weft-task-label",
    }),
    Plot.barX(waits, {
      x1: "start",
      x2: widen,
      y: "row",
      fill: palette.blocked,
      fillOpacity: 0.55,
      insetTop: waitInset,
      insetBottom: waitInset,
      title: barTitle,
      className: "weft-wait",
    }),
    Plot.text(waitLabels, {
      x: "start",
      y: "row",
      text: "text",
      textAnchor: "start",
      dx: 3,
      fontSize: 9,
      fill: palette.blockedText,
      title: barTitle,
      className: "weft-wait-label",
    }),
    Plot.barX(steps, {
      x1: "start",
      x2: widen,
      y: "row",
      fill: palette.running,
      insetTop: stepInset,
      insetBottom: stepInset,
      title: barTitle,
      className: "weft-step",
    }),
  ];
  for (const kind of ["step", "wait"] as const) {
    const list = mergedBars.filter((bar) => bar.kind === kind);
    if (list.length === 0) continue;
    marks.push(
      Plot.barX(list, {
        x1: "start",
        x2: widen,
        y: "row",
        fill: kind === "step" ? palette.running : palette.blocked,
        fillOpacity: 0.45,
        stroke: kind === "step" ? palette.running : palette.blocked,
        strokeWidth: 0.5,
        insetTop: stepInset,
        insetBottom: stepInset,
        title: barTitle,
        className: "weft-merged",
      }),
    );
  }
  for (let depth = 0; depth <= 2; depth++) {
    for (const withDeadline of [false, true]) {
      const list = scopes.filter(
        (scope) =>
          Math.min(scope.depth, 2) === depth && (scope.deadline !== undefined) === withDeadline,
      );
      if (list.length === 0) continue;
      marks.push(
        Plot.barX(list, {
          x1: "start",
          x2: widen,
          y: "row",
          fill: "none",
          stroke: withDeadline ? palette.deadline : palette.scope,
          strokeWidth: withDeadline ? 1.6 : 1,
          strokeDasharray: withDeadline ? undefined : "4,2",
          insetTop: 0.5 + depth * 1.5,
          insetBottom: 0.5 + depth * 1.5,
          title: scopeTitle,
          className: withDeadline ? "weft-scope weft-deadline" : "weft-scope",
        }),
      );
    }
  }
  if (flows.length > 0) {
    for (const kind of ["spawn", "wake"] as const) {
      const list = flows.filter((flow) => flow.kind === kind);
      if (list.length === 0) continue;
      marks.push(
        Plot.arrow(list, {
          x1: "start",
          y1: "from",
          x2: "end",
          y2: "to",
          stroke: kind === "spawn" ? palette.spawn : palette.wake,
          strokeWidth: 1,
          strokeOpacity: 0.8,
          strokeDasharray: kind === "wake" ? "3,2" : undefined,
          headLength: 6,
          bend: false,
          title: (flow: TimelineFlow) =>
            `${kind === "spawn" ? "spawn" : "wake-up"}: ${model.tasks.get(flow.from)?.label} → ` +
            `${model.tasks.get(flow.to)?.label}\nat ${formatMs(flow.start)} → ${formatMs(flow.end)}`,
          className: `weft-${kind}`,
        }),
      );
    }
  }
  marks.push(
    Plot.tickX(cancels, {
      x: "at",
      y: "row",
      stroke: palette.cancelled,
      strokeWidth: 1.5,
      className: "weft-cancel-tick",
    }),
    Plot.dot(cancels, {
      x: "at",
      y: "row",
      symbol: "times",
      r: Math.min(5, rowHeight / 4),
      stroke: palette.cancelled,
      strokeWidth: 2.5,
      title: cancelTitle,
      className: "weft-cancel",
    }),
  );

  const { document } = parseHTML("<!doctype html><html><body></body></html>");
  const plot = Plot.plot({
    document: document as unknown as NonNullable<Plot.PlotOptions["document"]>,
    width,
    height: plotHeight,
    marginLeft,
    marginRight,
    marginTop,
    marginBottom,
    ariaLabel: "timeline: one row per task, steps and waits over time",
    style: { background: "#ffffff", color: palette.text, fontSize: "10px" },
    x: {
      domain: [x0, x1],
      label: "time since the recording began (ms)",
      axis: axisBoth ? "both" : "bottom",
      grid: false,
    },
    y: { domain: rows.map((row) => row.key), axis: null, padding: 0.08 },
    marks,
  }) as unknown as SvgNode;
  plot.removeAttribute("class");
  for (const style of plot.querySelectorAll("style")) style.remove();

  const title = options.title ?? "weft trace timeline";
  const counts =
    `${model.tasks.size} task${model.tasks.size === 1 ? "" : "s"} in ${model.nurseries.length} ` +
    `nurser${model.nurseries.length === 1 ? "y" : "ies"} · ${formatMs(model.end - model.start)} ` +
    `· ${model.dropped} event${model.dropped === 1 ? "" : "s"} dropped`;
  const subtitle = options.subtitle === undefined ? counts : `${options.subtitle} · ${counts}`;
  const legendEntries: LegendEntry[] = [
    "running",
    "blocked",
    "cancelled",
    "scope",
    "deadline",
    ...(flows.some((flow) => flow.kind === "spawn") ? (["spawn"] as const) : []),
    ...(flows.some((flow) => flow.kind === "wake") ? (["wake"] as const) : []),
    ...(merged > 0 ? (["merged"] as const) : []),
  ];
  let y = 30;
  const header: string[] = [
    `<text x="16" y="${y}" font-size="18" font-weight="700" fill="${palette.text}">${escapeMarkup(title)}</text>`,
  ];
  y += 22;
  header.push(
    `<text x="16" y="${y}" font-size="12" fill="${palette.muted}">${escapeMarkup(subtitle)}</text>`,
  );
  for (const note of notes) {
    y += 18;
    header.push(
      `<text x="16" y="${y}" font-size="12" font-weight="600" fill="#a63d00" class="weft-note">⚠ ${escapeMarkup(note)}</text>`,
    );
  }
  y += 14;
  const legend = timelineLegend(legendEntries, 16, y, width - 32);
  header.push(legend.svg);
  y += legend.height + 6;

  plot.setAttribute("x", "0");
  plot.setAttribute("y", String(y));
  const height = Math.ceil(y + plotHeight + 8);
  const svg =
    `<svg xmlns="${SVG_NS}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" color="${palette.text}" ` +
    `role="img" aria-label="${escapeMarkup(`${title}: ${subtitle}`)}" class="weft-timeline" ` +
    `data-task-rows="${shown}">` +
    `<rect class="weft-background" x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>` +
    header.join("") +
    plot.outerHTML +
    "</svg>";
  return {
    svg: asXmlText(svg),
    summary: {
      tasks: model.tasks.size,
      rows: shown,
      nurseries: model.nurseries.length,
      durationMs: model.end - model.start,
      dropped: model.dropped,
      merged,
      notes,
    },
  };
}

/** The little of linkedom's element the renderer uses (the lib has no DOM types). */
interface SvgNode {
  readonly outerHTML: string;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  querySelectorAll(selector: string): Iterable<{ remove(): void }>;
}

/** A {@link TraceFile} as parseTraceFile returns it (events, and `otherData.weft.dropped`). */
function checkTraceFile(trace: unknown): asserts trace is TraceFile {
  const file = trace as { traceEvents?: unknown; otherData?: { weft?: { dropped?: unknown } } };
  if (
    file === null ||
    typeof file !== "object" ||
    isRevokedProxy(file) ||
    !isArray(file.traceEvents) ||
    typeof file.otherData?.weft?.dropped !== "number"
  ) {
    throw new TypeError(
      `trace must be a trace file as parseTraceFile returns it ({ traceEvents, otherData: { weft: { dropped } } }), got ${describeValue(trace)}`,
    );
  }
}
