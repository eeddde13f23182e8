import { Err, Ok, type Result } from "ts-results-es";
import { BrokenResourceError } from "../errors/errors.ts";
import {
  checkBoolean,
  checkCount,
  checkInstance,
  checkOptionsObject,
  isInstance,
} from "../errors/validate.ts";
import { requireTask } from "../kernel/context.ts";
import { parkTask } from "../kernel/fast-path.ts";
import { Abort } from "../kernel/kernel.ts";
import { type KernelAbortFn, TaskImpl } from "../kernel/task.ts";
import type { Task } from "../kernel/types.ts";
import { reschedule } from "./waits.ts";

/** What a parked task waits for, for deadlock reports and task dumps. */
export type WaitingFor = string | (() => string);

/** A parked task's place in a lot's queue; `repark` moves it to another lot without waking it. */
interface Parked {
  readonly task: Task;
  lot: ParkingLot;
  prev: Parked | null;
  next: Parked | null;
}

/**
 * A strictly FIFO queue of blocked tasks: the building block of weft's
 * synchronisation primitives, and of yours. `park()` blocks the calling task
 * until another task `unpark`s it (or it is cancelled, which removes it from
 * the queue). It behaves as if built on `waitTaskRescheduled` / `reschedule`
 * like any primitive a user could write (it takes the kernel's fast path to
 * them: kernel/fast-path.ts).
 *
 * ```ts
 * const lot = new lowlevel.ParkingLot();
 * // task A:               // task B:
 * await lot.park();        lot.unpark();
 * ```
 */
