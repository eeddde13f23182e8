/**
 * The recorder's memory: a ring buffer of compact event records in a typed
 * array, so that recording a step allocates nothing. When it is full the
 * oldest records are overwritten (and counted as dropped).
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

/** Numbers in a step's record (head: task × 16 + kind; time). */
const SHORT = 2;
/** Numbers in another record (head, time, a, b, clock). */
const LONG = 5;
/** Numbers of the buffer per event of capacity: room for `capacity` steps and then some. */
const PER_EVENT = 3;

/**
 * A ring of event records of two sizes in one `Float64Array`: a step's
 * beginning or end takes two numbers, any other record five. It keeps at
 * most `capacity` records, fewer when many are long ones (the buffer holds
 * `capacity` × 3 numbers, 24 bytes per event); the oldest are dropped first.
 * Record number `seq` counts every record ever pushed; the kept ones are
 * `seq >= dropped`.
 *
 * Why not a column per field: recording a step then writes 16 bytes in one
 * place instead of a slot in each of seven columns, and the buffer is
 * smaller.
 * Every field is an integer or a double, so a double holds each exactly.
 * Positions (`pos`) address a record in the buffer; a record never wraps:
 * the buffer has room for one long record past its end.
 */
export class EventRing {
  /** The most records kept. */
  readonly capacity: number;
  /** The fewest records dropped at once (1/64 of the capacity). */
  readonly chunk: number;
  readonly #data: Float64Array;
  /** Where records may start: [0, size). */
  readonly #size: number;
  /** Records pushed so far, dropped ones included. */
  written = 0;
  /** Where the next record goes. */
  #head = 0;
  /** Where the oldest kept record is. */
  #tail = 0;
  /** Records kept. */
  #count = 0;
  /** Where the newest record is (-1: none). */
  #last = -1;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.chunk = Math.max(1, capacity >> 6);
    this.#size = Math.max(capacity * PER_EVENT, LONG);
    this.#data = new Float64Array(this.#size + LONG);
    // Touch every page now: the system maps a new buffer's pages lazily, and
    // a page fault on the first write of each would land in the run's steps.
    this.#data.fill(1);
    this.#data.fill(0);
  }

  /** Records dropped because the ring was full. */
  get dropped(): number {
    return this.written - this.#count;
  }

  /** Sequence number of the oldest record kept (as many were dropped before it). */
  get oldest(): number {
    return this.written - this.#count;
  }

  /** Records kept. */
  get count(): number {
    return this.#count;
  }

  /** Position of the oldest record kept. */
  first(): number {
    return this.#tail;
  }

  /** Position of the newest record (-1: none). */
  last(): number {
    return this.#last;
  }

  /** Position of the record after the one at `pos`. */
  next(pos: number): number {
    const after = pos + this.#length(pos);
    return after >= this.#size ? 0 : after;
  }

  #length(pos: number): number {
    const kind = this.kind(pos);
    return kind === EventKind.STEP_BEGIN || kind === EventKind.STEP_END ? SHORT : LONG;
  }

  /** {@link EventKind} of the record at `pos`. */
  kind(pos: number): EventKind {
    // Not `head % 16`: a floating-point remainder costs many times this (exact: powers of two).
    const head = this.#data[pos]!;
    return (head - Math.floor(head * 0.0625) * 16) as EventKind;
  }

  /** The task (track) the record at `pos` is about. */
  task(pos: number): number {
    return Math.floor(this.#data[pos]! * 0.0625);
  }

  /** `performance.now()` when it happened. */
  time(pos: number): number {
    return this.#data[pos + 1]!;
  }

  /** First argument (see {@link EventKind}; long records only). */
  a(pos: number): number {
    return this.#data[pos + 2]!;
  }

  /** Second argument (a scope's deadline, a cancellation's reason; long records only). */
  b(pos: number): number {
    return this.#data[pos + 3]!;
  }

  /** The run's clock when it happened (NaN: not read; long records only). */
  clock(pos: number): number {
    return this.#data[pos + 4]!;
  }

  /** Replaces the arguments of the long record at `pos` (renumbered strings). */
  setArguments(pos: number, a: number, b: number): void {
    this.#data[pos + 2] = a;
    this.#data[pos + 3] = b;
  }

  /**
   * Drops the oldest records until `length` numbers fit at the head and a
   * record more is allowed — and at least {@link EventRing.chunk} of them,
   * so that once the ring is full most pushes skip this loop (finding where
   * the next oldest record starts reads it).
   */
  #makeRoom(length: number): void {
    let dropped = 0;
    while (
      this.#count > 0 &&
      (dropped < this.chunk ||
        this.#count >= this.capacity ||
        (this.#tail >= this.#head && this.#tail - this.#head < length))
    ) {
      this.#tail = this.next(this.#tail);
      this.#count--;
      dropped++;
    }
  }

  /** Appends a long record, dropping the oldest as needed. */
  push(kind: EventKind, task: number, time: number, a: number, b: number, clock: number): void {
    const at = this.#head;
    if (
      this.#count > 0 &&
      (this.#count >= this.capacity || (this.#tail >= at && this.#tail - at < LONG))
    ) {
      this.#makeRoom(LONG);
    }
    const data = this.#data;
    data[at] = task * 16 + kind;
    data[at + 1] = time;
    data[at + 2] = a;
    data[at + 3] = b;
    data[at + 4] = clock;
    this.#advance(at, LONG);
  }

  /** Appends a step's beginning or end (a short record), dropping the oldest as needed. */
  pushStep(
    kind: typeof EventKind.STEP_BEGIN | typeof EventKind.STEP_END,
    task: number,
    time: number,
  ): void {
    const head = this.#head;
    if (
      this.#count > 0 &&
      (this.#count >= this.capacity || (this.#tail >= head && this.#tail - head < SHORT))
    ) {
      this.#makeRoom(SHORT);
    }
    const data = this.#data;
    data[head] = task * 16 + kind;
    data[head + 1] = time;
    this.#advance(head, SHORT);
  }

  #advance(at: number, length: number): void {
    const head = at + length;
    this.#head = head >= this.#size ? 0 : head;
    this.#last = at;
    this.#count++;
    this.written++;
  }

  /** Forgets every record. */
  clear(): void {
    this.written = 0;
    this.#head = 0;
    this.#tail = 0;
    this.#count = 0;
    this.#last = -1;
  }
}
