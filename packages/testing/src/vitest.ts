/**
 * `@weft/testing/vitest`: weft runs as vitest tests — `weftTest` (a test body run inside `run()`,
 * on a `MockClock` by default), `weftRun`, and property tests whose runs explore task
 * schedules and shrink a failure to a minimal one (`weftProperty`, `weftAsyncProperty`).
 *
 * @packageDocumentation
 */
import { type Clock, checkRunOptions, type RunOptions, run } from "@weft/core";
import { checkArray, checkFunction, checkInstance, checkOptionsObject } from "@weft/core/validate";
import * as fc from "fast-check";
import { test } from "vitest";
import { DeterministicScheduler } from "./deterministic-scheduler.ts";
import { MockClock } from "./mock-clock.ts";
import { type SchedulesOptions, schedules } from "./schedules.ts";

/** Options of {@link weftTest}: run options (its own timeout signal prints the task tree: no `dumpTasksOn`). */
export interface WeftTestOptions extends Omit<RunOptions, "dumpTasksOn"> {
  /** Real milliseconds before vitest fails the test (default: vitest's testTimeout). */
  timeout?: number;
}

/**
 * Runs `body` as the main task of a run on a `MockClock` with
 * `autojumpThreshold: 0` (virtual time jumps as soon as every task is blocked),
 * unless `options.clock` says otherwise.
 */
export function weftRun<T>(body: () => Promise<T>, options: RunOptions = {}): Promise<T> {
  try {
    checkFunction("body", body);
    checkOptionsObject("options", options);
    // Inside the try too: reading the options may throw (a getter).
    return run(body, {
      ...options,
      clock: options.clock ?? new MockClock({ autojumpThreshold: 0 }),
    });
  } catch (error) {
    // Rejects (never throws synchronously), as run() does with its arguments.
    return Promise.reject(error);
  }
}

/**
 * A vitest test whose body runs inside `weftRun`. If it times out, the run's
 * task tree is printed to stderr (each task and what it waits on) and the
 * run is cancelled:
 *
 * ```ts
 * weftTest("times out after an hour", async () => {
 *   await expect(failAfter(3_600_000, sleepForever)).rejects.toThrow(TooSlowError);
 * });
 * ```
 */
export function weftTest(
  name: string,
  body: () => Promise<unknown>,
  options: WeftTestOptions = {},
): void {
  const { timeout, ...runOptions } = options;
  test(
    name,
    // vitest aborts the context's signal when the test times out: the run
    // prints its task tree (what each task is stuck on) and is cancelled, so
    // its finally blocks run instead of the run living on unseen.
    ({ signal }) =>
      weftRun(body, {
        ...runOptions,
        dumpTasksOn: signal,
        signal:
          runOptions.signal === undefined ? signal : AbortSignal.any([runOptions.signal, signal]),
      }).then(() => undefined),
    timeout,
  );
}

/** The fast-check arbitraries of a property, one per generated value. */
export type Arbitraries<Ts extends unknown[]> = { [K in keyof Ts]: fc.Arbitrary<Ts[K]> };

/** Options of {@link weftAsyncProperty}. */
export interface WeftPropertyRunOptions extends Omit<RunOptions, "scheduler" | "clock"> {
  /** How the schedules are generated (see {@link schedules}). */
  schedules?: SchedulesOptions;
  /** A fresh clock per run (default: `new MockClock({ autojumpThreshold: 0 })`). */
  clock?: () => Clock;
}

/** Options of {@link weftProperty}: run options, fast-check parameters and a vitest timeout. */
export interface WeftPropertyOptions<Ts extends unknown[] = unknown[]>
  extends WeftPropertyRunOptions {
  /** fast-check parameters: `numRuns`, `seed`, `path`, `verbose`… (default: fast-check's). */
  fc?: fc.Parameters<[...Ts, WeftSchedule]>;
  /** Real milliseconds before vitest fails the test (default: vitest's testTimeout). */
  timeout?: number;
}

/**
 * The value fast-check generates for the schedule of a {@link weftAsyncProperty}
 * (the last element of a counterexample). fast-check clones it (with the
 * scheduler it holds) before running it again, as it does while it shrinks
 * the other values, so each run normally uses the generated scheduler. Should
 * one serve several runs, every run still gets a fresh scheduler: the
 * generated one on first use, then one replaying the choices it made. Prints
 * the replay and trace of the last failing run (of the last run if none failed).
 */
export class WeftSchedule {
  readonly #generated: DeterministicScheduler;
  #runs = 0;
  #last: DeterministicScheduler | undefined;
  #failed: DeterministicScheduler | undefined;

  constructor(generated: DeterministicScheduler) {
    checkInstance("generated", generated, DeterministicScheduler, "a DeterministicScheduler");
    this.#generated = generated;
  }

