/**
 * `retry`: call a function again after it fails, with exponential backoff and
 * jitter, on the run's clock, inside the enclosing deadline.
 *
 * @packageDocumentation
 */
import { isCancelled } from "../errors/cancelled.ts";
import { ExceptionGroup } from "../errors/exception-group.ts";
import {
  checkChoice,
  checkCount,
  checkDuration,
  checkFunction,
  checkOptionsObject,
  describeValue,
} from "../errors/validate.ts";
import { checkpoint, refusalOf } from "../kernel/checkpoints.ts";
import { currentEffectiveDeadline } from "../scopes/timeouts.ts";
import { currentTime, sleep } from "../time/time.ts";

/**
 * How a delay is drawn from the exponential backoff `b`:
 * - `"full"`: uniformly at random in `[0, b]` — the "Full Jitter" of AWS's
 *   "Exponential Backoff And Jitter" (Marc Brooker, 2015), which spreads the
 *   retries of many clients that failed together;
 * - `"none"`: exactly `b`.
 */
export type RetryJitter = "full" | "none";

/** The options of {@link retry}. Every one is optional. */
export interface RetryOptions {
  /** Total number of calls, the first included: an integer ≥ 1, or `Infinity`. Default 3. */
  attempts?: number;
  /** The backoff before the second call, in ms (finite, ≥ 0). Default 100. */
  initialDelay?: number;
  /** The largest backoff, in ms (≥ 0, `Infinity` allowed); also caps `delayFor`. Default 10 000. */
  maxDelay?: number;
  /** Each backoff is the previous one times `factor` (finite, ≥ 1). Default 2. */
  factor?: number;
  /** How the delay is drawn from the backoff; see {@link RetryJitter}. Default `"full"`. */
  jitter?: RetryJitter;
  /**
   * Whether the error of call number `attempt` (counted from 1) is worth
   * another call. Default: every error. It is never asked about a `Cancelled`
   * (nor a group holding one): those always propagate.
   */
  retryIf?: (error: unknown, attempt: number) => boolean;
  /** The random source of the jitter: numbers in `[0, 1]`. Default `Math.random`. */
  random?: () => number;
  /** Called just before sleeping `delay` ms after call number `attempt` failed with `error`. */
  onRetry?: (error: unknown, attempt: number, delay: number) => void;
  /**
   * Overrides the delay after call number `attempt` failed (e.g. a server's
   * `Retry-After`): a number of ms (≥ 0; capped by `maxDelay`), or `undefined`
   * for the usual jittered `backoff`.
   */
  delayFor?: (error: unknown, attempt: number, backoff: number) => number | undefined;
}

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_INITIAL_DELAY = 100;
const DEFAULT_MAX_DELAY = 10_000;
const DEFAULT_FACTOR = 2;

