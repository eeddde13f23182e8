import { AssertionError } from "node:assert";
import { type Instrument, lowlevel, type Task } from "@weft/core";
import { checkFunction } from "@weft/core/validate";

/**
 * Runs `fn` in the calling task, counting the schedule points it executes: the
 * task ending its step and becoming runnable again (a `checkpoint()`, a
 * `sleep`, a wait that blocked and was woken). An instrument sees this as
 * `taskScheduled` for the calling task.
 */
async function countSchedulePoints<T>(
  fn: () => Promise<T> | T,
  check: (schedulePoints: number, failed: boolean) => void,
): Promise<T> {
  checkFunction("fn", fn);
  const task: Task = lowlevel.currentTask();
  let schedulePoints = 0;
  const instrument: Instrument = {
    taskScheduled(scheduled) {
      if (scheduled === task) schedulePoints++;
    },
  };
  lowlevel.addInstrument(instrument);
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    lowlevel.removeInstrument(instrument);
    check(schedulePoints, true);
    throw error;
  }
  lowlevel.removeInstrument(instrument);
  check(schedulePoints, false);
  return result;
}

/**
 * Runs `fn` and fails with an `AssertionError` if it returned without executing
 * a checkpoint (a schedule point: it never let other tasks run). An error
 * thrown by `fn` is passed on unchecked.
 *
 * Weft's checkpoints are schedule points and cancel points together, except
 * `cancelShieldedCheckpoint()`, which this cannot tell apart.
 */
export function assertCheckpoints<T>(fn: () => Promise<T>): Promise<T> {
  return countSchedulePoints(fn, (schedulePoints, failed) => {
    if (!failed && schedulePoints === 0) {
      throw new AssertionError({
        message: "assertCheckpoints: the function did not execute a checkpoint (it never yielded)",
        operator: "assertCheckpoints",
      });
    }
  });
}

/**
 * Runs `fn` and fails with an `AssertionError` if it executed a checkpoint
 * (a schedule point), whether it returned or threw.
 */
export function assertNoCheckpoints<T>(fn: () => Promise<T>): Promise<T> {
  return countSchedulePoints(fn, (schedulePoints) => {
    if (schedulePoints > 0) {
      throw new AssertionError({
        message: `assertNoCheckpoints: the function executed ${schedulePoints} schedule point(s)`,
        operator: "assertNoCheckpoints",
      });
    }
  });
}
