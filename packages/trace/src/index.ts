/**
 * @weft/trace: see what weft tasks do — a trace recorder, its Chrome Trace
 * Event / Perfetto export, a static timeline, and OpenTelemetry spans. *
 * @packageDocumentation
 */

export { runWeftTrace, type WeftTraceIo, weftTraceUsage } from "./cli/run-weft-trace.ts";
export { parseTraceFile, TraceFileError } from "./render/parse-trace-file.ts";
export { renderTimelineHtml, type TimelineHtmlOptions } from "./render/render-timeline-html.ts";
export {
  type RenderedTimeline,
  renderTimeline,
  renderTimelineSvg,
  type TimelineOptions,
  type TimelineSummary,
} from "./render/render-timeline-svg.ts";
export type { TraceEvent, TraceFile, TracePhase } from "./trace-format.ts";
export { TraceRecorder, type TraceRecorderOptions } from "./trace-recorder.ts";
