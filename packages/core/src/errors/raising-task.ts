/**
 * Which task raised an error: recorded when a task (or a nursery's body) ends
 * with it, so that reports and exception-group messages can name the task. A
 * registry rather than a property, so frozen errors and thrown non-errors
 * cost nothing and an error's own fields are never touched.
 */

import { type RaisedBy, RaisedBySlot } from "./raised-by-slot.ts";

const raisedBy = new WeakMap<object, RaisedBy>();

/**
 * @internal Records that the task named `taskName` of `run` raised `error`.
 * Within a run the first task to raise it wins (a parent re-raising its
 * child's error does not take it over); an error object raised again in
 * another run (a shared constant) is that run's.
 */
export function recordRaisingTask(error: unknown, taskName: string, run: object): void {
  if (error === null || (typeof error !== "object" && typeof error !== "function")) return;
  if (RaisedBySlot.has(error)) {
    // weft's own Cancelled: a hidden slot instead of the WeakMap (raised-by-slot.ts).
    if (RaisedBySlot.get(error)?.run !== run) RaisedBySlot.set(error, { run, task: taskName });
  } else if (raisedBy.get(error)?.run !== run) {
    raisedBy.set(error, { run, task: taskName });
  }
}

/**
 * The name of the weft task that raised `error` (the first task whose body
 * ended with it, in the latest run it was raised in), or `undefined` if no
 * task did — for logging and reports:
 *
 * ```ts
 * catch (e) { logger.error({ task: taskNameOf(e) }, String(e)); }
 * ```
 */
export function taskNameOf(error: unknown): string | undefined {
  if (error === null || (typeof error !== "object" && typeof error !== "function")) return;
  if (RaisedBySlot.has(error)) return RaisedBySlot.get(error)?.task;
  return raisedBy.get(error)?.task;
}
