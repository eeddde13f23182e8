/**
 * `periodic()`: a ticker on the run's clock, as an async iterator, with a
 * choice of what to do about ticks a slow consumer missed (the policies of
 * tokio's `MissedTickBehavior`; `skip` is also what Go's `time.Ticker` does).
 */
import { CancelScope, checkpoint, currentTime, sleepUntil } from "@weft/core";
import { ConflictDetector } from "@weft/core/streams";
import { checkOptionsObject, describeValue } from "@weft/core/validate";

/** What a `Ticker` does about ticks whose time passed while its consumer was busy. See `periodic`. */
export type MissedTickPolicy = "skip" | "burst" | "delay";

const POLICIES: readonly string[] = ["skip", "burst", "delay"];

/** Options of `periodic`. */
export interface PeriodicOptions {
  /** What to do about missed ticks (default `"skip"`). See `periodic`. */
  missedTicks?: MissedTickPolicy;
  /** Deliver the first tick at once, at creation time, instead of one interval later (default false). */
  immediate?: boolean;
  /**
   * The run-clock time (ms) of the first tick, instead of one interval after
   * creation. It may be in the past: the missed-tick policy then applies from
   * the start, which aligns a `skip` ticker to a grid (`startAt: 0`).
   */
  startAt?: number;
}

/** One tick of a `Ticker`. All times are the run clock's milliseconds (`currentTime()`). */
export interface Tick {
  /** When this tick was due. */
  readonly scheduled: number;
  /** When it was delivered (`>= scheduled`; later when the consumer was late). */
  readonly actual: number;
  /** Ticks dropped just before this one (only the `skip` policy drops ticks; 0 otherwise). */
  readonly missed: number;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * A periodic ticker: each `next()` waits on the run's clock until the next
 * tick is due and returns it. Made by `periodic`; see there for the policies.
 *
 * Nothing runs between ticks: the ticker holds a timer only while a `next()`
 * is waiting, so breaking out of a `for await` (or never calling `next()`
 * again) leaves nothing behind.
 */
export class Ticker implements AsyncIterableIterator<Tick, undefined, undefined> {
  /** The period, in milliseconds. */
  readonly intervalMs: number;
  /** The missed-tick policy. */
  readonly missedTicks: MissedTickPolicy;

  readonly #conflict = new ConflictDetector("another task is already waiting on this ticker");
  // Tick times are anchor + index * interval rather than a running sum, so a
  // fractional interval does not accumulate rounding error over many ticks.
  #anchor: number;
  #index = 0;
  #done = false;
  /** The scope around a waiting `next()`'s sleep, so `return()` from another task can end it. */
  #sleepScope: CancelScope | null = null;

  /** Use `periodic()`; the arguments are checked there. */
  constructor(intervalMs: number, missedTicks: MissedTickPolicy, firstTick: number) {
    this.intervalMs = intervalMs;
    this.missedTicks = missedTicks;
    this.#anchor = firstTick;
  }

  /** When the next tick is due (run-clock ms); `Infinity` once the ticker is done. */
  get nextTickAt(): number {
    return this.#done ? Infinity : this.#scheduledAt(this.#index);
  }

  #scheduledAt(index: number): number {
    return this.#anchor + index * this.intervalMs;
  }

