import { CancelScope, isCancelled, run } from "@weft/core";
import { MockClock } from "@weft/testing";

/**
 * One call of the bad-input fuzz test, bounded so that nothing hangs: inside
 * a run on a MockClock (cancelled after virtual or real time, the run aborted
 * if it ignores that), or outside any run (bounded in real time); what the
 * call made, its receiver and their resources are closed afterwards.
 */

/** Virtual milliseconds a call may block before it counts as a hang (or is cancelled). */
const VIRTUAL_BOUND = 60_000;
/** Real milliseconds a call may take before it is cancelled (I/O does not autojump). */
const REAL_BOUND = 200;
/** Real milliseconds before a run that ignored its cancellation counts as a hang. */
const HANG_BOUND = 2_000;

/**
 * Makes an instance to call methods and setters on, inside a run (and
 * outside, if it can be made synchronously there). `defer` registers a
 * cleanup run after the case (the instance itself is closed if it has
 * `aclose`).
 */
export type Receiver = (defer: (cleanup: () => unknown) => void) => unknown;

export type Outcome =
  | { kind: "threw"; error: unknown }
  | { kind: "returned"; value: unknown }
  | { kind: "rejected"; error: unknown }
  | { kind: "resolved"; value: unknown }
  | { kind: "blocked" }
  | { kind: "hang" }
  | { kind: "run failed"; error: unknown }
  | { kind: "no receiver"; error: unknown };

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** Calls and settles, bounded; `cancelled` tells a rejection caused by the bound apart. */
async function callBounded(
  call: () => unknown,
  isBound: (error: unknown) => boolean,
): Promise<Outcome> {
  let returned: unknown;
  try {
    returned = call();
  } catch (error) {
    return { kind: "threw", error };
  }
  if (!isThenable(returned)) return { kind: "returned", value: returned };
  try {
    return { kind: "resolved", value: await returned };
  } catch (error) {
    if (isBound(error)) return { kind: "blocked" };
    return { kind: "rejected", error };
  }
}

/** Settles with `promise`, or with `onTimeout()` after `ms` real milliseconds. */
function realTimeBound<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function insideRun(
  makeArguments: () => Promise<unknown[]>,
  call: (receiver: unknown, args: unknown[]) => unknown,
  receiver: Receiver | undefined,
): Promise<Outcome> {
  const controller = new AbortController();
  let outcome: Outcome = { kind: "hang" };
  const cleanups: (() => unknown)[] = [];
  const main = async () => {
    let instance: unknown;
    let args: unknown[];
    try {
      instance = await receiver?.((cleanup) => cleanups.push(cleanup));
      args = await makeArguments();
    } catch (error) {
      outcome = { kind: "no receiver", error };
      return;
    }
    const scope = new CancelScope({ relativeDeadline: VIRTUAL_BOUND });
    const timer = setTimeout(() => scope.cancel("the test's real-time bound"), REAL_BOUND);
    try {
      await scope.run(async () => {
        outcome = await callBounded(
          () => call(instance, args),
          (error) => isCancelled(error) && scope.cancelCalled,
        );
      });
      if (scope.cancelledCaught && outcome.kind === "hang") outcome = { kind: "blocked" };
    } finally {
      clearTimeout(timer);
      // What the call made (a listener, a socket…), then the receiver.
      if (outcome.kind === "returned" || outcome.kind === "resolved") {
        await closeQuietly(outcome.value);
      }
      await closeQuietly(instance);
      for (const cleanup of cleanups.splice(0).reverse()) await closeQuietly({ aclose: cleanup });
    }
  };
  const ran = run(main, {
    clock: new MockClock({ autojumpThreshold: 0 }),
    signal: controller.signal,
    handleSignals: false,
  }).then(
    () => outcome,
    (error: unknown): Outcome => {
      if (outcome.kind === "hang") return { kind: "run failed", error };
      return {
        kind: "run failed",
        error: new Error(`after ${describeOutcome(outcome)}`, { cause: error }),
      };
    },
  );
  return realTimeBound(ran, HANG_BOUND, () => {
    controller.abort(new Error("the test's hang bound"));
    return { kind: "hang" };
  });
}

/** Closes `value` (each element of an array) if it has `aclose`; best effort, bounded. */
async function closeQuietly(value: unknown): Promise<void> {
  let resources: unknown[];
  try {
    resources = Array.isArray(value) ? value : [value];
  } catch {
    return; // a revoked proxy handed back
  }
  for (const resource of resources) {
    const scope = new CancelScope({ shield: true, relativeDeadline: 1_000 });
    await scope.run(async () => {
      try {
        const aclose = (resource as { aclose?: unknown } | undefined)?.aclose;
        if (typeof aclose === "function") await (aclose as () => Promise<void>).call(resource);
      } catch {
        // a resource the case broke: closing it is best effort
      }
    });
  }
}

export async function outsideRun(
  makeArguments: () => Promise<unknown[]>,
  call: (receiver: unknown, args: unknown[]) => unknown,
  receiver: Receiver | undefined,
): Promise<Outcome | null> {
  let instance: unknown;
  let args: unknown[];
  try {
    args = await makeArguments();
  } catch {
    return null; // valid arguments made inside a run only
  }
  try {
    instance = receiver?.(() => {});
    if (isThenable(instance)) {
      // Made inside a run only (outside, it rejects saying so).
      instance.then(undefined, () => {});
      return null;
    }
  } catch {
    return null;
  }
  return realTimeBound(
    callBounded(
      () => call(instance, args),
      () => false,
    ),
    REAL_BOUND,
    () => ({ kind: "blocked" }),
  );
}

export function describeOutcome(outcome: Outcome): string {
  switch (outcome.kind) {
    case "threw":
    case "rejected":
    case "run failed":
    case "no receiver":
      return `${outcome.kind} ${describeError(outcome.error)}`;
    default:
      return outcome.kind;
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause === undefined ? "" : ` (cause: ${describeError(error.cause)})`;
    return `${error.constructor.name}: ${error.message}${cause}`;
  }
  try {
    return `the non-error ${String(error)}`;
  } catch {
    return "a non-error";
  }
}
