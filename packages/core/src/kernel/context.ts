import { AsyncLocalStorage } from "node:async_hooks";
import { UsageError } from "../errors/errors.ts";
import type { TaskImpl } from "./task.ts";

/**
 * The current task travels with the async context: every continuation of a
 * task's code sees it, including callbacks the task registers with the host
 * (timers, events). The task in turn knows its kernel and its cancel status.
 */
export const taskStorage: AsyncLocalStorage<TaskImpl> = new AsyncLocalStorage<TaskImpl>();

/** The task calling this, or `undefined` outside any run. */
export function currentTaskOrUndefined(): TaskImpl | undefined {
  return taskStorage.getStore();
}

/**
 * The task calling `what` (possibly one of a finished run), or an `Error`
 * saying that `what` must be called inside `run()`.
 */
export function requireTask(what: string): TaskImpl {
  const task = taskStorage.getStore();
  if (task === undefined) {
    throw new UsageError(
      `${what} must be called inside weft's run(): no weft task is running here`,
    );
  }
  // A task of a run that has finished (a callback that outlived the run):
  // operations that would wait are refused by the kernel with a rejection,
  // never a synchronous throw (SEMANTICS.md, "Async context").
  return task;
}