  /** The scheduler of the last failing run (of the last run if none failed; undefined before any). */
  get scheduler(): DeterministicScheduler | undefined {
    return this.#failed ?? this.#last;
  }

  /** A fresh scheduler for the next run. */
  next(): DeterministicScheduler {
    const scheduler =
      this.#runs++ === 0
        ? this.#generated
        : new DeterministicScheduler({
            choices: this.#generated.choices,
            wrapChoices: true,
            afterChoices: "fifo",
          });
    this.#last = scheduler;
    return scheduler;
  }

  /** Records that the run of `scheduler` failed. */
  failed(scheduler: DeterministicScheduler): void {
    checkInstance("scheduler", scheduler, DeterministicScheduler, "a DeterministicScheduler");
    this.#failed = scheduler;
  }

  /** `new DeterministicScheduler({ choices: [...], afterChoices: "fifo" })` and the trace. */
  toString(): string {
    return String(this.scheduler ?? this.#generated);
  }

  /** fast-check prints counterexamples with this. */
  [Symbol.for("fast-check/toStringMethod")](): string {
    return this.toString();
  }
}

/**
 * A fast-check property whose body runs as the main task of a weft run, once
 * per generated value tuple, on a fresh {@link DeterministicScheduler} from a
 * generated schedule ({@link schedules}) and a fresh autojumping `MockClock`.
 * The body gets the generated values, then the scheduler. A counterexample
 * lists the values, then the shrunk schedule as its replay
 * (`new DeterministicScheduler({ choices: [...], afterChoices: "fifo" })`)
 * followed by its step-by-step trace.
 *
 * Use it with `fc.assert` / `fc.check`; {@link weftProperty} wraps it in a
 * vitest test.
 *
 * ```ts
 * await fc.assert(weftAsyncProperty([fc.nat(5)], async (n, scheduler) => { ... }));
 * ```
 */
export function weftAsyncProperty<Ts extends unknown[]>(
  arbitraries: Arbitraries<Ts>,
  body: (...args: [...Ts, DeterministicScheduler]) => Promise<unknown>,
  options: WeftPropertyRunOptions = {},
): fc.IAsyncProperty<[...Ts, WeftSchedule]> {
  checkArray("arbitraries", arbitraries);
  checkFunction("body", body);
  checkOptionsObject("options", options);
  const { schedules: schedulesOptions, clock, ...runOptions } = options;
  // Checked with a virtual clock, as every run here has one (a MockClock, or
  // the factory's, which run() checks itself): closedWorld needs autojump.
  checkRunOptions("options", { ...runOptions, clock: new MockClock({ autojumpThreshold: 0 }) });
  checkOptionsObject("options.schedules", schedulesOptions);
  if (clock !== undefined) checkFunction("options.clock", clock);
  const all = [
    ...arbitraries,
    schedules(schedulesOptions).map((generated) => new WeftSchedule(generated)),
  ] as unknown as Arbitraries<[...Ts, WeftSchedule]>;
  // fast-check's asyncProperty takes the arbitraries spread, then the predicate.
  const asyncProperty = fc.asyncProperty as unknown as (
    ...args: [...Arbitraries<[...Ts, WeftSchedule]>, (...values: unknown[]) => Promise<void>]
  ) => fc.IAsyncProperty<[...Ts, WeftSchedule]>;
  return asyncProperty(...all, async (...values: unknown[]) => {
    const schedule = values[values.length - 1] as WeftSchedule;
    const scheduler = schedule.next();
    const args = [...values.slice(0, -1), scheduler] as [...Ts, DeterministicScheduler];
    try {
      await run(() => body(...args), {
        ...runOptions,
        scheduler,
        clock: clock ? clock() : new MockClock({ autojumpThreshold: 0 }),
      });
    } catch (error) {
      schedule.failed(scheduler);
      throw error;
    }
  });
}

/**
 * A vitest test that asserts a {@link weftAsyncProperty}: the body runs inside
 * `run()` under many generated schedules (and values); a failure is shrunk and
 * reported with the scheduler's replay and trace.
 *
 * ```ts
 * weftProperty("the cache fetches each key once", [fc.constantFrom("a", "b")], async (key) => {
 *   const cache = new Cache();
 *   await openNursery(async (n) => { n.startSoon(() => cache.get(key)); n.startSoon(() => cache.get(key)); });
 *   expect(cache.fetches).toBe(1);
 * }, { fc: { numRuns: 200 } });
 * ```
 */
export function weftProperty<Ts extends unknown[]>(
  name: string,
  arbitraries: Arbitraries<Ts>,
  body: (...args: [...Ts, DeterministicScheduler]) => Promise<unknown>,
  options: WeftPropertyOptions<Ts> = {},
): void {
  const { fc: parameters, timeout, ...runOptions } = options;
  test(
    name,
    () => fc.assert(weftAsyncProperty(arbitraries, body, runOptions), parameters),
    timeout,
  );
}
