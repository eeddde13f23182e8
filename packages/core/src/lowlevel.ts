/**
 * The low-level API, for building primitives the way weft builds its own:
 * block with `waitTaskRescheduled`, wake with `reschedule`.
 */
import { Err, Ok, type Result } from "ts-results-es";
import { cancelPointOf, unlessRefused } from "./checkpoints.ts";
import type { Clock } from "./clock.ts";
import { requireTask } from "./context.ts";
import { BrokenResourceError } from "./errors.ts";
import { checkInstrument, type Instrument } from "./instrument.ts";
import type { AbortFn, WaitOptions } from "./kernel.ts";
import { type BreakableLot, type Task, TaskImpl, TaskState } from "./task.ts";
import { checkDuration, checkFunction, checkOptionalName, checkOptionsObject } from "./validate.ts";

export { Abort, type AbortFn, type WaitOptions } from "./kernel.ts";
export { ParkingLot, type WaitingFor } from "./parking-lot.ts";
export { RunVar } from "./run-var.ts";

/** The calling task. */
export function currentTask(): Task {
  return requireTask("lowlevel.currentTask()");
}

/** The run's root task (the ancestor of every task, including the main task). */
export function currentRootTask(): Task {
  return requireTask("lowlevel.currentRootTask()").kernel.rootTask!;
}

/**
 * Blocks the calling task until someone calls `reschedule(task, outcome)`;
 * resolves with the outcome's value or rejects with its error. If the task's
 * cancel scope is (or becomes) cancelled, `abort` is called once: return
 * `Abort.SUCCEEDED` if the wait was undone (the task then gets `Cancelled`),
 * or `Abort.FAILED` and reschedule it yourself later (`raiseCancel` throws the
 * `Cancelled` to deliver).
 */
export function waitTaskRescheduled(abort: AbortFn, options?: WaitOptions): Promise<unknown> {
  try {
    checkFunction("abort", abort);
    checkOptionsObject("options", options);
    const task = requireTask("lowlevel.waitTaskRescheduled()");
    return task.kernel.park(task, abort, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Wakes a task blocked in `waitTaskRescheduled` with `outcome` (default `Ok(undefined)`). Exactly once per wait. */
export function reschedule(task: Task, outcome: Result<unknown, unknown> = Ok.EMPTY): void {
  if (!(task instanceof TaskImpl)) throw new TypeError("task must be a weft Task");
  if (!(outcome instanceof Ok) && !(outcome instanceof Err)) {
    throw new TypeError("outcome must be a Result (Ok or Err from ts-results-es)");
  }
  task.kernel.reschedule(task, outcome.isErr(), outcome.isErr() ? outcome.error : outcome.value);
}

/**
 * Starts a task in the run's system nursery: it is cancelled when the main
 * task finishes, and an error it raises crashes the whole run.
 */
export function spawnSystemTask(fn: () => Promise<unknown>, options?: { name?: string }): Task {
  checkFunction("fn", fn);
  checkOptionsObject("options", options);
  checkOptionalName("options.name", options?.name);
  const kernel = requireTask("lowlevel.spawnSystemTask()").kernel;
  return kernel.systemNursery!.spawnChild(fn, options?.name ?? (fn.name || "system task"));
}

/**
 * The cancel point of an operation that returns its promise directly instead
 * of being an `async` function: if the calling task is in a cancelled scope,
 * returns the promise to return from the operation — a schedule point, then
 * `Cancelled` — otherwise `null`, at no cost. Every operation that raises
 * `Cancelled` must be a schedule point first, or a loop that catches
 * `Cancelled` would starve every other task, timer and signal.
 * `operation` names the caller in the error raised outside `run()`. Called
 * where the task cannot wait (a callback it registered, code run in its
 * captured async context), it returns the rejection to return instead, so
 * call it before the operation takes, queues or sends anything. Outside
 * `run()` it returns a rejection with the `Error` saying so (an operation that
 * returns a promise never throws synchronously).
 *
 * ```ts
 * receive(): Promise<Item> {
 *   const cancelled = lowlevel.cancelPoint("Queue.receive()");
 *   if (cancelled !== null) return cancelled;
 *   // … take an item, or park
 * }
 * ```
 */
export function cancelPoint(operation = "lowlevel.cancelPoint()"): Promise<never> | null {
  try {
    return cancelPointOf(requireTask(operation));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The run's clock. */
export function currentClock(): Clock {
  return requireTask("lowlevel.currentClock()").kernel.clock;
}

export function addInstrument(instrument: Instrument): void {
  checkInstrument(instrument);
  requireTask("lowlevel.addInstrument()").kernel.addInstrument(instrument);
}

export function removeInstrument(instrument: Instrument): void {
  checkInstrument(instrument);
  requireTask("lowlevel.removeInstrument()").kernel.removeInstrument(instrument);
}

export interface RunStatistics {
  /** Tasks started and not yet exited (including the root task). */
  tasksLiving: number;
  /** Tasks waiting for the next batch. */
  tasksRunnable: number;
  /** Time until the earliest pending deadline (Infinity if none). */
  msToNextDeadline: number;
}

export function currentStatistics(): RunStatistics {
  const kernel = requireTask("lowlevel.currentStatistics()").kernel;
  return {
    tasksLiving: kernel.tasksLiving,
    tasksRunnable: kernel.runnableCount,
    msToNextDeadline: kernel.msToNextDeadline(),
  };
}

/**
 * Waits until every other task of the run is blocked, and has been for
 * `cushionMs` real milliseconds. Among several waiters the smallest cushion
 * wakes first; waiters are served before a virtual clock autojumps.
 */
export function waitAllTasksBlocked(cushionMs = 0): Promise<void> {
  try {
    checkDuration("cushionMs", cushionMs);
  } catch (error) {
    return Promise.reject(error);
  }
  return unlessRefused("waitAllTasksBlocked()", () => {
    const task = requireTask("waitAllTasksBlocked()");
    return task.kernel.waitAllTasksBlocked(task, cushionMs) as Promise<void>;
  });
}

/** A tree of the run's tasks and what each one is blocked on, for debugging hung programs. */
export function dumpTasks(): string {
  return requireTask("lowlevel.dumpTasks()").kernel.dumpTasks();
}

function checkTask(task: unknown): asserts task is TaskImpl {
  if (!(task instanceof TaskImpl)) throw new TypeError("task must be a weft Task");
}

/**
 * Breaks `lot` if `task` exits before `removeParkingLotBreaker` is called: what
 * a lock does for its owner, so that waiters are not stuck forever behind a
 * task that died holding the lock.
 */
export function addParkingLotBreaker(task: Task, lot: BreakableLot): void {
  checkTask(task);
  if (task.state === TaskState.DONE) {
    throw new BrokenResourceError("cannot register an exited task as a parking lot breaker");
  }
  // An array, not a Map: a lock registers and removes its owner on every
  // handoff, and a Map's hash table churns; repeats count as registrations.
  task.lotsToBreak ??= [];
  task.lotsToBreak.push(lot);
}

/** Undoes one `addParkingLotBreaker(task, lot)` (registrations are counted). */
export function removeParkingLotBreaker(task: Task, lot: BreakableLot): void {
  checkTask(task);
  const lots = task.lotsToBreak;
  if (lots !== null && lots[lots.length - 1] === lot) {
    lots.pop(); // the usual case: the last registration is undone first
    return;
  }
  const index = lots === null ? -1 : lots.lastIndexOf(lot);
  if (index < 0) {
    throw new Error(
      "removeParkingLotBreaker: this task is not registered as a breaker of this lot",
    );
  }
  lots!.splice(index, 1);
}
