import { requireTask, taskStorage } from "./context.ts";
import type { TaskImpl } from "./task.ts";

/**
 * After the yield of a checkpoint, the cancel point. Shared by every task: it
 * runs in the async context of the task that called `then`, which finds it.
 */
function cancelPointAfterYield(): void {
  const task = taskStorage.getStore()!;
  if (task.cancelStatus?.effectivelyCancelled === true) throw task.makeCancelled();
}

/** @internal A full checkpoint of `task`: a schedule point, then a cancel point. */
export function checkpointTask(task: TaskImpl): Promise<void> {
  // Yield first: deadlines are processed between batches, so the cancel
  // check after the yield sees a deadline that passed while we ran.
  return task.kernel.yieldTask(task).then(cancelPointAfterYield);
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
