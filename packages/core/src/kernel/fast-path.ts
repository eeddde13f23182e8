/**
 * The kernel-internal fast path of weft's own primitives (issue 19).
 *
 * The primitives are written against the low-level API's model (see
 * lowlevel/waits.ts): an operation is a cancel point, then either a schedule
 * point or a wait until someone reschedules the task, and it behaves exactly
 * as if it called those public functions. What their public forms pay per
 * call, and a primitive does not need, is what this module leaves out:
 *
 * - a context lookup (`AsyncLocalStorage.getStore`) in each of `cancelPoint`,
 *   `currentTask`, `waitTaskRescheduled` and `cancelShieldedCheckpoint`: an
 *   operation looks its task up once (`requireTask`) and passes it along;
 * - the argument checks of `waitTaskRescheduled` and `reschedule`, and the
 *   `Result` object each `reschedule` takes: {@link wake} and
 *   {@link wakeWithError} pass the outcome's parts;
 * - a closure per wait for its abort callback: a primitive parks with one
 *   shared {@link KernelAbortFn} that finds its queue node in the task's
 *   `waitData` (set right after {@link parkTask}, before anything can abort).
 *
 * The channels (sync/channel.ts) and parking lots (lowlevel/parking-lot.ts,
 * under Lock, Semaphore, Event, Condition, CapacityLimiter) use it; this is
 * the one place that explains it.
 */
import type { WaitOptions } from "./kernel.ts";
import type { KernelAbortFn, TaskImpl } from "./task.ts";
import type { Task } from "./types.ts";

/** `waitTaskRescheduled` for `task`, the caller (looked up already). */
export function parkTask(
  task: TaskImpl,
  abort: KernelAbortFn,
  options: WaitOptions | undefined,
): Promise<unknown> {
  return task.kernel.park(task, abort, options);
}

/** `reschedule(task, Ok(value))` without the `Result`. */
export function wake(task: Task, value?: unknown): void {
  const impl = task as TaskImpl;
  impl.kernel.reschedule(impl, false, value);
}

/** `reschedule(task, Err(error))` without the `Result`. */
export function wakeWithError(task: Task, error: unknown): void {
  const impl = task as TaskImpl;
  impl.kernel.reschedule(impl, true, error);
}
