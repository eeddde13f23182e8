/**
 * The trace recorder: an instrument that writes what every task does into a
 * bounded ring of compact records, and turns them into a trace file on
 * demand (see trace-format.ts for what the file means).
 */
import { writeFile } from "node:fs/promises";
import {
  type CancelReason,
  type CancelScope,
  type Clock,
  type Instrument,
  lowlevel,
  type Nursery,
  SystemClock,
  type Task,
} from "@weft/core";
import { checkCount, checkOptionsObject } from "@weft/core/validate";
import { EventKind, EventRing } from "./event-ring.ts";
import { buildTraceFile, type NurseryRecord, type TaskRecord } from "./trace-export.ts";
import type { TraceFile } from "./trace-format.ts";

/** Options of a {@link TraceRecorder}. */
export interface TraceRecorderOptions {
  /**
   * The most events kept (default 100,000, in 2.4 MB): when full, the
   * oldest are dropped and counted in the file's `otherData.weft.dropped`.
   * Fewer are kept when many events carry arguments (blocks, wake-ups,
   * scopes): the buffer holds `capacity` × 24 bytes, a step's beginning or
   * end takes 16 and another event 40.
   */
  capacity?: number;
}

/** What the recorder knows of a cancel scope a task has entered. */
interface ScopeEntry {
  readonly id: number;
  readonly task: number;
  /** Whether it had a deadline when entered (only those get a slice). */
  readonly recorded: boolean;
}

/** Distinct strings (what tasks wait for, cancel sources and reasons) beyond which unused ones are forgotten. */
const STRING_LIMIT = 4096;

/**
 * Records a run's tasks for a trace file: spawns (and by whom), steps,
 * blocks (on what) and wake-ups (by whom), cancel scopes with a deadline,
 * cancellations (source and reason), nurseries and exits.
 *
 * Install it with `run(main, { instruments: [recorder] })` or
 * `lowlevel.addInstrument(recorder)` (tasks that started earlier are picked
 * up as they are seen), then call {@link TraceRecorder.toTraceFile} — during
 * the run or after it.
 *
 * Memory is bounded: at most the last `capacity` events are kept, in a
 * typed array (no object per event; strings are interned), the oldest
 * dropped first;
 * what is known about tasks, nurseries and strings none of the kept events
 * mention is forgotten as events are dropped.
 *
 * Times are real time (`performance.now()`), in microseconds since the
 * recording began. The run's clock (virtual time on a `MockClock`) is added
 * as `args.clock` to slices and instants once the recorder has seen it: it is
 * read with `lowlevel.currentClock()` from the first hook called inside one
 * of the run's tasks (a spawn or a block), so the first steps of a run may
 * lack it.
 */
export class TraceRecorder implements Instrument {
  /** The most events kept. */
  readonly capacity: number;
  readonly #ring: EventRing;
  /** Ids of the tasks alive (an id is never reused, even across runs). */
  readonly #ids = new Map<Task, number>();
  readonly #tasks = new Map<number, TaskRecord>();
  readonly #nurseryIds = new Map<Nursery, number>();
  readonly #nurseries = new Map<number, NurseryRecord>();
  readonly #scopes = new Map<CancelScope, ScopeEntry>();
  #strings: string[] = [];
  #stringIds = new Map<string, number>();
  #stringLimit = STRING_LIMIT;
  #nextTask = 1;
  #nextNursery = 1;
  #nextScope = 1;
  #clock: Clock | null = null;
  /** The clock read at each step's beginning: a virtual one (null: none, or real time, which `ts` already says). */
  #stepClock: Clock | null = null;
  /** The task of the last step, and its id (saves a map lookup per step). */
  #lastTask: Task | null = null;
  #lastId = 0;
  /** `written` right after the last step end was recorded, and its time. */
  #stepEndSeq = -1;
  #stepEndTime = 0;
  /** `performance.now()` when recording began. */
  #origin = performance.now();
  /** `performance.now()` when the last run ended (NaN while one runs). */
  #ended = Number.NaN;
  /** Dropped events when what they mention was last forgotten. */
  #prunedAt = 0;

