/**
 * Waiting for Node I/O from a weft task. Every wait here is an external wait
 * (`{ external: true }`): a run on a virtual clock is not reported deadlocked
 * while I/O is in flight.
 */
import type { EventEmitter } from "node:events";
import { lowlevel, type Task } from "@weft/core";

/** Parks the current task on an external (I/O) wait; `onAbort` runs if it is cancelled. */
export function waitExternal(waitingFor: string, onAbort: () => void): Promise<unknown> {
  return lowlevel.waitTaskRescheduled(
    () => {
      onAbort();
      return lowlevel.Abort.SUCCEEDED;
    },
    { waitingFor, external: true },
  );
}

/** An `'error'` listener for emitters whose errors are reported elsewhere (or not at all). */
export function ignoreError(): void {}

/**
 * Waits until `emitter` emits `event` (resolves) or `'error'` (rejects with that
 * error). If the wait is cancelled, the listeners are removed, an `'error'`
 * listener that ignores later errors is left in place, and `Cancelled` is thrown:
 * the caller then disposes of the emitter.
 */
export async function waitForEvent(
  emitter: EventEmitter,
  event: string,
  waitingFor: string,
): Promise<void> {
  let outcome: { error: unknown } | "done" | null = null;
  let waiter: Task | null = null;
  const settle = (value: { error: unknown } | "done") => {
    if (outcome !== null) return;
    outcome = value;
    emitter.off(event, onEvent);
    emitter.off("error", onError);
    if (waiter !== null) {
      const task = waiter;
      waiter = null;
      lowlevel.reschedule(task);
    }
  };
  const onEvent = () => settle("done");
  const onError = (error: unknown) => settle({ error });
  emitter.on(event, onEvent);
  emitter.on("error", onError);
  try {
    waiter = lowlevel.currentTask();
    await waitExternal(waitingFor, () => {
      waiter = null;
    });
  } catch (error) {
    emitter.off(event, onEvent);
    emitter.off("error", onError);
    emitter.on("error", ignoreError);
    throw error;
  }
  const result = outcome as { error: unknown } | "done" | null;
  if (result !== "done")
    throw result === null ? new Error(`${waitingFor}: woken without an outcome`) : result.error;
}
