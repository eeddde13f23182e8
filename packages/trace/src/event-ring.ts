/**
 * The recorder's memory: a ring buffer of compact event records, one typed
 * array per field, so that recording a step allocates nothing. When it is
 * full the oldest record is overwritten (and counted as dropped).
 */

/** Kinds of record (the `kinds` column). Plain numbers: Node's type stripping has no enums. */
export const EventKind = {
  /** A task was spawned; `a`: the spawner's id (-1: none). */
  SPAWN: 0,
  /** A step began; `clock`: the run's clock. */
  STEP_BEGIN: 1,
  /** A step ended (the task blocked, yielded, went foreign, or exited). */
  STEP_END: 2,
  /** The task blocked; `a`: the interned "waiting for" string; `clock`. */
  BLOCK: 3,
  /** The task was woken; `a`: the waker's id (-1: outside any task). */
  WAKE: 4,
  /** The task entered a cancel scope with a deadline; `a`: scope id; `value`: deadline; `clock`. */
  SCOPE_ENTER: 5,
  /** The task left that scope; `a`: scope id. */
  SCOPE_EXIT: 6,
  /** A scope the task entered was cancelled; `a`: interned source, `b`: interned reason (-1: none); `clock`. */
  CANCEL: 7,
  /** The task exited. */
  EXIT: 8,
} as const;

/** One of {@link EventKind}'s values. */
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/**
 * A fixed-capacity ring of event records. Record number `seq` (counting every
 * record ever pushed) lives at slot `seq % capacity` while
 * `seq >= written - capacity`.
 */
export class EventRing {
  /** The most records kept. */
  readonly capacity: number;
  /** {@link EventKind} of each record. */
  readonly kinds: Uint8Array;
  /** The task (track) each record is about. */
  readonly tasks: Int32Array;
  /** First integer argument (see {@link EventKind}). */
  readonly as: Int32Array;
  /** Second integer argument. */
  readonly bs: Int32Array;
  /** `performance.now()` when it happened. */
  readonly times: Float64Array;
  /** The run's clock when it happened (NaN: not read). */
  readonly clocks: Float64Array;
  /** A number argument (a scope's deadline). */
  readonly values: Float64Array;
  /** Records pushed so far, dropped ones included. */
  written = 0;
  #next = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.kinds = new Uint8Array(capacity);
    this.tasks = new Int32Array(capacity);
    this.as = new Int32Array(capacity);
    this.bs = new Int32Array(capacity);
    this.times = new Float64Array(capacity);
    this.clocks = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }

  /** Records dropped because the ring was full. */
  get dropped(): number {
    return this.written > this.capacity ? this.written - this.capacity : 0;
  }

  /** Sequence number of the oldest record kept (as many were dropped before it). */
  get oldest(): number {
    return this.dropped;
  }

  /** Slot of record `seq` (which must be kept). */
  slot(seq: number): number {
    return seq % this.capacity;
  }

  /** Appends a record, overwriting the oldest when full. */
  push(
    kind: EventKind,
    task: number,
    a: number,
    b: number,
    time: number,
    clock: number,
    value: number,
  ): void {
    const i = this.#next;
    this.kinds[i] = kind;
    this.tasks[i] = task;
    this.as[i] = a;
    this.bs[i] = b;
    this.times[i] = time;
    this.clocks[i] = clock;
    this.values[i] = value;
    this.#next = i + 1 === this.capacity ? 0 : i + 1;
    this.written++;
  }

  /** Forgets every record. */
  clear(): void {
    this.written = 0;
    this.#next = 0;
  }
}
