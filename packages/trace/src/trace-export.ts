/**
 * Turns the recorder's event records into a trace file (trace-format.ts):
 * replays them per task, closing slices as their ends arrive, so that the
 * slices of a track always nest, even where the ring dropped the beginning
 * of the recording or the recording stops while slices are open.
 */
import { EventKind, type EventRing } from "./event-ring.ts";
import type { TraceEvent, TraceFile } from "./trace-format.ts";

/** What the recorder knows of a task. */
export interface TaskRecord {
  readonly name: string;
  /** The nursery it was spawned into (0: none, the root task). */
  readonly nursery: number;
  /** Sequence number of its exit record (-1: alive). */
  exitSeq: number;
}

/** What the recorder knows of a nursery. */
export interface NurseryRecord {
  /** The task that opened it. */
  readonly parentTask: number;
  /** Records written when it closed (-1: open). */
  closeSeq: number;
}

/** The input of {@link buildTraceFile}: a recorder's state. */
export interface Recording {
  readonly ring: EventRing;
  readonly tasks: ReadonlyMap<number, TaskRecord>;
  readonly nurseries: ReadonlyMap<number, NurseryRecord>;
  readonly strings: readonly string[];
  /** `performance.now()` when recording began (time 0). */
  readonly origin: number;
  /** `performance.now()` where the recording ends: open slices end there. */
  readonly end: number;
}

/** A flow arrow waiting for its end: the woken (or spawned) task's next step. */
interface PendingFlow {
  readonly cat: "spawn" | "wake";
  readonly from: number;
  readonly ts: number;
}

/** An open scope slice. */
interface OpenScope {
  readonly id: number;
  readonly start: number;
  readonly clock: number;
  readonly deadline: number;
}

/** The replay's state of one task's track. */
interface Track {
  readonly tid: number;
  /** Start of the open step slice (NaN: none). */
  stepStart: number;
  stepClock: number;
  /** Start of the open wait slice (NaN: none). */
  waitStart: number;
  waitClock: number;
  waitName: string;
  readonly scopes: OpenScope[];
  pending: PendingFlow[] | null;
}

/**
 * Timestamps are microseconds in multiples of 1/64: sums and differences of
 * such numbers are exact in floating point, so a slice's `ts + dur` is
 * exactly the time its end was recorded, and containment checks never see
 * rounding.
 */
function micros(time: number, origin: number): number {
  return Math.round((time - origin) * 64_000) / 64;
}

/** `args` with the run's clock added (unless it was not read). */
function withClock(clock: number, args: Record<string, unknown> = {}): Record<string, unknown> {
  return Number.isNaN(clock) ? args : { ...args, clock };
}

/** Appends `value` to the list under `key`, creating it. */
function append<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** Adds a flow to end at the track's next step. */
function addPending(track: Track, flow: PendingFlow): void {
  if (track.pending === null) track.pending = [flow];
  else track.pending.push(flow);
}

