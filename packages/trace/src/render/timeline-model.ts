import type { TraceEvent, TraceFile } from "../trace-format.ts";

/** A task's row: one per `(pid, tid)` track of the trace. */
export interface TimelineTask {
  /** Row key, `"pid:tid"`. */
  readonly key: string;
  readonly pid: number;
  readonly tid: number;
  /** The task's name and id (its `thread_name`, else `task #tid`). */
  readonly label: string;
  /** The label of the nursery the task runs in. */
  readonly nursery: string;
  readonly sortIndex: number;
  /** Milliseconds spent running (sum of its steps). */
  runningMs: number;
  /** Milliseconds spent blocked (sum of its waits). */
  blockedMs: number;
  steps: number;
  waits: number;
}

/** A nursery (a trace process) and its tasks in tree order. */
export interface TimelineNursery {
  readonly pid: number;
  readonly label: string;
  readonly sortIndex: number;
  readonly tasks: TimelineTask[];
}

/** A step, a wait or a cancel scope on a task's row; times in ms since the recording began. */
export interface TimelineSlice {
  readonly kind: "step" | "wait" | "scope";
  readonly row: string;
  readonly task: string;
  /** "running", what the wait is for, or "cancel scope". */
  readonly name: string;
  readonly start: number;
  readonly end: number;
  /** The run's clock (virtual on a MockClock) at the start, in ms. */
  readonly clock: number | undefined;
  /** A scope's deadline on the run's clock, in ms. */
  readonly deadline: number | undefined;
  /** Nesting depth of a scope on its row (0 = outermost). */
  depth: number;
}

/** A cancellation instant. */
export interface TimelineCancel {
  readonly row: string;
  readonly task: string;
  readonly at: number;
  readonly reason: string;
  readonly source: string;
  readonly clock: number | undefined;
}

/** A spawn or wake arrow between two rows. */
export interface TimelineFlow {
  readonly kind: "spawn" | "wake";
  readonly from: string;
  readonly to: string;
  readonly start: number;
  readonly end: number;
}

/** What the timeline draws, read from a trace file. */
export interface TimelineModel {
  /** Nurseries in tree order (`process_sort_index`, then pid). */
  readonly nurseries: TimelineNursery[];
  /** Every task, keyed by row key. */
  readonly tasks: Map<string, TimelineTask>;
  readonly slices: TimelineSlice[];
  readonly cancels: TimelineCancel[];
  readonly flows: TimelineFlow[];
  /** Earliest and latest time of any event, in ms since the recording began. */
  readonly start: number;
  readonly end: number;
  /** Events the recorder dropped (its ring buffer was full). */
  readonly dropped: number;
}

const rowKey = (pid: number, tid: number): string => `${pid}:${tid}`;

