import { checkDeadline, checkDuration } from "../errors/validate.ts";
import { checkpointTask } from "../kernel/checkpoints.ts";
import { requireTask } from "../kernel/context.ts";
import type { DeadlineEntry } from "../kernel/deadline-heap.ts";
import { ABORT_SUCCEEDS, Abort, type WaitOptions } from "../kernel/kernel.ts";
import type { KernelAbortFn, TaskImpl } from "../kernel/task.ts";

const SLEEPING: WaitOptions = { waitingFor: "sleep" };
const SLEEPING_FOREVER: WaitOptions = { waitingFor: "sleepForever" };

/** Fires a sleeper's timer: the entry's data is the sleeping task, whose waitData is the entry. */
function wakeSleeper(entry: DeadlineEntry): void {
  const task = entry.data as TaskImpl;
  if (task.waitData === entry) task.kernel.reschedule(task, false, undefined);
}

/** Cancelling a sleep removes its timer (kept in the task's waitData). */
const abortSleep: KernelAbortFn = (_raiseCancel, task) => {
  const timer = task.waitData as DeadlineEntry | undefined;
  if (timer !== undefined) task.kernel.removeDeadline(timer);
  return Abort.SUCCEEDED;
};

// These return the kernel's wait promise itself rather than awaiting it in an
// async function: a blocked task then holds one suspended frame fewer.
function sleepUntilIn(task: TaskImpl, deadline: number): Promise<void> {
  const kernel = task.kernel;
  if (deadline <= kernel.currentTime()) return checkpointTask(task);
  if (deadline === Infinity) return sleepForeverIn(task);
  // Refused (the task is already waiting: code in its captured context), the
  // task's own wait — maybe a sleep too — must keep its timer.
  const refused = kernel.refusal(task);
  if (refused !== null) return refused;
  const wait = kernel.park(task, abortSleep, SLEEPING) as Promise<void>;
  // Arm the timer only if the wait is still on (parking in a cancelled scope aborts it at once).
  if (task.abortFn === abortSleep) task.waitData = kernel.addDeadline(deadline, wakeSleeper, task);
  return wait;
}

/** Only a cancellation ends this wait (its abort always succeeds), so it never resolves. */
function sleepForeverIn(task: TaskImpl): Promise<never> {
  return task.kernel.park(task, ABORT_SUCCEEDS, SLEEPING_FOREVER) as Promise<never>;
}

/** Sleeps for `ms` milliseconds of the run's clock. `sleep(0)` is a checkpoint. */
export function sleep(ms: number): Promise<void> {
  try {
    checkDuration("ms", ms);
    const task = requireTask("sleep()");
    return sleepUntilIn(task, ms === Infinity ? Infinity : task.kernel.currentTime() + ms);
  } catch (error) {
    return Promise.reject(error); // a bad argument, or outside run()
  }
}

/** Sleeps until the run's clock reaches `deadline` (a checkpoint if it already has). */
export function sleepUntil(deadline: number): Promise<void> {
  try {
    checkDeadline("deadline", deadline);
    return sleepUntilIn(requireTask("sleepUntil()"), deadline);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Blocks until cancelled. */
export function sleepForever(): Promise<never> {
  try {
    return sleepForeverIn(requireTask("sleepForever()"));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The current time of the run's clock, in milliseconds. */
export function currentTime(): number {
  return requireTask("currentTime()").kernel.currentTime();
}
