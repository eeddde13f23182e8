/**
 * Checks of a trace file against the Chrome Trace Event format (the fields
 * each phase requires, and their types) and against weft's conventions
 * (trace-format.ts): slices nest per track, every flow has both ends.
 * Each check throws an Error that names the offending event.
 */
import type { TraceEvent, TraceFile } from "@weft/trace";

type Json = Record<string, unknown>;

const METADATA = new Set([
  "process_name",
  "thread_name",
  "process_sort_index",
  "thread_sort_index",
]);

function fail(message: string, event?: unknown): never {
  throw new Error(event === undefined ? message : `${message}: ${JSON.stringify(event)}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/**
 * Parses `text` (or checks an already parsed value) as a trace file: the
 * object format's top level, and every event's required fields and their
 * types by phase. Returns the file.
 */
export function validateTraceFile(input: string | unknown): TraceFile {
  const file: unknown = typeof input === "string" ? JSON.parse(input) : input;
  if (!isObject(file)) fail("the file is not a JSON object");
  if (!Array.isArray(file.traceEvents)) fail("traceEvents is not an array");
  if (file.displayTimeUnit !== "ms") fail('displayTimeUnit is not "ms"');
  const other = file.otherData;
  if (!isObject(other) || !isObject(other.weft)) fail("otherData.weft is missing");
  const weft = other.weft as Json;
  if (weft.version !== 1) fail("otherData.weft.version is not 1");
  if (!isInteger(weft.dropped) || (weft.dropped as number) < 0) {
    fail("otherData.weft.dropped is not a count");
  }
  const threads = new Map<number, number>(); // tid → pid, from thread_name
  const processes = new Set<number>(); // from process_name
  for (const event of file.traceEvents as unknown[]) {
    validateEvent(event);
    const e = event as unknown as TraceEvent;
    if (e.ph === "M" && e.name === "thread_name") threads.set(e.tid!, e.pid);
    if (e.ph === "M" && e.name === "process_name") processes.add(e.pid);
  }
  for (const event of file.traceEvents as TraceEvent[]) {
    if (event.ph === "M") {
      if (event.name.startsWith("thread") && threads.get(event.tid!) !== event.pid) {
        fail("thread metadata in another process than the thread's name", event);
      }
      continue;
    }
    if (threads.get(event.tid!) !== event.pid)
      fail("an event on a thread with no name in its process", event);
    if (!processes.has(event.pid)) fail("an event in a process with no name", event);
  }
  return file as unknown as TraceFile;
}

/** The fields one event must have for its phase, with their types. */
function validateEvent(event: unknown): void {
  if (!isObject(event)) fail("an event is not an object", event);
  const ph = event.ph;
  if (typeof event.name !== "string") fail("name is not a string", event);
  if (!isInteger(event.pid) || (event.pid as number) < 0) fail("pid is not an integer", event);
  if ("cat" in event && typeof event.cat !== "string") fail("cat is not a string", event);
  if ("args" in event && !isObject(event.args)) fail("args is not an object", event);
  const needsThread = (): void => {
    if (!isInteger(event.tid) || (event.tid as number) < 0) fail("tid is not an integer", event);
    if (!isTime(event.ts)) fail("ts is not a time", event);
  };
  switch (ph) {
    case "M": {
      const name = event.name as string;
      if (!METADATA.has(name)) fail("unknown metadata event", event);
      const args = event.args;
      if (!isObject(args)) fail("metadata without args", event);
      if (name.endsWith("_name") && typeof args.name !== "string")
        fail("args.name is not a string", event);
      if (name.endsWith("_sort_index") && !isInteger(args.sort_index)) {
        fail("args.sort_index is not an integer", event);
      }
      if (name.startsWith("thread") && !isInteger(event.tid))
        fail("thread metadata without tid", event);
      break;
    }
    case "X":
      needsThread();
      if (!isTime(event.dur)) fail("dur is not a non-negative number", event);
      if (typeof event.cat !== "string") fail("a slice without cat", event);
      break;
    case "i":
      needsThread();
      if (event.s !== "t" && event.s !== "p" && event.s !== "g") fail("s is not t, p or g", event);
      break;
    case "s":
    case "f":
      needsThread();
      if (!isInteger(event.id) && typeof event.id !== "string") fail("a flow without id", event);
      if (typeof event.cat !== "string") fail("a flow without cat", event);
      if (ph === "f" && event.bp !== "e") fail('a flow end without bp "e"', event);
      break;
    default:
      fail("unknown phase", event);
  }
}

/** The X slices of each thread, sorted by start (longer first at one start). */
export function slicesByThread(file: TraceFile): Map<number, TraceEvent[]> {
  const result = new Map<number, TraceEvent[]>();
  for (const event of file.traceEvents) {
    if (event.ph !== "X") continue;
    const list = result.get(event.tid!) ?? [];
    list.push(event);
    result.set(event.tid!, list);
  }
  for (const list of result.values()) list.sort((x, y) => x.ts! - y.ts! || y.dur! - x.dur!);
  return result;
}

/** On each thread, two slices are either disjoint or one contains the other. */
export function checkNesting(file: TraceFile): void {
  for (const slices of slicesByThread(file).values()) {
    const stack: TraceEvent[] = [];
    for (const slice of slices) {
      while (stack.length > 0 && stack.at(-1)!.ts! + stack.at(-1)!.dur! <= slice.ts!) stack.pop();
      const parent = stack.at(-1);
      if (parent !== undefined && slice.ts! + slice.dur! > parent.ts! + parent.dur!) {
        fail(`slices overlap without nesting: ${JSON.stringify(parent)} and`, slice);
      }
      stack.push(slice);
    }
  }
}

/** Every flow start has exactly one end with its id, cat and name, no earlier than it. */
export function checkFlows(file: TraceFile): Map<number | string, [TraceEvent, TraceEvent]> {
  const starts = new Map<number | string, TraceEvent>();
  const ends = new Map<number | string, TraceEvent>();
  for (const event of file.traceEvents) {
    if (event.ph !== "s" && event.ph !== "f") continue;
    const map = event.ph === "s" ? starts : ends;
    if (map.has(event.id!)) fail(`two flow events "${event.ph}" with one id`, event);
    map.set(event.id!, event);
  }
  const flows = new Map<number | string, [TraceEvent, TraceEvent]>();
  for (const [id, start] of starts) {
    const end = ends.get(id);
    if (end === undefined) fail("a flow start without an end", start);
    if (end.cat !== start.cat || end.name !== start.name)
      fail("a flow end of another cat or name", end);
    if (end.ts! < start.ts!) fail("a flow that ends before it starts", end);
    flows.set(id, [start, end]);
  }
  for (const [id, end] of ends) if (!starts.has(id)) fail("a flow end without a start", end);
  return flows;
}

/** All three: the format, the nesting, the flows. */
export function checkTraceFile(input: string | unknown): TraceFile {
  const file = validateTraceFile(input);
  checkNesting(file);
  checkFlows(file);
  return file;
}
