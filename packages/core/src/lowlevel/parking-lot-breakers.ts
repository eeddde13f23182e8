/**
 * Parking lots broken by their holder's exit: what a lock does for its owner,
 * so that waiters are not stuck forever behind a task that died holding it.
 */
import { BrokenResourceError, UsageError } from "../errors/errors.ts";
import { checkInstance, checkMethods } from "../errors/validate.ts";
import { type BreakableLot, TaskImpl, TaskState } from "../kernel/task.ts";
import type { Task } from "../kernel/types.ts";

function checkTask(task: unknown): asserts task is TaskImpl {
  checkInstance("task", task, TaskImpl, "a weft Task");
}

/** A lot is kept until the task exits, then broken: a bad one would fail the kernel then. */
function checkLot(lot: unknown): asserts lot is BreakableLot {
  checkMethods("lot", lot, ["breakLot"], "a ParkingLot (a breakLot method)");
}

/**
 * Breaks `lot` if `task` exits before `removeParkingLotBreaker` is called: what
 * a lock does for its owner, so that waiters are not stuck forever behind a
 * task that died holding the lock.
 */
export function addParkingLotBreaker(task: Task, lot: BreakableLot): void {
  checkTask(task);
  checkLot(lot);
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
  checkLot(lot);
  const lots = task.lotsToBreak;
  if (lots !== null && lots[lots.length - 1] === lot) {
    lots.pop(); // the usual case: the last registration is undone first
    return;
  }
  const index = lots === null ? -1 : lots.lastIndexOf(lot);
  if (index < 0) {
    throw new UsageError(
      "removeParkingLotBreaker: this task is not registered as a breaker of this lot",
    );
  }
  lots!.splice(index, 1);
}
