import type { Task } from "./task.ts";

/**
 * Chooses which runnable tasks run their next step. The kernel calls
 * `selectBatch` between batches with the runnable tasks in the order they
 * became runnable; the tasks it returns run as the next batch, the rest wait.
 * A task made runnable during a batch joins the list for a later batch.
 */
export interface Scheduler {
  /**
   * Returns a non-empty selection of `runnable` (or `runnable` itself, to run
   * them all, in order). Must not modify `runnable`.
   */
  selectBatch(runnable: readonly Task[]): readonly Task[];
}

/** The default policy: each batch runs every runnable task, first come first served. */
export class FifoScheduler implements Scheduler {
  selectBatch(runnable: readonly Task[]): readonly Task[] {
    return runnable;
  }
}

export function checkScheduler(value: unknown): asserts value is Scheduler {
  const scheduler = value as Partial<Scheduler> | null;
  if (
    scheduler === null ||
    typeof scheduler !== "object" ||
    typeof scheduler.selectBatch !== "function"
  ) {
    throw new TypeError("options.scheduler must be a Scheduler (an object with selectBatch)");
  }
}
