/**
 * Leaving weft's task identity behind, for bridges to other runtimes.
 */
import { checkFunction } from "../errors/validate.ts";
import { taskStorage } from "../kernel/context.ts";

/**
 * Calls `fn` synchronously in the current async context with weft's own task
 * identity removed, and returns what it returns. Every other
 * `AsyncLocalStorage` value (request ids, tracing spans) stays as it was.
 *
 * Code started there — and every callback it registers — runs as if outside
 * `run()`: a weft operation called there fails with the `UsageError` saying so, and
 * `run()` may start a separate run (it is not a nested run). Bridges to other
 * runtimes (`@weft/effection`) start foreign code this way, so that the
 * foreign scheduler's callbacks are never taken for steps of the calling task
 * (SEMANTICS.md, "Async context": such code would otherwise be refused).
 *
 * ```ts
 * const task = lowlevel.runOutsideTask(() => effection.run(operation));
 * ```
 */
export function runOutsideTask<T>(fn: () => T): T {
  checkFunction("fn", fn);
  return taskStorage.exit(fn);
}
