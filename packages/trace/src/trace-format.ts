/**
 * The trace file @weft/trace writes: the Chrome Trace Event format (the JSON
 * object form), which ui.perfetto.dev and chrome://tracing open, with weft's
 * conventions for what each event means. The timeline renderer reads the
 * same file, so anything that writes these conventions can be drawn.
 *
 * - `pid` is a nursery (its tasks are grouped under it), `tid` a task; the
 *   root task's nursery-less track is pid 0. Metadata events name them:
 *   `process_name` ("nursery #3 in task "main #2""; pid 0 is "run"),
 *   `thread_name` (the task's name and id: "main #2"), and
 *   `process_sort_index` / `thread_sort_index` in tree order (parents before
 *   children). Ids are the recorder's, never reused. A task started with
 *   `nursery.start()` is in the process of the nursery it moves to.
 * - `X` slices on a task's track: `cat: "step"` (name "running") while the
 *   task runs, `cat: "wait"` (name: what it waits for, as task dumps say it;
 *   "blocked" when the wait does not say) while it is blocked,
 *   `cat: "scope"` (name: "cancel scope", args.deadline — or
 *   args.deadlineUnknown when the scope was entered before the kept records
 *   began) while it is inside a
 *   cancel scope that had a deadline when entered (nurseries' own scopes and
 *   scopes without a deadline get no slice) — properly nested: on one track
 *   two slices are disjoint or one contains the other. A step during which
 *   the task enters or leaves such a scope is split there into several
 *   "running" slices, so that the scope's slice contains the steps inside it.
 * - A task awaiting a promise that is not a weft operation (a foreign
 *   await) is neither running nor blocked in a weft wait: its track shows a
 *   gap until it steps again.
 * - `i` instants (`s: "t"`, name "cancelled"), `cat: "cancel"`: a scope was
 *   cancelled, on the track of the task that entered it; args `source` and
 *   `reason` (absent when there is none, as for a deadline).
 * - Flows (`s` then `f` with `bp: "e"`, one `id` per arrow, `name` equal to
 *   `cat`): `cat: "spawn"` from the spawner's step to the child's first step;
 *   `cat: "wake"` from the waker's step to the woken task's next step (none
 *   when the waker is not a task: a timer, a deadline, I/O). The `f` is at
 *   the start of the step it points to.
 * - Times (`ts`, `dur`) are microseconds of real time since the recording
 *   began, in multiples of 1/64 µs (so `ts + dur` is exact); a step that
 *   directly follows another one's end in the same batch starts at that end
 *   (the recorder saves a clock read; the kernel's time between them counts
 *   in the later step). `args.clock` is the run's clock, in milliseconds, at
 *   the slice's start or the instant: on waits, scopes and cancellations
 *   always, on steps only when the clock is virtual (a `MockClock`: on the
 *   real clock it would repeat `ts`); absent until the recorder has seen the
 *   clock (it reads it inside the run's first spawn or block).
 * - A recording is a window: when the recorder's ring buffer was full, the
 *   oldest events were dropped (`otherData.weft.dropped` counts them), and a
 *   slice whose beginning was dropped starts at the first event kept (a wait
 *   whose beginning was dropped is left out: its name is unknown); slices
 *   still open when the file is made end at the end of the recording.
 */

/** Event phases weft writes. */
export type TracePhase = "X" | "i" | "s" | "f" | "M";

/** One event of a trace file. */
export interface TraceEvent {
  /** The phase: a slice (X), an instant (i), a flow's start (s) or end (f), metadata (M). */
  readonly ph: TracePhase;
  /** What the event is: "running", what a wait waits for, "cancelled", a metadata kind. */
  readonly name: string;
  /** The category: "step", "wait", "scope", "cancel", "spawn", "wake". */
  readonly cat?: string;
  /** The nursery (0: the root task's track). */
  readonly pid: number;
  /** The task. */
  readonly tid?: number;
  /** Microseconds since the recording began. */
  readonly ts?: number;
  /** Microseconds (X slices). */
  readonly dur?: number;
  /** Instant scope: "t" (the thread). */
  readonly s?: "t" | "p" | "g";
  /** Flow id (s and f events). */
  readonly id?: number;
  /** Flow binding point: "e" binds a flow's end to the enclosing slice. */
  readonly bp?: "e";
  /** The event's details (`clock`, `deadline`, `source`, `reason`, a metadata event's `name`). */
  readonly args?: Readonly<Record<string, unknown>>;
}

/** A trace file: Chrome's JSON object format. */
export interface TraceFile {
  /** The events, in the order they were recorded. */
  readonly traceEvents: readonly TraceEvent[];
  /** How viewers show times: milliseconds. */
  readonly displayTimeUnit: "ms";
  /** What is not an event. */
  readonly otherData: {
    /** weft's own data about the recording. */
    readonly weft: {
      /** Format version of these conventions. */
      readonly version: 1;
      /** Events dropped because the ring buffer was full (the oldest go first). */
      readonly dropped: number;
    };
  };
}