/** Builds the trace file of `recording`. */
export function buildTraceFile(recording: Recording): TraceFile {
  const { ring, tasks, nurseries, strings, origin } = recording;
  const events: TraceEvent[] = [];
  const tracks = new Map<number, Track>();
  let nextFlow = 1;
  /** Where the kept records begin: slices whose start was dropped start here. */
  const windowStart = ring.count > 0 ? micros(ring.time(ring.first()), origin) : 0;
  const end = micros(recording.end, origin);
  const pidOf = (tid: number): number => tasks.get(tid)?.nursery ?? 0;

  const slice = (
    tid: number,
    cat: string,
    name: string,
    start: number,
    stop: number,
    args: Record<string, unknown>,
  ): void => {
    events.push({ ph: "X", cat, name, pid: pidOf(tid), tid, ts: start, dur: stop - start, args });
  };
  const endStep = (track: Track, at: number): void => {
    if (Number.isNaN(track.stepStart)) return;
    slice(track.tid, "step", "running", track.stepStart, at, withClock(track.stepClock));
    track.stepStart = Number.NaN;
  };
  const endWait = (track: Track, at: number): void => {
    if (Number.isNaN(track.waitStart)) return;
    slice(track.tid, "wait", track.waitName, track.waitStart, at, withClock(track.waitClock));
    track.waitStart = Number.NaN;
  };
  const endScope = (track: Track, scope: OpenScope, at: number): void => {
    // A scope entered before the kept records began has no known deadline: no `deadline` (never NaN, which JSON writes as null).
    const args = withClock(
      scope.clock,
      Number.isFinite(scope.deadline) ? { deadline: scope.deadline } : { deadlineUnknown: true },
    );
    slice(track.tid, "scope", "cancel scope", scope.start, at, args);
  };
  /** Ends the open step slice at `at` and opens another there (a scope begins or ends inside a step). */
  const splitStep = (track: Track, at: number, clock: number): void => {
    if (Number.isNaN(track.stepStart)) return;
    endStep(track, at);
    track.stepStart = at;
    track.stepClock = clock;
  };
  const trackOf = (tid: number): [Track, boolean] => {
    let track = tracks.get(tid);
    const seen = track !== undefined;
    if (track === undefined) {
      track = {
        tid,
        stepStart: Number.NaN,
        stepClock: Number.NaN,
        waitStart: Number.NaN,
        waitClock: Number.NaN,
        waitName: "",
        scopes: [],
        pending: null,
      };
      tracks.set(tid, track);
    }
    return [track, seen];
  };

  for (let k = 0, i = ring.first(); k < ring.count; k++, i = ring.next(i)) {
    const kind = ring.kind(i);
    const [track, seen] = trackOf(ring.task(i));
    const ts = micros(ring.time(i), origin);
    const clock =
      kind === EventKind.STEP_BEGIN || kind === EventKind.STEP_END ? Number.NaN : ring.clock(i);
    switch (kind) {
      case EventKind.SPAWN: {
        const from = ring.a(i);
        if (from >= 0) addPending(track, { cat: "spawn", from, ts });
        break;
      }
      case EventKind.STEP_BEGIN:
      case EventKind.STEP_BEGIN_CLOCK: {
        endStep(track, ts);
        endWait(track, ts);
        track.stepStart = ts;
        track.stepClock = kind === EventKind.STEP_BEGIN_CLOCK ? clock : Number.NaN;
        if (track.pending !== null) {
          for (const flow of track.pending) {
            const id = nextFlow++;
            const name = flow.cat;
            const [cat, from] = [flow.cat, flow.from];
            events.push({ ph: "s", cat, name, id, pid: pidOf(from), tid: from, ts: flow.ts });
            events.push({
              ph: "f",
              bp: "e",
              cat,
              name,
              id,
              pid: pidOf(track.tid),
              tid: track.tid,
              ts,
            });
          }
          track.pending = null;
        }
        break;
      }
      case EventKind.STEP_END:
        // A step whose beginning was dropped starts where the kept records do.
        if (!seen) track.stepStart = windowStart;
        endStep(track, ts);
        break;
      case EventKind.BLOCK:
        endStep(track, ts);
        endWait(track, ts);
        track.waitStart = ts;
        track.waitClock = clock;
        track.waitName = strings[ring.a(i)] || "blocked";
        break;
      case EventKind.WAKE: {
        endWait(track, ts);
        const from = ring.a(i);
        if (from >= 0 && from !== track.tid) addPending(track, { cat: "wake", from, ts });
        break;
      }
      case EventKind.SCOPE_ENTER:
        splitStep(track, ts, clock);
        track.scopes.push({ id: ring.a(i), start: ts, clock, deadline: ring.b(i) });
        break;
      case EventKind.SCOPE_EXIT: {
        splitStep(track, ts, clock);
        const id = ring.a(i);
        const at = track.scopes.findIndex((scope) => scope.id === id);
        if (at >= 0) {
          // Scopes are left in the reverse order of entering; should one not
          // be, the inner ones end here too, to keep the nesting.
          for (let k = track.scopes.length - 1; k >= at; k--) endScope(track, track.scopes[k]!, ts);
          track.scopes.length = at;
        } else {
          // Entered before the kept records begin: it started no later than
          // any of them, and every scope entered since has been left.
          for (let k = track.scopes.length - 1; k >= 0; k--) endScope(track, track.scopes[k]!, ts);
          track.scopes.length = 0;
          endScope(track, { id, start: windowStart, clock: Number.NaN, deadline: Number.NaN }, ts);
        }
        break;
      }
      case EventKind.CANCEL: {
        const source = strings[ring.a(i)] ?? "unknown";
        const why = ring.b(i);
        const args = why >= 0 ? { source, reason: strings[why] ?? "" } : { source };
        events.push({
          ph: "i",
          s: "t",
          cat: "cancel",
          name: "cancelled",
          pid: pidOf(track.tid),
          tid: track.tid,
          ts,
          args: withClock(clock, args),
        });
        break;
      }
      case EventKind.EXIT:
        endStep(track, ts);
        endWait(track, ts);
        for (let k = track.scopes.length - 1; k >= 0; k--) endScope(track, track.scopes[k]!, ts);
        track.scopes.length = 0;
        track.pending = null;
        break;
    }
  }
  // The recording ends: what is still open ends with it.
  for (const track of tracks.values()) {
    endStep(track, end);
    endWait(track, end);
    for (let k = track.scopes.length - 1; k >= 0; k--) endScope(track, track.scopes[k]!, end);
  }

  sortEvents(events);
  return {
    traceEvents: [
      ...metadata(new Set(events.map((event) => event.tid!)), tasks, nurseries),
      ...events,
    ],
    displayTimeUnit: "ms",
    otherData: { weft: { version: 1, dropped: ring.dropped } },
  };
}

