/**
 * Waiting for foreign work that must not be abandoned: work that holds a file
 * descriptor until it settles (opening a file, Node's whole-file `readFile`,
 * closing). Abandoning it on cancellation would let a descriptor outlive the
 * cancelled scope, even the run; so a cancellation only asks the work to stop
 * (`onCancel`, e.g. aborting its signal) and the task keeps waiting — the way
 * Trio waits for a thread it cannot abandon.
 */
import { type Cancelled, lowlevel, Ok } from "@weft/core";

/** How the work ended, and the `Cancelled` the task received meanwhile, if any. */
export type Settled<T> =
  | { readonly ok: true; readonly value: T; readonly cancelled: Cancelled | null }
  | { readonly ok: false; readonly error: unknown; readonly cancelled: Cancelled | null };

/**
 * Parks the calling task (an external wait) until `work` settles. If the task
 * is cancelled meanwhile, `onCancel` is called once and the wait goes on; the
 * caller then decides what the outcome means (`cancelled` is non-null). Never
 * rejects: the work's error is in the result.
 */
export function waitUntilSettled<T>(
  work: Promise<T>,
  waitingFor: string,
  onCancel?: () => void,
): Promise<Settled<T>> {
  const task = lowlevel.currentTask();
  let cancelled: Cancelled | null = null;
  // `then` callbacks run in a later microtask, after the park below.
  work.then(
    (value) => lowlevel.reschedule(task, Ok({ ok: true, value, cancelled })),
    (error: unknown) => lowlevel.reschedule(task, Ok({ ok: false, error, cancelled })),
  );
  return lowlevel.waitTaskRescheduled(
    (raiseCancel) => {
      try {
        raiseCancel();
      } catch (error) {
        cancelled = error as Cancelled;
      }
      onCancel?.();
      return lowlevel.Abort.FAILED;
    },
    { waitingFor, external: true },
  ) as Promise<Settled<T>>;
}