  /**
   * Waits until the next tick is due and returns it; `{ done: true }` once
   * `return()` was called (also when it is called, from another task, while
   * this waits). Always a checkpoint, even when the tick is already due, so a
   * `burst` catch-up loop still lets other tasks run and can be cancelled. If
   * it is cancelled, no tick is consumed: the next call returns the same one.
   * A second task calling it while one waits gets `BusyResourceError`.
   */
  async next(): Promise<IteratorResult<Tick, undefined>> {
    this.#conflict.acquire();
    try {
      if (this.#done) {
        await checkpoint();
        return DONE;
      }
      const due = this.#scheduledAt(this.#index);
      // `delay` only moves the schedule for lateness of the consumer (the
      // tick was already due when asked for), not for the scheduling jitter
      // of waking from the sleep on a real clock.
      const late = currentTime() > due;
      const scope = new CancelScope();
      this.#sleepScope = scope;
      try {
        // A checkpoint even when `due` has passed (sleepUntil then yields and checks for cancellation).
        await scope.run(() => sleepUntil(due));
      } finally {
        this.#sleepScope = null;
      }
      if (this.#done) return DONE;
      return { done: false, value: this.#deliver(currentTime(), late) };
    } finally {
      this.#conflict.release();
    }
  }

  /** Consumes the tick that is due at `actual` and schedules the next one by the policy. */
  #deliver(actual: number, late: boolean): Tick {
    const interval = this.intervalMs;
    const due = this.#scheduledAt(this.#index);
    switch (this.missedTicks) {
      case "burst":
        this.#index += 1;
        return { scheduled: due, actual, missed: 0 };
      case "delay":
        if (late) {
          // The next tick is one interval after this late one was delivered.
          this.#anchor = actual;
          this.#index = 1;
        } else {
          this.#index += 1;
        }
        return { scheduled: due, actual, missed: 0 };
      case "skip": {
        // Deliver the latest grid tick that is due; the ones before it are dropped.
        let k = Math.max(this.#index, Math.floor((actual - this.#anchor) / interval));
        // Correct the division's rounding so that scheduledAt(k) <= actual < scheduledAt(k + 1).
        while (this.#scheduledAt(k + 1) <= actual) k++;
        while (k > this.#index && this.#scheduledAt(k) > actual) k--;
        const missed = k - this.#index;
        this.#index = k + 1;
        return { scheduled: this.#scheduledAt(k), actual, missed };
      }
    }
  }

  /**
   * Stops the ticker: later `next()` calls return `{ done: true }`, and a
   * `next()` waiting in another task returns `{ done: true }` at once. Not a
   * checkpoint (a `for await` calls it on `break`); idempotent.
   */
  return(): Promise<IteratorReturnResult<undefined>> {
    this.#done = true;
    this.#sleepScope?.cancel("ticker stopped");
    return Promise.resolve(DONE);
  }

  /** `return()`, for `await using ticker = periodic(…)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  /** The ticker is its own iterator (so it can be iterated once). */
  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * A ticker on the run's clock (so a `MockClock` drives it): an async iterable
 * that yields a `Tick` every `intervalMs` milliseconds. Call it inside a run;
 * the schedule is anchored at creation: the first tick is due at
 * `currentTime() + intervalMs` (or now with `immediate`, or at `startAt`).
 *
 * ```ts
 * for await (const tick of periodic(1000)) {
 *   await sendHeartbeat();
 *   if (done) break; // no timer is left behind
 * }
 * ```
 *
 * Ticks are due at `T0, T0 + P, T0 + 2P, …` (P = `intervalMs`). A consumer
 * that asks for a tick before it is due waits until it is due. The policies
 * differ only when the consumer asks late — below, P = 100, the first tick
 * is due at 100, and the consumer spends 0 ms on each tick except the one at
 * 100, which it spends until 450 on (so the ticks due at 200, 300 and 400
 * pass while it is busy):
 *
 * ```text
 *           scheduled → actual (missed)
 * skip:     100→100   400→450 (2)   500→500   600→600   …
 * burst:    100→100   200→450   300→450   400→450   500→500   600→600   …
 * delay:    100→100   200→450   550→550   650→650   …
 * ```
 *
 * - `"skip"` (default; Go's `time.Ticker`, tokio's `Skip`): a late consumer
 *   gets one tick at once — the latest one that is due, with `missed`
 *   counting the earlier due ticks that were dropped (here 200 and 300) —
 *   and the next tick is the next one of the original grid `T0 + kP` after
 *   now (500). The rhythm is kept; no burst.
 * - `"burst"` (tokio's `Burst`): every due tick is delivered, one per
 *   `next()` without waiting (each call still a checkpoint), until the
 *   consumer has caught up; then the original grid resumes. Nothing is
 *   dropped; `missed` is always 0.
 * - `"delay"` (tokio's `Delay`): a late consumer gets the late tick at once,
 *   and the schedule restarts from that moment: the next tick is due one
 *   interval after the late one was delivered (550). Ticks are never closer
 *   than the interval; `missed` is always 0.
 *
 * @param intervalMs The period in milliseconds: a finite number (`TypeError`
 *   otherwise) greater than 0 (`RangeError` otherwise).
 * @param options `missedTicks` (`TypeError` unless one of the three policies),
 *   `immediate` (a boolean) or `startAt` (a finite number), not both
 *   (`RangeError`).
 */
export function periodic(intervalMs: number, options?: PeriodicOptions): Ticker {
  if (typeof intervalMs !== "number" || !Number.isFinite(intervalMs)) {
    throw new TypeError(`intervalMs must be a finite number, got ${describeValue(intervalMs)}`);
  }
  if (intervalMs <= 0) {
    throw new RangeError(`intervalMs must be greater than 0, got ${intervalMs}`);
  }
  checkOptionsObject("options", options);
  const policy: unknown = options?.missedTicks ?? "skip";
  if (typeof policy !== "string" || !POLICIES.includes(policy)) {
    throw new TypeError(
      `options.missedTicks must be "skip", "burst" or "delay", got ${describeValue(policy)}`,
    );
  }
  const immediate: unknown = options?.immediate;
  if (immediate !== undefined && typeof immediate !== "boolean") {
    throw new TypeError(`options.immediate must be a boolean, got ${typeof immediate}`);
  }
  const startAt: unknown = options?.startAt;
  if (startAt !== undefined && (typeof startAt !== "number" || !Number.isFinite(startAt))) {
    throw new TypeError(`options.startAt must be a finite number, got ${describeValue(startAt)}`);
  }
  if (startAt !== undefined && immediate !== undefined) {
    throw new RangeError("give either options.immediate or options.startAt, not both");
  }
  const now = currentTime();
  const firstTick = startAt ?? (immediate === true ? now : now + intervalMs);
  return new Ticker(intervalMs, policy as MissedTickPolicy, firstTick);
}
