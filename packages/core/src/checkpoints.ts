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
  return checkpointTask(requireTask("checkpoint()"));
}

/** A cancel point without a schedule point: throws `Cancelled` if the caller is cancelled, else returns at once. */
export function checkpointIfCancelled(): Promise<void> {
  const task = requireTask("checkpointIfCancelled()");
  if (task.cancelStatus?.effectivelyCancelled === true) return Promise.reject(task.makeCancelled());
  return Promise.resolve();
}

/** A schedule point that is not a cancel point: lets other tasks run, never throws `Cancelled`. */
export function cancelShieldedCheckpoint(): Promise<void> {
  const task = requireTask("cancelShieldedCheckpoint()");
  return task.kernel.yieldTask(task) as Promise<void>;
}
