import { describeValue } from "@weft/core/validate";
import type { TraceEvent, TraceFile } from "../trace-format.ts";

/** A text that is not a trace file; the message says what is wrong. */
export class TraceFileError extends Error {
  /** Always `"TraceFileError"`. */
  override readonly name = "TraceFileError";
}

const PHASES = new Set(["X", "i", "s", "f", "M"]);
/** Phases other Chrome trace writers use; not drawn, but not an error either. */
const OTHER_PHASES = new Set([
  "B",
  "E",
  "I",
  "C",
  "b",
  "e",
  "n",
  "t",
  "O",
  "N",
  "D",
  "P",
  "R",
  "c",
]);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const isNumber = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value);

function checkEvent(event: unknown, index: number): string | undefined {
  const at = `traceEvents[${index}]`;
  if (!isRecord(event)) return `${at} is not an object`;
  if (typeof event.ph !== "string") return `${at} has no "ph" (phase)`;
  if (!PHASES.has(event.ph) && !OTHER_PHASES.has(event.ph)) {
    return `${at} has an unknown phase "${event.ph}"`;
  }
  if (typeof event.name !== "string") return `${at} has no "name"`;
  if (!isNumber(event.pid)) return `${at} has no numeric "pid"`;
  if (event.tid !== undefined && !isNumber(event.tid)) return `${at} has a non-numeric "tid"`;
  if (event.ph !== "M" && !isNumber(event.ts))
    return `${at} (ph "${event.ph}") has no numeric "ts"`;
  if (event.ph === "X" && !(isNumber(event.dur) && event.dur >= 0)) {
    return `${at} (an "X" slice) has no non-negative "dur"`;
  }
  if (event.args !== undefined && !isRecord(event.args))
    return `${at} has "args" that is not an object`;
  return undefined;
}

/**
 * Parses and checks a trace file's text: Chrome's JSON object form with a
 * `traceEvents` array of well-formed events (weft's conventions, see
 * trace-format.ts). `otherData.weft` is optional — other writers of the
 * conventions may leave it out (0 dropped events is assumed) — but when
 * present its `version` must be 1. Events of other phases are kept and not
 * drawn. Throws a {@link TraceFileError} saying what is wrong.
 */
export function parseTraceFile(text: string): TraceFile {
  if (typeof text !== "string") {
    throw new TypeError(
      `text must be a string (a trace file's contents), got ${describeValue(text)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TraceFileError(`not JSON (${reason})`);
  }
  if (Array.isArray(json)) {
    throw new TraceFileError(
      'a JSON array: weft trace files are the JSON object form ({"traceEvents": [...]})',
    );
  }
  if (!isRecord(json)) throw new TraceFileError("not a JSON object with a traceEvents array");
  const events = json.traceEvents;
  if (!Array.isArray(events)) throw new TraceFileError('no "traceEvents" array: not a trace file');
  for (let i = 0; i < events.length; i++) {
    const problem = checkEvent(events[i], i);
    if (problem !== undefined) throw new TraceFileError(problem);
  }
  let dropped = 0;
  const otherData = json.otherData;
  const weft = isRecord(otherData) ? otherData.weft : undefined;
  if (weft !== undefined) {
    if (!isRecord(weft)) throw new TraceFileError('"otherData.weft" is not an object');
    if (weft.version !== 1) {
      throw new TraceFileError(
        `unsupported weft trace format version ${JSON.stringify(weft.version)} (this renderer reads version 1)`,
      );
    }
    if (weft.dropped !== undefined) {
      if (!(isNumber(weft.dropped) && weft.dropped >= 0)) {
        throw new TraceFileError('"otherData.weft.dropped" is not a non-negative number');
      }
      dropped = weft.dropped;
    }
  }
  return {
    traceEvents: events as TraceEvent[],
    displayTimeUnit: "ms",
    otherData: { weft: { version: 1, dropped } },
  };
}