/** Checks a finite number ≥ `min`, naming it. */
function checkFiniteAtLeast(name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describeValue(value)}`);
  }
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`${name} must be a finite number >= ${min}, got ${value}`);
  }
}

/**
 * Checks `options` as {@link retry} does, each message naming `name` and the
 * option (`name.attempts`…): a `TypeError` for a wrong type, a `RangeError`
 * for a value out of range. For wrappers that take retry options themselves
 * (as `@weft/net`'s `fetch` does), so their errors name their own argument.
 */
export function checkRetryOptions(
  name: string,
  options: unknown,
): asserts options is RetryOptions | undefined {
  checkOptionsObject(name, options);
  if (options === undefined) return;
  const o = options as Record<string, unknown>;
  if (o.attempts !== undefined) {
    checkCount(`${name}.attempts`, o.attempts, { min: 1, infinity: true });
  }
  if (o.initialDelay !== undefined) checkFiniteAtLeast(`${name}.initialDelay`, o.initialDelay, 0);
  if (o.maxDelay !== undefined) checkDuration(`${name}.maxDelay`, o.maxDelay);
  if (o.factor !== undefined) checkFiniteAtLeast(`${name}.factor`, o.factor, 1);
  checkChoice(`${name}.jitter`, o.jitter, ["full", "none"]);
  for (const hook of ["retryIf", "random", "onRetry", "delayFor"] as const) {
    if (o[hook] !== undefined) checkFunction(`${name}.${hook}`, o[hook]);
  }
}

/** A `Cancelled`, or a group holding one: never retried (SEMANTICS.md, "Retry"). */
function holdsCancelled(error: unknown): boolean {
  return (
    isCancelled(error) || (error instanceof ExceptionGroup && error.subgroup(isCancelled) !== null)
  );
}

/**
 * Calls `fn(attempt)` (attempt 1, 2, …) until it resolves, and resolves with
 * its value. After a failure it sleeps (weft's `sleep`, on the run's clock)
 * and calls again, while attempts remain and `retryIf` agrees.
 *
 * - The backoff after call `n` is `min(maxDelay, initialDelay * factor^(n-1))`;
 *   the delay is drawn from it by `jitter` ("full" by default: uniform in
 *   `[0, backoff]`), unless `delayFor` names one (capped by `maxDelay`).
 * - A `Cancelled` (or an `ExceptionGroup` holding one) is never retried: it
 *   propagates at once, and a cancellation during a sleep ends the sleep with
 *   `Cancelled` without calling `fn` again.
 * - It never sleeps past the enclosing deadline (`currentEffectiveDeadline()`):
 *   when the next sleep would not end before it, `retry` gives up at once.
 * - Giving up — no attempts left, `retryIf` said no, or the deadline — rejects
 *   with the last error itself: the same value `fn` threw, unchanged (nothing
 *   is attached to it; count calls with `onRetry` if you need to).
 * - An error thrown by `retryIf`, `random`, `onRetry` or `delayFor`, or a bad
 *   number returned by `random` or `delayFor`, rejects `retry` with it.
 *
 * `retry` adds no checkpoint of its own before the first call: its
 * checkpoints are `fn`'s and the sleeps. Bad arguments reject with a
 * `TypeError` or `RangeError` naming the option.
 *
 * ```ts
 * const user = await failAfter(5000, () =>
 *   retry((attempt) => getUser(id), { attempts: 5, initialDelay: 200 }),
 * );
 * ```
 */
export function retry<T>(fn: (attempt: number) => Promise<T>, options?: RetryOptions): Promise<T> {
  let refused: Promise<never> | null;
  try {
    checkFunction("fn", fn);
    checkRetryOptions("options", options);
    refused = refusalOf("retry()");
  } catch (error) {
    return Promise.reject(error); // a bad argument, or outside run()
  }
  return refused ?? retryChecked(fn, options ?? {});
}

async function retryChecked<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  const initialDelay = options.initialDelay ?? DEFAULT_INITIAL_DELAY;
  const maxDelay = options.maxDelay ?? DEFAULT_MAX_DELAY;
  const factor = options.factor ?? DEFAULT_FACTOR;
  const jitter = options.jitter ?? "full";
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (holdsCancelled(error)) throw error;
      if (attempt >= attempts) throw error;
      if (options.retryIf !== undefined && !options.retryIf(error, attempt)) throw error;
      // 0 * Infinity would be NaN: a zero initial delay stays zero.
      const backoff =
        initialDelay === 0 ? 0 : Math.min(maxDelay, initialDelay * factor ** (attempt - 1));
      let delay = options.delayFor?.(error, attempt, backoff);
      if (delay === undefined) {
        delay = jitter === "none" ? backoff : backoff * checkedRandom(random);
      } else {
        checkDuration("the delay returned by options.delayFor", delay);
        delay = Math.min(delay, maxDelay);
      }
      // Already cancelled (-Infinity): this checkpoint raises the Cancelled,
      // which is the scope's to catch; nothing more is tried.
      let deadline = currentEffectiveDeadline();
      if (deadline === -Infinity) {
        await checkpoint();
        deadline = currentEffectiveDeadline();
      }
      // Never sleep past the deadline (SEMANTICS.md, "Retry"): a sleep that
      // would end at or after it would only end in Cancelled, so give up now
      // with the error that is worth reporting.
      if (currentTime() + delay >= deadline) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}

function checkedRandom(random: () => number): number {
  const value = random();
  if (typeof value !== "number") {
    throw new TypeError(`options.random() must return a number, got ${describeValue(value)}`);
  }
  if (!(value >= 0 && value <= 1)) {
    throw new RangeError(`options.random() must return a number in [0, 1], got ${value}`);
  }
  return value;
}
