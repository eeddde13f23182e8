/** Helpers shared by the sync primitives' tests. */
import { lowlevel, type Nursery, type Task, type TaskStatus } from "@weft/core";
import { waitAllTasksBlocked } from "@weft/testing";

/** Starts `fn` in a new task of `nursery`, lets it run until everyone is blocked, returns the task. */
export async function spawn(nursery: Nursery, fn: () => Promise<unknown>): Promise<Task> {
  const task = await nursery.start(async (status: TaskStatus<Task>) => {
    status.started(lowlevel.currentTask());
    await fn();
  });
  await waitAllTasksBlocked();
  return task;
}

/** What every lock-like primitive offers. */
export interface LockLike {
  acquire(): Promise<void>;
  acquireNowait(): void;
  release(): void;
}

/** Asserts that the calling task can take `x` at once (nobody holds it) and gives it back. */
export function expectFree(x: LockLike): void {
  x.acquireNowait();
  x.release();
}
