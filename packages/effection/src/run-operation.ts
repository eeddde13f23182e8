/**
 * weft → Effection: a weft task awaits an Effection operation, as a checkpoint.
 */
import { Err, lowlevel, Ok, type Task } from "@weft/core";
import { checkFunction, describeValue } from "@weft/core/validate";
import {
  type Effect,
  type Operation,
  race,
  run as runEffection,
  spawn,
  withResolvers,
} from "effection";
import type { OperationFactory } from "./types.ts";

/** What the stop operation yields: the operation lost the race against a weft cancellation. */
const STOPPED: unique symbol = Symbol("stopped by weft");
type Stopped = typeof STOPPED;

const WAIT_OPTIONS: lowlevel.WaitOptions = {
  waitingFor: "an Effection operation (runOperation)",
  // Only Effection (the host's timers and promises) can wake the task: a run on
  // a virtual clock is not deadlocked while it waits.
  external: true,
};

function isOperation(value: unknown): value is Operation<unknown> {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function"
  );
}

/**
 * Runs an Effection operation from a weft task and resolves with its value,
 * or rejects with its error (the same object).
 *
 * `runOperation` is a weft checkpoint. Called in a cancelled scope it starts
 * nothing and rejects with `Cancelled` (after a schedule point). If the
 * enclosing cancel scope is cancelled while the operation runs, the operation
 * is halted, and every `finally` block it and its spawned children have run to
 * completion — including ones that themselves wait — before `runOperation`
 * rejects with weft's `Cancelled`. An operation that finished before the halt
 * reached it keeps its result ("cancelled means it didn't happen"); an error
 * raised while halting replaces the `Cancelled`, as an error from a `finally`
 * would.
 *
 * The Effection task runs outside weft's task context (see
 * `lowlevel.runOutsideTask`): weft operations called directly from Effection
 * code are refused there; use {@link weftOperation} to run weft code from it.
 *
 * @param operation - a function returning the Effection operation, as
 *   Effection's `run()` takes it: `() => sleep(10)`, `function* () { … }`.
 * @returns the operation's value. Rejects with a `TypeError` naming
 *   `operation` when it is not a function or does not return an operation.
 *
 * ```ts
 * import { moveOnAfter } from "@weft/core";
 * import { runOperation } from "@weft/effection";
 * import { sleep } from "effection";
 *
 * await moveOnAfter(100, () => runOperation(function* () {
 *   try { yield* sleep(1000); } finally { yield* sleep(5); } // runs before moveOnAfter returns
 * }));
 * ```
 */
export function runOperation<T>(operation: OperationFactory<T>): Promise<T> {
  try {
    checkFunction("operation", operation);
    // A schedule point and Cancelled when already cancelled, or the refusal
    // where this task cannot wait: in either case nothing is started.
    const cancelled = lowlevel.cancelPoint("runOperation()");
    if (cancelled !== null) return cancelled;
    return bridge(lowlevel.currentTask(), operation);
  } catch (error) {
    return Promise.reject(error);
  }
}

function bridge<T>(task: Task, operation: OperationFactory<T>): Promise<T> {
  const stop = withResolvers<Stopped>("weft cancellation");
  // The user's operation runs as a child task; the bridge waits for it or for
  // a stop that only weft's abort triggers. On a stop the child is halted, and
  // `halt()` returns only once its teardown is over (every finally, its own
  // children's too) and throws an error raised during it, so the Effection
  // task settles with STOPPED, or with that error, only after cleanup. An
  // error of the operation or of a child comes back as the task's rejection.
  // (Neither Task.halt() from outside — whose rejection cannot tell a halt
  // from an error named "halted" — nor race() over the operation itself —
  // which drops an error thrown by a loser's finally — would do.)
  function* bridged(): Generator<Effect<unknown>, T | Stopped, unknown> {
    const op: unknown = operation();
    if (!isOperation(op)) {
      throw new TypeError(`operation must return an Effection operation, got ${describeValue(op)}`);
    }
    const child = yield* spawn(() => op as Operation<T>);
    const first = yield* race([child, stop.operation]);
    if (first !== STOPPED) return first;
    yield* child.halt();
    return STOPPED;
  }
  // Outside the task's context: Effection's callbacks are not steps of this task.
  const effectionTask = lowlevel.runOutsideTask(() => runEffection(bridged));
  let cancelled: unknown;
  effectionTask.then(
    (value) => lowlevel.reschedule(task, value === STOPPED ? Err(cancelled) : Ok(value)),
    (error: unknown) => lowlevel.reschedule(task, Err(error)),
  );
  return lowlevel.waitTaskRescheduled((raiseCancel) => {
    try {
      raiseCancel();
    } catch (error) {
      cancelled = error; // the Cancelled to deliver once the halt is over
    }
    // Abort.FAILED: the wait cannot be undone at once; the task is rescheduled
    // by the handler above, exactly once, when the Effection task has settled.
    // Effection's code (the halt, the finally blocks) runs after this callback,
    // not inside the kernel's delivery of the cancellation.
    lowlevel.runOutsideTask(() => queueMicrotask(() => stop.resolve(STOPPED)));
    return lowlevel.Abort.FAILED;
  }, WAIT_OPTIONS) as Promise<T>;
}
