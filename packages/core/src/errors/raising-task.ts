/**
 * Which task raised an error: recorded when a task (or a nursery's body) ends
 * with it, so that reports and exception-group messages can name the task. A
 * registry rather than a property, so frozen errors and thrown non-errors
 * cost nothing and an error's own fields are never touched.
 */

const raisedBy = new WeakMap<object, string>();

/** @internal Records that the task named `taskName` raised `error` (the first task to raise it wins). */
export function recordRaisingTask(error: unknown, taskName: string): void {
  if (error === null || (typeof error !== "object" && typeof error !== "function")) return;
  if (!raisedBy.has(error)) raisedBy.set(error, taskName);
}

/**
 * The name of the weft task that raised `error` (the first task whose body
 * ended with it), or `undefined` if no task did — for logging and reports:
 *
 * ```ts
 * catch (e) { logger.error({ task: taskNameOf(e) }, String(e)); }
 * ```
 */
export function taskNameOf(error: unknown): string | undefined {
  if (error === null || (typeof error !== "object" && typeof error !== "function")) return;
  return raisedBy.get(error);
}
