import { createCancelled } from "../errors/cancelled.ts";
import { isRevokedProxy } from "../errors/validate.ts";
import { requireTask } from "../kernel/context.ts";
import { Abort, type WaitOptions } from "../kernel/kernel.ts";
import type { TaskImpl } from "../kernel/task.ts";

const NEVER_ABORTED = new AbortController().signal;
const FOREIGN_WORK: WaitOptions = { waitingFor: "cancellable (foreign promise)", external: true };

/**
 * An `AbortSignal` that aborts when the calling task's current cancel state
 * becomes cancelled (its reason is the `Cancelled` the task would see). Hand
 * it to any API that takes a signal: `fetch`, `fs/promises`, `timers/promises`,
 * `child_process`, `events.once`.
 *
 * Calls in the same cancel state return the same signal. Once aborted, a
 * signal stays aborted; if the task then stops being cancelled (a `shield`
 * turned on), the next call returns a fresh, unaborted signal.
 */
export function currentSignal(): AbortSignal {
  const task = requireTask("currentSignal()");
  const status = task.cancelStatus;
  if (status === null) return NEVER_ABORTED;
  return status.signal(() => createCancelled(status.scope.cancelReason));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    !isRevokedProxy(value) &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

async function cancellableIn<T>(
  task: TaskImpl,
  work: PromiseLike<T> | ((signal: AbortSignal) => PromiseLike<T>),
): Promise<T> {
  const kernel = task.kernel;
  if (task.cancelStatus?.effectivelyCancelled === true) {
    // Cancelled before we began: a function is never called; a promise's
    // eventual rejection is swallowed.
    if (typeof work !== "function") Promise.resolve(work).then(undefined, () => {});
    return kernel.yieldThenThrow(task, task.makeCancelled()); // a schedule point first
  }
  const controller = new AbortController();
  const promise = typeof work === "function" ? work(controller.signal) : work;
  if (!isThenable(promise)) {
    throw new TypeError("the work function passed to cancellable() must return a promise");
  }
  // The work function is user code: it may itself have started a weft
  // operation of this task (a generator pulled inside it that sleeps). Then
  // this task may not wait here, and nothing must wake it for this work later.
  const refused = kernel.refusal(task);
  if (refused !== null) {
    Promise.resolve(promise).then(undefined, () => {});
    return refused;
  }
  let waiting = true;
  Promise.resolve(promise).then(
    (value) => {
      if (waiting) {
        waiting = false;
        kernel.reschedule(task, false, value);
      }
    },
    (error) => {
      // After a cancellation the promise is abandoned: its rejection is swallowed here.
      if (waiting) {
        waiting = false;
        kernel.reschedule(task, true, error);
      }
    },
  );
  return (await kernel.park(
    task,
    (raiseCancel) => {
      waiting = false;
      let reason: unknown;
      try {
        raiseCancel();
      } catch (cancelled) {
        reason = cancelled;
      }
      controller.abort(reason);
      return Abort.SUCCEEDED;
    },
    FOREIGN_WORK,
  )) as T;
}

/**
 * Awaits foreign work as a checkpoint. `work` is a promise, or a function
 * given an `AbortSignal` that returns one (preferred: the work is then really
 * stopped). On cancellation the signal is aborted and `Cancelled` is thrown at
 * once, without waiting for the work to settle.
 *
 * ```ts
 * const res = await cancellable((signal) => fetch(url, { signal }));
 * ```
 */
export function cancellable<T>(
  work: PromiseLike<T> | ((signal: AbortSignal) => PromiseLike<T>),
): Promise<T> {
  try {
    if (typeof work !== "function" && !isThenable(work)) {
      throw new TypeError(
        "work must be a promise or a function that takes an AbortSignal and returns a promise",
      );
    }
    const task = requireTask("cancellable()");
    // Refused before the work is started or watched: nothing could wake the task later.
    return task.kernel.refusal(task) ?? cancellableIn(task, work);
  } catch (error) {
    return Promise.reject(error);
  }
}