export class ParkingLot {
  /** Cancelled, a parked task leaves whichever lot it is in now (the node is the task's waitData). */
  static readonly #abortPark: KernelAbortFn = (_raiseCancel, task) => {
    const parked = task.waitData as Parked;
    parked.lot.#remove(parked);
    return Abort.SUCCEEDED;
  };

  // Parked tasks in arrival order: a doubly linked list (O(1) removal, and no
  // hash-table churn when the queue keeps going between 0 and 1 entries).
  #head: Parked | null = null;
  #tail: Parked | null = null;
  #size = 0;
  #broken = false;
  #brokenBy: Task | null = null;
  readonly #describe: WaitingFor;
  readonly #external: boolean;

  /**
   * `waitingFor` says, in deadlock reports, what parked tasks are waiting for.
   * `external`: the tasks are woken from outside the run (I/O callbacks), so
   * while one is parked here a run on a virtual clock is not deadlocked.
   */
  constructor(waitingFor: WaitingFor = "ParkingLot.park", options?: { external?: boolean }) {
    if (typeof waitingFor !== "string" && typeof waitingFor !== "function") {
      throw new TypeError("waitingFor must be a string or a function returning one");
    }
    checkOptionsObject("options", options);
    const external = options?.external ?? false;
    checkBoolean("options.external", external);
    this.#describe = waitingFor;
    this.#external = external;
  }

  /** How many tasks are parked. */
  get size(): number {
    return this.#size;
  }

  /** True once `breakLot` was called: parking fails with `BrokenResourceError`. */
  get broken(): boolean {
    return this.#broken;
  }

  /** A snapshot of the lot: how many tasks are parked. */
  statistics(): {
    /** How many tasks are parked. */
    tasksWaiting: number;
  } {
    return { tasksWaiting: this.#size };
  }

  /**
   * Blocks until unparked; resolves with the value `unpark` was given (or
   * rejects with its error). Cancellable: a cancelled task leaves the queue.
   */
  park<T = void>(): Promise<T> {
    try {
      const task = requireTask("ParkingLot.park()"); // outside run(), the returned promise rejects
      const refused = task.kernel.refusal(task);
      if (refused !== null) return refused;
      if (this.#broken) throw this.#brokenError();
      const parked: Parked = { task, lot: this, prev: null, next: null };
      this.#append(parked);
      // Not refused (checked above): the park takes place, and its abort finds the node here.
      task.waitData = parked;
      return parkTask(
        task,
        ParkingLot.#abortPark,
        // A function of the node, so a task reparked elsewhere reports its new lot.
        { waitingFor: () => parked.lot.#waitingFor(), external: this.#external },
      ) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Wakes the first `count` parked tasks (FIFO) with `outcome` — what their
   * `park()` resolves with, or an `Err` it rejects with (default: resolves
   * with `undefined`); returns them.
   */
  unpark(count = 1, outcome: Result<unknown, unknown> = Ok.EMPTY): Task[] {
    if (!isInstance(outcome, Ok) && !isInstance(outcome, Err)) {
      throw new TypeError("outcome must be a Result (Ok or Err from ts-results-es)");
    }
    if (count === 1) {
      // The common case (a lock or semaphore handing over): no intermediate arrays.
      const first = this.#head;
      if (first === null) return [];
      this.#remove(first);
      reschedule(first.task, outcome);
      return [first.task];
    }
    checkCount("count", count, { infinity: true });
    const woken = this.#take(count).map((parked) => parked.task);
    for (const task of woken) reschedule(task, outcome);
    return woken;
  }

  /** Wakes every parked task with `outcome` (see `unpark`). */
  unparkAll(outcome: Result<unknown, unknown> = Ok.EMPTY): Task[] {
    return this.unpark(Infinity, outcome);
  }

  /**
   * Moves the first `count` parked tasks to `newLot` without waking them: they
   * queue there behind its own tasks (this is how a Condition hands waiters to
   * its lock).
   */
  repark(newLot: ParkingLot, count = 1): void {
    checkInstance("newLot", newLot, ParkingLot, "a ParkingLot");
    checkCount("count", count, { infinity: true });
    for (const parked of this.#take(count)) {
      if (newLot.#broken) {
        reschedule(parked.task, Err(newLot.#brokenError()));
        continue;
      }
      parked.lot = newLot;
      newLot.#append(parked);
    }
  }

  /** Moves every parked task to `newLot`. */
  reparkAll(newLot: ParkingLot): void {
    this.repark(newLot, Infinity);
  }

  /**
   * Breaks the lot: every parked task, and every later `park()`, fails with
   * `BrokenResourceError`. `task` is who broke it (for the message), e.g. the
   * owner of a lock that exited without releasing it.
   */
  breakLot(task?: Task): void {
    if (task !== undefined) checkInstance("task", task, TaskImpl, "a weft Task");
    if (this.#broken) return;
    this.#broken = true;
    this.#brokenBy = task ?? null;
    for (const parked of this.#take(Infinity)) reschedule(parked.task, Err(this.#brokenError()));
  }

  #waitingFor(): string {
    return typeof this.#describe === "function" ? this.#describe() : this.#describe;
  }

  #brokenError(): BrokenResourceError {
    const by = this.#brokenBy === null ? "" : ` by ${String(this.#brokenBy)}`;
    return new BrokenResourceError(`parking lot broken${by}`);
  }

  /** Removes the first `count` parked tasks from the queue, with their entries. */
  #take(count: number): Parked[] {
    const taken: Parked[] = [];
    while (this.#head !== null && taken.length < count) {
      const parked = this.#head;
      this.#remove(parked);
      taken.push(parked);
    }
    return taken;
  }

  #append(parked: Parked): void {
    parked.prev = this.#tail;
    parked.next = null;
    if (this.#tail !== null) this.#tail.next = parked;
    else this.#head = parked;
    this.#tail = parked;
    this.#size++;
  }

  #remove(parked: Parked): void {
    if (parked.prev !== null) parked.prev.next = parked.next;
    else this.#head = parked.next;
    if (parked.next !== null) parked.next.prev = parked.prev;
    else this.#tail = parked.prev;
    parked.prev = parked.next = null;
    this.#size--;
  }
}
