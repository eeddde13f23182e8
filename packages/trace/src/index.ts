/**
 * @weft/trace: see what weft tasks do — a trace recorder, its Chrome Trace
 * Event / Perfetto export, a static timeline, and OpenTelemetry spans.
 */
export type { TraceEvent, TraceFile, TracePhase } from "./trace-format.ts";
export { TraceRecorder, type TraceRecorderOptions } from "./trace-recorder.ts";
