import { Err } from "ts-results-es";
import { BrokenResourceError } from "./errors.ts";
import { Abort, currentTask, reschedule, waitTaskRescheduled } from "./lowlevel.ts";
import type { Task } from "./task.ts";

/** What a parked task waits for, for deadlock reports and task dumps. */
export type WaitingFor = string | (() => string);

function checkCount(count: unknown): asserts count is number {
  if (typeof count !== "number") throw new TypeError(`count must be a number, got ${typeof count}`);
  if (!(count >= 0) || (!Number.isInteger(count) && count !== Infinity)) {
    throw new RangeError(`count must be a non-negative integer or Infinity, got ${count}`);
  }
}

/** Which lot a parked task is in now; `repark` moves it without waking it. */
interface Parked {
  lot: ParkingLot;
}

/**
 * A strictly FIFO queue of blocked tasks: the building block of weft's
 * synchronisation primitives, and of yours. `park()` blocks the calling task
 * until another task `unpark`s it (or it is cancelled, which removes it from
 * the queue). Built on `waitTaskRescheduled` / `reschedule` like any primitive
 * a user could write.
 *
 * ```ts
 * const lot = new lowlevel.ParkingLot();
 * // task A:               // task B:
 * await lot.park();        lot.unpark();
 * ```
 */
export class ParkingLot {
  /** Parked tasks in arrival order (a Map keeps insertion order and deletes in O(1)). */
  #parked = new Map<Task, Parked>();
  #broken = false;
  #brokenBy: Task | null = null;
  readonly #describe: WaitingFor;

  /** `waitingFor` says, in deadlock reports, what parked tasks are waiting for. */
  constructor(waitingFor: WaitingFor = "ParkingLot.park") {
    if (typeof waitingFor !== "string" && typeof waitingFor !== "function") {
      throw new TypeError("waitingFor must be a string or a function returning one");
    }
    this.#describe = waitingFor;
  }

  /** How many tasks are parked. */
  get size(): number {
    return this.#parked.size;
  }

  /** True once `breakLot` was called: parking fails with `BrokenResourceError`. */
  get broken(): boolean {
    return this.#broken;
  }

  statistics(): { tasksWaiting: number } {
    return { tasksWaiting: this.#parked.size };
  }

  /** Blocks until unparked. Cancellable: a cancelled task leaves the queue. */
  park(): Promise<void> {
    const task = currentTask();
    if (this.#broken) return Promise.reject(this.#brokenError());
    const parked: Parked = { lot: this };
    this.#parked.set(task, parked);
    return waitTaskRescheduled(
      () => {
        parked.lot.#parked.delete(task);
        return Abort.SUCCEEDED;
      },
      { waitingFor: () => parked.lot.#waitingFor() },
    ) as Promise<void>;
  }

  /** Wakes the first `count` parked tasks (FIFO); returns them. */
  unpark(count = 1): Task[] {
    checkCount(count);
    const woken = this.#take(count).map(([task]) => task);
    for (const task of woken) reschedule(task);
    return woken;
  }

  /** Wakes every parked task. */
  unparkAll(): Task[] {
    return this.unpark(Infinity);
  }

  /**
   * Moves the first `count` parked tasks to `newLot` without waking them: they
   * queue there behind its own tasks (this is how a Condition hands waiters to
   * its lock).
   */
  repark(newLot: ParkingLot, count = 1): void {
    if (!(newLot instanceof ParkingLot)) throw new TypeError("newLot must be a ParkingLot");
    checkCount(count);
    for (const [task, parked] of this.#take(count)) {
      if (newLot.#broken) {
        reschedule(task, Err(newLot.#brokenError()));
        continue;
      }
      parked.lot = newLot;
      newLot.#parked.set(task, parked);
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
    if (this.#broken) return;
    this.#broken = true;
    this.#brokenBy = task ?? null;
    for (const [task] of this.#take(Infinity)) reschedule(task, Err(this.#brokenError()));
  }

  #waitingFor(): string {
    return typeof this.#describe === "function" ? this.#describe() : this.#describe;
  }

  #brokenError(): BrokenResourceError {
    const by = this.#brokenBy === null ? "" : ` by ${String(this.#brokenBy)}`;
    return new BrokenResourceError(`parking lot broken${by}`);
  }

  /** Removes the first `count` parked tasks, with their entries. */
  #take(count: number): [Task, Parked][] {
    const taken: [Task, Parked][] = [];
    for (const entry of this.#parked) {
      if (taken.length >= count) break;
      taken.push(entry);
    }
    for (const [task] of taken) this.#parked.delete(task);
    return taken;
  }
}
