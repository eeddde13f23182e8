import { requireTask } from "./context.ts";
import type { TaskImpl } from "./task.ts";

/** @internal A full checkpoint of `task`: a schedule point, then a cancel point. */
export async function checkpointTask(task: TaskImpl): Promise<void> {
  // Yield first: deadlines are processed between batches, so the cancel
  // check after the yield sees a deadline that passed while we ran.
  await task.kernel.yieldTask(task);
  if (task.cancelStatus?.effectivelyCancelled === true) throw task.makeCancelled();
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
export async function cancelShieldedCheckpoint(): Promise<void> {
  const task = requireTask("cancelShieldedCheckpoint()");
  await task.kernel.yieldTask(task);
}