function numberArg(event: TraceEvent, name: string): number | undefined {
  const value = event.args?.[name];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function stringArg(event: TraceEvent, name: string): string | undefined {
  const value = event.args?.[name];
  return typeof value === "string" ? value : value === undefined ? undefined : String(value);
}

/**
 * Reads a trace file (weft's conventions, see trace-format.ts) into rows,
 * slices, cancellations and flows, in tree order. Events the conventions do
 * not describe are ignored.
 */
export function buildTimelineModel(trace: TraceFile): TimelineModel {
  const processNames = new Map<number, string>();
  const processSort = new Map<number, number>();
  const threadNames = new Map<string, string>();
  const threadSort = new Map<string, number>();
  const seen = new Map<string, { pid: number; tid: number }>();
  const note = (pid: number, tid: number | undefined): void => {
    if (tid === undefined) return;
    const key = rowKey(pid, tid);
    if (!seen.has(key)) seen.set(key, { pid, tid });
  };

  for (const event of trace.traceEvents) {
    if (event.ph !== "M") continue;
    const name = event.args?.name;
    const sortIndex = event.args?.sort_index;
    if (event.name === "process_name" && typeof name === "string") {
      processNames.set(event.pid, name);
    } else if (event.name === "process_sort_index" && typeof sortIndex === "number") {
      processSort.set(event.pid, sortIndex);
    } else if (event.name === "thread_name" && event.tid !== undefined) {
      if (typeof name === "string") threadNames.set(rowKey(event.pid, event.tid), name);
      note(event.pid, event.tid);
    } else if (event.name === "thread_sort_index" && event.tid !== undefined) {
      if (typeof sortIndex === "number") threadSort.set(rowKey(event.pid, event.tid), sortIndex);
    }
  }

  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  const stretch = (from: number, to: number): void => {
    if (from < start) start = from;
    if (to > end) end = to;
  };
  for (const event of trace.traceEvents) {
    if (event.ph === "M" || event.ts === undefined) continue;
    note(event.pid, event.tid);
    const at = event.ts / 1000;
    stretch(at, at + (event.ph === "X" ? (event.dur ?? 0) / 1000 : 0));
  }
  if (!Number.isFinite(start)) {
    start = 0;
    end = 0;
  }

  const nurseryLabel = (pid: number): string =>
    processNames.get(pid) ?? (pid === 0 ? "root task" : `nursery (pid ${pid})`);
  const tasks = new Map<string, TimelineTask>();
  const byPid = new Map<number, TimelineTask[]>();
  for (const [key, { pid, tid }] of seen) {
    const task: TimelineTask = {
      key,
      pid,
      tid,
      label: threadNames.get(key) ?? `task #${tid}`,
      nursery: nurseryLabel(pid),
      sortIndex: threadSort.get(key) ?? Number.MAX_SAFE_INTEGER,
      runningMs: 0,
      blockedMs: 0,
      steps: 0,
      waits: 0,
    };
    tasks.set(key, task);
    const list = byPid.get(pid) ?? [];
    list.push(task);
    byPid.set(pid, list);
  }
  const nurseries: TimelineNursery[] = [...byPid].map(([pid, list]) => ({
    pid,
    label: nurseryLabel(pid),
    sortIndex: processSort.get(pid) ?? Number.MAX_SAFE_INTEGER,
    tasks: list.sort((a, b) => a.sortIndex - b.sortIndex || a.tid - b.tid),
  }));
  nurseries.sort((a, b) => a.sortIndex - b.sortIndex || a.pid - b.pid);

  const slices: TimelineSlice[] = [];
  const cancels: TimelineCancel[] = [];
  const flowStarts = new Map<string, TraceEvent>();
  const flowEnds = new Map<string, TraceEvent>();
  const flows: TimelineFlow[] = [];
  for (const event of trace.traceEvents) {
    if (event.tid === undefined || event.ts === undefined) continue;
    const row = rowKey(event.pid, event.tid);
    const task = tasks.get(row)!;
    const at = event.ts / 1000;
    if (event.ph === "X") {
      const kind =
        event.cat === "step"
          ? "step"
          : event.cat === "wait"
            ? "wait"
            : event.cat === "scope"
              ? "scope"
              : undefined;
      if (kind === undefined) continue;
      const duration = (event.dur ?? 0) / 1000;
      if (kind === "step") {
        task.runningMs += duration;
        task.steps++;
      } else if (kind === "wait") {
        task.blockedMs += duration;
        task.waits++;
      }
      slices.push({
        kind,
        row,
        task: task.label,
        name: event.name,
        start: at,
        end: at + duration,
        clock: numberArg(event, "clock"),
        deadline: kind === "scope" ? numberArg(event, "deadline") : undefined,
        depth: 0,
      });
    } else if (event.ph === "i" && event.cat === "cancel") {
      cancels.push({
        row,
        task: task.label,
        at,
        reason: stringArg(event, "reason") ?? "cancelled",
        source: stringArg(event, "source") ?? "",
        clock: numberArg(event, "clock"),
      });
    } else if ((event.ph === "s" || event.ph === "f") && event.id !== undefined) {
      if (event.cat !== "spawn" && event.cat !== "wake") continue;
      (event.ph === "s" ? flowStarts : flowEnds).set(`${event.cat}:${event.id}`, event);
    }
  }
  // Paired by category and id, whatever the order in the file.
  for (const [id, end] of flowEnds) {
    const from = flowStarts.get(id);
    if (from?.tid === undefined || from.ts === undefined) continue;
    flows.push({
      kind: end.cat === "spawn" ? "spawn" : "wake",
      from: rowKey(from.pid, from.tid),
      to: rowKey(end.pid, end.tid!),
      start: from.ts / 1000,
      end: end.ts! / 1000,
    });
  }
  flows.sort((a, b) => a.start - b.start || a.end - b.end);
  assignScopeDepths(slices);
  return {
    nurseries,
    tasks,
    slices,
    cancels,
    flows,
    start,
    end,
    dropped: trace.otherData.weft.dropped,
  };
}

/** Nesting depth of each scope on its row (scopes are properly nested). */
function assignScopeDepths(slices: TimelineSlice[]): void {
  const byRow = new Map<string, TimelineSlice[]>();
  for (const slice of slices) {
    if (slice.kind !== "scope") continue;
    const list = byRow.get(slice.row) ?? [];
    list.push(slice);
    byRow.set(slice.row, list);
  }
  for (const list of byRow.values()) {
    list.sort((a, b) => a.start - b.start || b.end - a.end);
    const open: TimelineSlice[] = [];
    for (const scope of list) {
      while (open.length > 0 && open[open.length - 1]!.end <= scope.start) open.pop();
      scope.depth = open.length;
      open.push(scope);
    }
  }
}
