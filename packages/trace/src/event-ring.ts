/**
 * The recorder's memory: a ring buffer of compact event records in a typed
 * array, so that recording a step allocates nothing. When it is
 * full the oldest record is overwritten (and counted as dropped).
 */

/** Kinds of record (the `kinds` column). Plain numbers: Node's type stripping has no enums. */
export const EventKind = {
  /** A task was spawned; `a`: the spawner's id (-1: none). */
  SPAWN: 0,
  /** A step began (on a real clock: `ts` says the time). */
  STEP_BEGIN: 1,
  /** A step ended (the task blocked, yielded, went foreign, or exited). */
  STEP_END: 2,
  /** The task blocked; `a`: the interned "waiting for" string; `clock`. */
  BLOCK: 3,
  /** The task was woken; `a`: the waker's id (-1: outside any task). */
  WAKE: 4,
  /** The task entered a cancel scope with a deadline; `a`: scope id; `b`: deadline; `clock`. */
  SCOPE_ENTER: 5,
  /** The task left that scope; `a`: scope id. */
  SCOPE_EXIT: 6,
  /** A scope the task entered was cancelled; `a`: interned source, `b`: interned reason (-1: none); `clock`. */
  CANCEL: 7,
  /** The task exited. */
  EXIT: 8,
  /** A step began, on a virtual clock; `clock`: the run's clock. */
  STEP_BEGIN_CLOCK: 9,
} as const;

/** One of {@link EventKind}'s values. */
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** Numbers per record: head (task × 16 + kind), time, a, b, clock. */
const STRIDE = 5;

/**
 * A fixed-capacity ring of event records. Record number `seq` (counting every
 * record ever pushed) lives at slot `seq % capacity` while
 * `seq >= written - capacity`.
 *
 * The records are interleaved in one `Float64Array` (five numbers each)
 * rather than kept as a column per field: recording a step then writes to
 * one cache line instead of several — measured a third cheaper per step.
 * Every field is an integer or a double, so a double holds each exactly.
 */
export class EventRing {
  /** The most records kept. */
  readonly capacity: number;
  readonly #data: Float64Array;
  /** Records pushed so far, dropped ones included. */
  written = 0;
  #next = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#data = new Float64Array(capacity * STRIDE);
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

  /** {@link EventKind} of the record in `slot`. */
  kind(slot: number): EventKind {
    return (this.#data[slot * STRIDE]! % 16) as EventKind;
  }

  /** The task (track) the record in `slot` is about. */
  task(slot: number): number {
    return Math.floor(this.#data[slot * STRIDE]! / 16);
  }

  /** `performance.now()` when it happened. */
  time(slot: number): number {
    return this.#data[slot * STRIDE + 1]!;
  }

  /** First argument (see {@link EventKind}). */
  a(slot: number): number {
    return this.#data[slot * STRIDE + 2]!;
  }

  /** Second argument (a scope's deadline, a cancellation's reason). */
  b(slot: number): number {
    return this.#data[slot * STRIDE + 3]!;
  }

  /** The run's clock when it happened (NaN: not read). */
  clock(slot: number): number {
    return this.#data[slot * STRIDE + 4]!;
  }

  /** Replaces the record's arguments (renumbered strings). */
  setArguments(slot: number, a: number, b: number): void {
    this.#data[slot * STRIDE + 2] = a;
    this.#data[slot * STRIDE + 3] = b;
  }

  /** Appends a record, overwriting the oldest when full. */
  push(kind: EventKind, task: number, time: number, a: number, b: number, clock: number): void {
    const i = this.#next;
    const at = i * STRIDE;
    const data = this.#data;
    data[at] = task * 16 + kind;
    data[at + 1] = time;
    data[at + 2] = a;
    data[at + 3] = b;
    data[at + 4] = clock;
    this.#next = i + 1 === this.capacity ? 0 : i + 1;
    this.written++;
  }

  /**
   * Appends a step's beginning, or its end: no arguments and no clock (the
   * other fields keep stale values, which readers ignore for these kinds).
   */
  pushStep(
    kind: typeof EventKind.STEP_BEGIN | typeof EventKind.STEP_END,
    task: number,
    time: number,
  ): void {
    const i = this.#next;
    const at = i * STRIDE;
    const data = this.#data;
    data[at] = task * 16 + kind;
    data[at + 1] = time;
    this.#next = i + 1 === this.capacity ? 0 : i + 1;
    this.written++;
  }

  /** Forgets every record. */
  clear(): void {
    this.written = 0;
    this.#next = 0;
  }
}