  constructor(options?: TraceRecorderOptions) {
    checkOptionsObject("options", options);
    const capacity = options?.capacity ?? 100_000;
    checkCount("options.capacity", capacity, { min: 1 });
    if (capacity > 2 ** 26) {
      throw new RangeError(`options.capacity must be at most ${2 ** 26}, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#ring = new EventRing(capacity);
  }

  /** Events dropped so far because the ring was full. */
  get dropped(): number {
    return this.#ring.dropped;
  }

  /** Events recorded so far, dropped ones included. */
  get recorded(): number {
    return this.#ring.written;
  }

  /** Forgets everything recorded; recording goes on, with time starting again at 0. */
  clear(): void {
    this.#ring.clear();
    this.#stepEndSeq = -1;
    this.#origin = performance.now();
    this.#prunedAt = 0;
    this.#prune(true);
  }

  /** The trace file of what was recorded, ready for `JSON.stringify`. */
  toTraceFile(): TraceFile {
    const ring = this.#ring;
    const last = ring.last() >= 0 ? ring.time(ring.last()) : this.#origin;
    const end = Number.isNaN(this.#ended) ? Math.max(performance.now(), last) : this.#ended;
    return buildTraceFile({
      ring,
      tasks: this.#tasks,
      nurseries: this.#nurseries,
      strings: this.#strings,
      origin: this.#origin,
      end: Math.max(end, last),
    });
  }

  /** Writes {@link TraceRecorder.toTraceFile}'s file as JSON to `path`. */
  async writeTraceFile(path: string): Promise<void> {
    if (typeof path !== "string") {
      throw new TypeError(`path must be a string, got ${typeof path}`);
    }
    await writeFile(path, JSON.stringify(this.toTraceFile()));
  }

  // ---------------------------------------------------------------- hooks

  /** @internal Instrument hook. */
  beforeRun(): void {
    this.#clock = null;
    this.#stepClock = null;
    this.#lastTask = null;
    this.#stepEndSeq = -1;
    this.#ended = Number.NaN;
    if (this.#ring.written === 0) this.#origin = performance.now();
  }

  /** @internal Instrument hook. */
  afterRun(): void {
    this.#ended = performance.now();
    this.#stepEndSeq = -1;
    // A later run may add this recorder with lowlevel.addInstrument (no
    // beforeRun): it must find its own clock, not this run's.
    this.#clock = null;
    this.#stepClock = null;
  }

  /** @internal Instrument hook. */
  taskSpawned(task: Task): void {
    let spawner = -1;
    const nursery = task.eventualParentNursery ?? task.parentNursery;
    if (nursery !== null) {
      // startSoon() and start() run in the spawner's async context (which
      // also gives the run's clock); the nursery's task is the fallback.
      let by: Task = nursery.parentTask;
      try {
        by = lowlevel.currentTask();
      } catch {
        // spawned from outside any task: the nursery's task stands in
      }
      if (this.#clock === null) this.#discoverClock();
      spawner = this.#id(by);
    }
    const id = this.#register(task);
    this.#push(EventKind.SPAWN, id, spawner, 0, this.#now());
  }

  /** @internal Instrument hook (the hot path). */
  beforeTaskStep(task: Task): void {
    const ring = this.#ring;
    let id: number;
    if (task === this.#lastTask) id = this.#lastId;
    else {
      id = this.#ids.get(task) ?? this.#register(task);
      this.#lastTask = task;
      this.#lastId = id;
    }
    // A step that directly follows another one's end (nothing recorded in
    // between: the usual case inside a batch) starts when that one ended,
    // which saves a clock read per step — reading the time costs as much as
    // the rest of the recording. The kernel's bookkeeping between the two
    // steps is then counted in the later one.
    const time = ring.written === this.#stepEndSeq ? this.#stepEndTime : performance.now();
    const clock = this.#stepClock;
    if (clock === null) ring.pushStep(EventKind.STEP_BEGIN, id, time);
    else ring.push(EventKind.STEP_BEGIN_CLOCK, id, time, 0, 0, clock.currentTime());
  }

  /** @internal Instrument hook (the hot path). */
  afterTaskStep(task: Task): void {
    const ring = this.#ring;
    const id = task === this.#lastTask ? this.#lastId : this.#id(task);
    const time = performance.now();
    ring.pushStep(EventKind.STEP_END, id, time);
    this.#stepEndSeq = ring.written;
    this.#stepEndTime = time;
  }

  /** @internal Instrument hook. */
  taskBlocked(task: Task, waitingFor: string): void {
    // park() runs in the parking task's context: the run's clock is in reach.
    if (this.#clock === null) this.#discoverClock();
    this.#push(EventKind.BLOCK, this.#id(task), this.#intern(waitingFor), 0, this.#now());
  }

  /** @internal Instrument hook. */
  taskWoken(task: Task, waker: Task | null): void {
    const by = waker === null ? -1 : this.#id(waker);
    this.#push(EventKind.WAKE, this.#id(task), by, 0, Number.NaN);
  }

  /** @internal Instrument hook. */
  taskExited(task: Task): void {
    const id = this.#id(task);
    this.#push(EventKind.EXIT, id, 0, 0, Number.NaN);
    const record = this.#tasks.get(id);
    if (record !== undefined) record.exitSeq = this.#ring.written - 1;
    this.#ids.delete(task);
    if (task === this.#lastTask) this.#lastTask = null;
  }

  /** @internal Instrument hook. */
  nurseryOpened(nursery: Nursery): void {
    this.#nurseryId(nursery);
  }

  /** @internal Instrument hook. */
  nurseryClosed(nursery: Nursery): void {
    const id = this.#nurseryIds.get(nursery);
    if (id === undefined) return;
    this.#nurseryIds.delete(nursery);
    const record = this.#nurseries.get(id);
    if (record !== undefined) record.closeSeq = this.#ring.written;
  }

  /** @internal Instrument hook. */
  cancelScopeEntered(scope: CancelScope, task: Task): void {
    const id = this.#nextScope++;
    const taskId = this.#id(task);
    // Only scopes with a deadline get a slice: every nursery enters a scope
    // of its own, and those would only repeat the nursery.
    const deadline = scope.deadline;
    const recorded = Number.isFinite(deadline);
    this.#scopes.set(scope, { id, task: taskId, recorded });
    if (recorded) this.#push(EventKind.SCOPE_ENTER, taskId, id, deadline, this.#now());
  }

  /** @internal Instrument hook. */
  cancelScopeExited(scope: CancelScope, task: Task): void {
    const entry = this.#scopes.get(scope);
    if (entry === undefined) return;
    this.#scopes.delete(scope);
    if (entry.recorded) this.#push(EventKind.SCOPE_EXIT, this.#id(task), entry.id, 0, this.#now());
  }

  /** @internal Instrument hook. */
  cancelScopeCancelled(scope: CancelScope, reason: CancelReason): void {
    // On the track of the task that entered the scope.
    const entry = this.#scopes.get(scope);
    if (entry === undefined) return;
    // Both strings interned before either id is used: interning one may
    // compact the table (renumbering it), which would leave the other stale.
    let source = this.#intern(reason.source);
    const why = reason.reason === undefined ? -1 : this.#intern(reason.reason);
    if (this.#strings[source] !== reason.source) source = this.#intern(reason.source);
    this.#push(EventKind.CANCEL, entry.task, source, why, this.#now());
  }

  // ---------------------------------------------------------------- bookkeeping

  /** Reads the run's clock (inside one of its tasks). */
  #discoverClock(): void {
    let clock: Clock;
    try {
      clock = lowlevel.currentClock();
    } catch {
      return; // not inside a task after all: try again at the next hook
    }
    this.#clock = clock;
    this.#stepClock = clock instanceof SystemClock ? null : clock;
  }

  #now(): number {
    const clock = this.#clock;
    return clock === null ? Number.NaN : clock.currentTime();
  }

  #push(kind: EventKind, task: number, a: number, b: number, clock: number): void {
    this.#ring.push(kind, task, performance.now(), a, b, clock);
  }

  #id(task: Task): number {
    return this.#ids.get(task) ?? this.#register(task);
  }

  /** Gives `task` an id and remembers its name and nursery. */
  #register(task: Task): number {
    if (this.#ring.dropped - this.#prunedAt >= this.capacity) this.#prune(false);
    const id = this.#nextTask++;
    this.#ids.set(task, id);
    const nursery = task.eventualParentNursery ?? task.parentNursery;
    this.#tasks.set(id, {
      name: task.name,
      nursery: nursery === null ? 0 : this.#nurseryId(nursery),
      exitSeq: -1,
    });
    return id;
  }

  #nurseryId(nursery: Nursery): number {
    let id = this.#nurseryIds.get(nursery);
    if (id === undefined) {
      id = this.#nextNursery++;
      this.#nurseryIds.set(nursery, id);
      this.#nurseries.set(id, { parentTask: this.#id(nursery.parentTask), closeSeq: -1 });
    }
    return id;
  }

  #intern(text: string): number {
    let id = this.#stringIds.get(text);
    if (id === undefined) {
      if (this.#strings.length >= this.#stringLimit) {
        this.#compactStrings();
        this.#stringLimit = Math.max(STRING_LIMIT, 2 * this.#strings.length);
      }
      id = this.#strings.length;
      this.#strings.push(text);
      this.#stringIds.set(text, id);
    }
    return id;
  }

  /**
   * Forgets the tasks and nurseries that ended before the oldest event kept
   * (none of the kept events can mention them); `all`: everything ended.
   */
  #prune(all: boolean): void {
    const oldest = all ? Number.POSITIVE_INFINITY : this.#ring.oldest;
    this.#prunedAt = this.#ring.dropped;
    for (const [id, record] of this.#tasks) {
      if (record.exitSeq >= 0 && record.exitSeq < oldest) this.#tasks.delete(id);
    }
    for (const [id, record] of this.#nurseries) {
      if (record.closeSeq >= 0 && record.closeSeq <= oldest) this.#nurseries.delete(id);
    }
    if (all) this.#compactStrings();
  }

  /** Keeps only the strings the kept events mention, renumbering them. */
  #compactStrings(): void {
    const ring = this.#ring;
    const strings: string[] = [];
    const ids = new Map<string, number>();
    const renumber = (old: number): number => {
      if (old < 0) return old;
      const text = this.#strings[old]!;
      let id = ids.get(text);
      if (id === undefined) {
        id = strings.length;
        strings.push(text);
        ids.set(text, id);
      }
      return id;
    };
    for (let k = 0, i = ring.first(); k < ring.count; k++, i = ring.next(i)) {
      const kind = ring.kind(i);
      if (kind === EventKind.BLOCK || kind === EventKind.CANCEL) {
        ring.setArguments(
          i,
          renumber(ring.a(i)),
          kind === EventKind.CANCEL ? renumber(ring.b(i)) : 0,
        );
      }
    }
    this.#strings = strings;
    this.#stringIds = ids;
  }
}
