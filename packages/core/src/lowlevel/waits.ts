/**
 * The one way to block, as the low-level API offers it: a task waits in
 * `waitTaskRescheduled` until someone calls `reschedule` for it; an operation
 * returns `cancelPoint()` first. Every primitive of weft is built on these,
 * the way a user could build one.
 */
import { Err, Ok, type Result } from "ts-results-es";
import {
  checkFunction,
  checkInstance,
  checkOptionalBoolean,
  checkOptionalName,
  checkOptionsObject,
  describeValue,
  isInstance,
} from "../errors/validate.ts";
import { cancelPointOf } from "../kernel/checkpoints.ts";
import { requireTask } from "../kernel/context.ts";
import type { AbortFn, WaitOptions } from "../kernel/kernel.ts";
import { TaskImpl, TaskState } from "../kernel/task.ts";
import type { Task } from "../kernel/types.ts";

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
    // Read once, here: the kernel keeps the options of a wait and must not
    // meet a bad value (or a throwing getter) later, outside any user call.
    const { waitingFor, external } = options ?? {};
    if (
      waitingFor !== undefined &&
      typeof waitingFor !== "string" &&
      typeof waitingFor !== "function"
    ) {
      throw new TypeError(
        `options.waitingFor must be a string or a function, got ${describeValue(waitingFor)}`,
      );
    }
    checkOptionalBoolean("options.external", external);
    const task = requireTask("lowlevel.waitTaskRescheduled()");
    return task.kernel.park(task, abort, options && { waitingFor, external });
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Whether `task` is suspended in a weft operation: blocked in
 * `waitTaskRescheduled` (as every weft operation blocks), or woken and not
 * yet resumed (a task that has not taken its first step counts too). A
 * cancellation of a scope around that operation reaches the task there.
 * False while its code runs, while it awaits a non-weft promise, and once it
 * has exited. For code that runs on a task's behalf from a callback — an
 * abort listener, say — and must not hurry the task past an operation it is
 * still in (see `writeResponse` in @weft/net).
 */
export function isInWeftOperation(task: Task): boolean {
  checkInstance("task", task, TaskImpl, "a weft Task");
  return task.state === TaskState.PARKED || task.state === TaskState.RUNNABLE;
}

/** Wakes a task blocked in `waitTaskRescheduled` with `outcome` (default `Ok(undefined)`). Exactly once per wait. */
export function reschedule(task: Task, outcome: Result<unknown, unknown> = Ok.EMPTY): void {
  checkInstance("task", task, TaskImpl, "a weft Task");
  if (!isInstance(outcome, Ok) && !isInstance(outcome, Err)) {
    throw new TypeError("outcome must be a Result (Ok or Err from ts-results-es)");
  }
  task.kernel.reschedule(task, outcome.isErr(), outcome.isErr() ? outcome.error : outcome.value);
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
    checkOptionalName("operation", operation);
    return cancelPointOf(requireTask(operation));
  } catch (error) {
    return Promise.reject(error);
  }
}
