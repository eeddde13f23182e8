/**
 * The trace file @weft/trace writes: the Chrome Trace Event format (the JSON
 * object form), which ui.perfetto.dev and chrome://tracing open, with weft's
 * conventions for what each event means. The timeline renderer reads the
 * same file, so anything that writes these conventions can be drawn.
 *
 * - `pid` is a nursery (its tasks are grouped under it), `tid` a task; the
 *   root task's nursery-less track is pid 0. Metadata events name them:
 *   `process_name` ("nursery #3 in task "main""), `thread_name` (the task's
 *   name and id), and `process_sort_index` / `thread_sort_index` in tree
 *   order (parents before children).
 * - `X` slices on a task's track: `cat: "step"` (name "running") while the
 *   task runs, `cat: "wait"` (name: what it waits for) while it is blocked,
 *   `cat: "scope"` (name: "cancel scope", args.deadline) while it is inside a
 *   cancel scope — properly nested.
 * - `i` instants (`s: "t"`), `cat: "cancel"`: a scope was cancelled; args
 *   `source` and `reason`.
 * - Flows (`s` then `f` with `bp: "e"`, one `id` per arrow): `cat: "spawn"`
 *   from a spawner's step to the child's first step; `cat: "wake"` from the
 *   waker's step to the woken task's next step.
 * - Times (`ts`, `dur`) are microseconds of real time since the recording
 *   began; `args.clock` on slices is the run's clock (virtual time on a
 *   `MockClock`), in milliseconds.
 */

/** Event phases weft writes. */
export type TracePhase = "X" | "i" | "s" | "f" | "M";

/** One event of a trace file. */
export interface TraceEvent {
  readonly ph: TracePhase;
  readonly name: string;
  readonly cat?: string;
  readonly pid: number;
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
  readonly args?: Readonly<Record<string, unknown>>;
}

/** A trace file: Chrome's JSON object format. */
export interface TraceFile {
  readonly traceEvents: readonly TraceEvent[];
  readonly displayTimeUnit: "ms";
  readonly otherData: {
    readonly weft: {
      /** Format version of these conventions. */
      readonly version: 1;
      /** Events dropped because the ring buffer was full (the oldest go first). */
      readonly dropped: number;
    };
  };
}
