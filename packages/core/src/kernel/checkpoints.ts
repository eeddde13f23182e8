import { requireTask } from "./context.ts";
import type { TaskImpl } from "./task.ts";

/**
 * @internal A full checkpoint of `task`: a schedule point, then a cancel
 * point. The cancel check happens when the next batch resumes the task, after
 * the deadlines that passed while it ran have expired, and rejects its wait
 * directly: one promise hop, like raw `await null`.
 */
export function checkpointTask(task: TaskImpl): Promise<void> {
  return task.kernel.checkpointTask(task) as Promise<void>;
}

/**
 * A full checkpoint: lets every other runnable task take a step, then throws
 * `Cancelled` if the caller is in a cancelled scope.
 */
export function checkpoint(): Promise<void> {
  try {
    return checkpointTask(requireTask("checkpoint()"));
  } catch (error) {
    return Promise.reject(error); // outside run(): a promise-returning function never throws
  }
}

/**
 * @internal The cancel point of an operation of `task`: if the task is
 * cancelled, the promise the operation returns — a schedule point, then
 * `Cancelled` — else `null`. Every operation that raises `Cancelled` is a
 * schedule point first (SEMANTICS.md, "Run loop"): a loop that swallows
 * `Cancelled` cannot starve other tasks, timers or signals, as Trio's
 * `checkpoint_if_cancelled` is a full checkpoint when it raises.
 */
export function cancelPointOf(task: TaskImpl): Promise<never> | null {
  // First of all, as the first thing an operation does: a call where the task
  // cannot wait (a captured context, a callback) is refused before it takes,
  // queues or sends anything (SEMANTICS.md, "Async context": never resumes
  // the wrong task).
  const refused = task.kernel.refusal(task);
  if (refused !== null) return refused;
  if (task.cancelStatus?.effectivelyCancelled !== true) return null;
  return task.kernel.yieldThenThrow(task, task.makeCancelled());
}

/**
 * @internal Runs `operation` unless the calling task may not wait here (a
 * captured context, a callback; see Kernel.refusal), in which case the
 * refusal is returned as it is. For operations written as `async` functions
 * or `.then` chains: awaiting the refusal inside them would re-reject it in
 * their own promise, where nothing tracks whether it is handled, and an
 * unhandled one would end the process instead of reaching the run.
 */
export function unlessRefused<T>(what: string, operation: () => Promise<T>): Promise<T> {
  let refused: Promise<never> | null;
  try {
    refused = refusalOf(what);
  } catch (error) {
    return Promise.reject(error);
  }
  return refused ?? operation();
}

/**
 * @internal The refusal of `what` if the calling task may not wait here (see
 * {@link unlessRefused}), else `null`; outside `run()`, an `Error`.
 */
export function refusalOf(what: string): Promise<never> | null {
  const task = requireTask(what);
  return task.kernel.refusal(task);
}

/**
 * A cancel point: if the caller is cancelled, lets the other tasks run and
 * throws `Cancelled`; otherwise returns at once, without a schedule point.
 */
export function checkpointIfCancelled(): Promise<void> {
  try {
    return cancelPointOf(requireTask("checkpointIfCancelled()")) ?? Promise.resolve();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** @internal A cancel-shielded schedule point of `task` that resolves with `value`. */
export function yieldWith<T>(task: TaskImpl, value: T): Promise<T> {
  return task.kernel.yieldTask(task, value) as Promise<T>;
}

/** A schedule point that is not a cancel point: lets other tasks run, never throws `Cancelled`. */
export function cancelShieldedCheckpoint(): Promise<void> {
  try {
    const task = requireTask("cancelShieldedCheckpoint()");
    return task.kernel.yieldTask(task) as Promise<void>;
  } catch (error) {
    return Promise.reject(error);
  }
}