/** By time; at one time, longer slices (parents) first, then the rest. */
function sortEvents(events: TraceEvent[]): void {
  events.sort((x, y) => {
    const byTime = x.ts! - y.ts!;
    if (byTime !== 0) return byTime;
    const xSlice = x.ph === "X" ? 0 : 1;
    const ySlice = y.ph === "X" ? 0 : 1;
    if (xSlice !== ySlice) return xSlice - ySlice;
    return (y.dur ?? 0) - (x.dur ?? 0);
  });
}

/**
 * Names for every track and nursery the events use (and the ancestors that
 * lead to them), sorted in tree order: a task, then its nurseries, each
 * followed by its tasks.
 */
function metadata(
  tids: Iterable<number>,
  tasks: ReadonlyMap<number, TaskRecord>,
  nurseries: ReadonlyMap<number, NurseryRecord>,
): TraceEvent[] {
  const used = new Set<number>(tids);
  const usedNurseries = new Set<number>([0]);
  // Tracks' nurseries, and their ancestors (so that tree order has a path to them).
  const pending = [...used];
  while (pending.length > 0) {
    const tid = pending.pop()!;
    const nurseryId = tasks.get(tid)?.nursery ?? 0;
    if (usedNurseries.has(nurseryId)) continue;
    usedNurseries.add(nurseryId);
    const parent = nurseries.get(nurseryId)?.parentTask;
    if (parent !== undefined && !used.has(parent) && tasks.has(parent)) {
      used.add(parent);
      pending.push(parent);
    }
  }
  // Children lists, in id (creation) order.
  const nurseriesOf = new Map<number, number[]>();
  const tasksOf = new Map<number, number[]>();
  const roots: number[] = [];
  for (const id of [...usedNurseries].sort((x, y) => x - y)) {
    if (id === 0) continue;
    const parent = nurseries.get(id)?.parentTask;
    if (parent !== undefined && used.has(parent)) append(nurseriesOf, parent, id);
    else roots.push(id);
  }
  for (const tid of [...used].sort((x, y) => x - y)) {
    append(tasksOf, tasks.get(tid)?.nursery ?? 0, tid);
  }

  const events: TraceEvent[] = [];
  let processIndex = 0;
  let threadIndex = 0;
  const visitNursery = (id: number): void => {
    let name: string;
    if (id === 0) name = "run";
    else {
      const parent = nurseries.get(id)?.parentTask;
      const owner = parent === undefined ? undefined : tasks.get(parent);
      name =
        owner === undefined
          ? `nursery #${id}`
          : `nursery #${id} in task ${JSON.stringify(`${owner.name} #${parent}`)}`;
    }
    events.push({ ph: "M", name: "process_name", pid: id, args: { name } });
    events.push({
      ph: "M",
      name: "process_sort_index",
      pid: id,
      args: { sort_index: processIndex++ },
    });
    for (const tid of tasksOf.get(id) ?? []) visitTask(tid, id);
  };
  const visitTask = (tid: number, pid: number): void => {
    const name = `${tasks.get(tid)?.name ?? "task"} #${tid}`;
    events.push({ ph: "M", name: "thread_name", pid, tid, args: { name } });
    events.push({
      ph: "M",
      name: "thread_sort_index",
      pid,
      tid,
      args: { sort_index: threadIndex++ },
    });
    for (const nurseryId of nurseriesOf.get(tid) ?? []) visitNursery(nurseryId);
  };
  visitNursery(0);
  for (const id of roots) visitNursery(id);
  return events;
}
