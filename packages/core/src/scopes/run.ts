import { isMainThread } from "node:worker_threads";
import { isCancelled, withoutCancelled } from "../errors/cancelled.ts";
import { InternalError, UsageError } from "../errors/errors.ts";
import { recordRaisingTask } from "../errors/raising-task.ts";
import {
  checkArray,
  checkBoolean,
  checkFunction,
  checkOptionsObject,
  describeValue,
  isInstance,
} from "../errors/validate.ts";
import { checkClock, SystemClock } from "../kernel/clock.ts";
import { currentTaskOrUndefined, requireTask } from "../kernel/context.ts";
import { checkInstrument } from "../kernel/instrument.ts";
import { Kernel } from "../kernel/kernel.ts";
import { checkScheduler } from "../kernel/scheduler.ts";
import type { Clock, Instrument, Scheduler } from "../kernel/types.ts";
import { Interrupted } from "../signals/interrupted.ts";
import { RunSignals } from "../signals/run-signals.ts";
import { checkCatchableSignal, signalNumber } from "../signals/signal-names.ts";
import { dumpTasksOn as dumpTasksOnTrigger } from "../signals/task-dump-signal.ts";
import { type NurseryImpl, openNurseryIn } from "./nursery.ts";
import {
  appendSpawnTrail,
  debugFromEnvironment,
  enableSpawnTrails,
  recordSpawnSite,
} from "./spawn-trail.ts";

/**
 * Options of `run()`: the clock, instruments, the scheduler, signal handling and debugging aids.
 */
export interface RunOptions {
  /** The run's clock (default: the system clock; `MockClock` from `@weft/testing` for virtual time). */
  clock?: Clock;
  /** Hooks called as the run proceeds. */
  instruments?: Instrument[];
  /** Nurseries wrap even a single error in an `ExceptionGroup` (default true). */
  strictErrors?: boolean;
  /** Aborting it cancels every task; `run` then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Which runnable task steps next (default: FIFO batches). */
  scheduler?: Scheduler;
  /**
   * Ctrl-C handling (default true, for programs): while the run is active, the
   * first SIGINT or SIGTERM cancels every task, so every `finally` runs, and
   * `run` rejects with `Interrupted`; a second one, while the run is still
   * shutting down, ends the process at once. Libraries and tests that embed
   * `run()` in a process they do not own may turn it off: the run then
   * installs no signal listener. Ignored in worker threads, which receive no
   * signals. See docs/guides/signals.md.
   */
  handleSignals?: boolean;
  /**
   * Debug mode (default: on if the environment variable `WEFT_DEBUG` is set
   * and not "0"): every task records where it was spawned and by which task,
   * and an error a task raises gets that trail appended to its stack
   * ("task "fetch" was spawned by task "main"", then the spawn site's frames,
   * up to `run()`). Costs a captured stack per spawn; for development.
   */
  debug?: boolean;
  /**
   * Declares that nothing outside the run settles what its tasks await: no
   * real network, no real timer — a whole system simulated on a virtual clock
   * (`@weft/testing/simulation` sets it). Then a run where no task can run and
   * no deadline is pending, while tasks await non-weft promises or I/O, is a
   * deadlock (`DeadlockError`, naming each task) once that has lasted a grace
   * period of real time (1 s, for work the host finishes off the main thread:
   * zlib, fs, crypto), where otherwise the run would wait forever. Needs a
   * clock with autojump (default false).
   */
  closedWorld?: boolean;
  /**
   * A process signal (such as `"SIGUSR2"`) that prints the run's live task
   * tree to stderr while the run is active — every task, what it waits on and
   * for how long, its cancel scopes and deadlines — without disturbing it:
   * `kill -USR2 <pid>` on a process that seems stuck (ignored in worker
   * threads). Or an `AbortSignal` whose abort prints it once (a test
   * harness's timeout: `weftTest` passes vitest's).
   */
  dumpTasksOn?: NodeJS.Signals | AbortSignal;
}

interface MainOutcome {
  failed: boolean;
  value: unknown;
  /** Main ended with only the Cancelled of a run-wide cancellation. */
  cancelled?: boolean;
}

/**
 * Runs `main` as the main task of a new run and resolves with its value, or
 * rejects with its error unwrapped. Every task started during the run has
 * finished, and no timer of the run is left pending, when it settles.
 *
 * Aborting `options.signal` cancels every task; the run then rejects with
 * `signal.reason` — unless main raised another error, which is never lost:
 * the run rejects with that error instead (without the abort's `Cancelled`).
 *
 * Ctrl-C (option `handleSignals`, on by default): the first SIGINT or SIGTERM
 * cancels every task and the run rejects with `Interrupted` — again unless
 * main raised another error — and sets `process.exitCode` to 128 + the
 * signal's number if it is unset; a second one while the run shuts down ends
 * the process at once. Every active run of the process is interrupted.
 *
 * ```ts
 * await run(async () => {
 *   await moveOnAfter(1000, () => work());
 * });
 * ```
 */
export function run<T>(main: () => Promise<T>, options?: RunOptions): Promise<T> {
  try {
    return runOrThrow(main, options);
  } catch (error) {
    return Promise.reject(error); // a bad argument
  }
}

/** RunOptions read once, defaults applied (`debug` stays undefined unless given). */
type ReadRunOptions = Required<Omit<RunOptions, "signal" | "scheduler" | "debug" | "dumpTasksOn">> &
  Pick<RunOptions, "signal" | "scheduler" | "debug" | "dumpTasksOn">;

/**
 * Reads and checks `options` (each property once: a getter is not read
 * again by the run), naming a bad one as `${name}.clock`, ….
 */
function readRunOptions(name: string, options: unknown): ReadRunOptions {
  checkOptionsObject(name, options);
  const {
    clock = new SystemClock(),
    instruments = [],
    strictErrors = true,
    signal,
    scheduler,
    handleSignals = true,
    debug,
    closedWorld = false,
    dumpTasksOn,
  } = (options ?? {}) as RunOptions;
  checkClock(`${name}.clock`, clock);
  checkArray(`${name}.instruments`, instruments);
  for (const [i, instrument] of instruments.entries())
    checkInstrument(instrument, `${name}.instruments[${i}]`);
  checkBoolean(`${name}.strictErrors`, strictErrors);
  if (debug !== undefined) checkBoolean(`${name}.debug`, debug);
  if (signal !== undefined && !isInstance(signal, AbortSignal)) {
    throw new TypeError(`${name}.signal must be an AbortSignal, got ${describeValue(signal)}`);
  }
  if (scheduler !== undefined) checkScheduler(`${name}.scheduler`, scheduler);
  checkBoolean(`${name}.handleSignals`, handleSignals);
  checkBoolean(`${name}.closedWorld`, closedWorld);
  if (dumpTasksOn !== undefined && !isInstance(dumpTasksOn, AbortSignal)) {
    checkCatchableSignal(`${name}.dumpTasksOn`, dumpTasksOn);
  }
  if (closedWorld && !Number.isFinite(clock.autojumpThreshold ?? Infinity)) {
    throw new TypeError(`${name}.closedWorld needs a clock with autojump (such as a MockClock)`);
  }
  return {
    clock,
    instruments,
    strictErrors,
    signal,
    scheduler,
    handleSignals,
    debug,
    closedWorld,
    dumpTasksOn,
  };
}

/**
 * `run()`'s checks of its options, for code that passes options on to a
 * `run()` it starts later (weftOperation, weftAsyncProperty): a `TypeError`
 * naming the option (`${name}.clock`, …) at once, instead of at that run.
 */
export function checkRunOptions(
  name: string,
  options: unknown,
): asserts options is RunOptions | undefined {
  readRunOptions(name, options);
}

function runOrThrow<T>(main: () => Promise<T>, options: RunOptions = {}): Promise<T> {
  checkFunction("main", main);
  const {
    clock,
    instruments,
    strictErrors,
    signal,
    scheduler,
    handleSignals,
    debug = debugFromEnvironment(),
    closedWorld,
    dumpTasksOn,
  } = readRunOptions("options", options);
  const caller = currentTaskOrUndefined();
  if (caller !== undefined && !caller.kernel.finished) {
    return Promise.reject(
      new UsageError(
        "run() was called inside a task of another run: nested runs are not allowed (use a nursery)",
      ),
    );
  }
  if (signal?.aborted === true) return Promise.reject(signal.reason);

  const kernel = new Kernel({
    clock,
    scheduler: scheduler ?? null,
    instruments,
    strictErrors,
    closedWorld,
  });
  // Debug mode: the main task's spawn site is this call of run().
  const runSite = debug ? new Error("run() called here") : null;
  if (debug) enableSpawnTrails(kernel);
  // Set when main ends; still null after the run only if main never ran (an
  // error made on demand: building one per run cost about 2 µs).
  let mainOutcome: MainOutcome | null = null;
  let onAbort: (() => void) | null = null;
  const signals = RunSignals.of(kernel);
  const stopDumps =
    dumpTasksOn instanceof AbortSignal || (dumpTasksOn !== undefined && isMainThread)
      ? dumpTasksOnTrigger(kernel, dumpTasksOn)
      : null;
  /** The abort of `options.signal` came before any SIGINT/SIGTERM: its reason wins. */
  let abortedFirst = false;

  // The root task holds the system nursery; the main task is its first child.
  // When main finishes, the system nursery is cancelled so system tasks stop.
  const init = () =>
    openNurseryIn(kernel.rootTask!, true, async (system: NurseryImpl) => {
      kernel.systemNursery = system;
      if (handleSignals) signals.handleInterrupts();
      if (signal !== undefined) {
        onAbort = () => {
          abortedFirst = signals.interruption === null;
          system.cancelScope.cancelWithReason({ source: "signal" });
        };
        signal.addEventListener("abort", onAbort, { once: true });
        // Aborted between run() and this first step: the listener came too late to hear it.
        if (signal.aborted) onAbort();
      }
      const mainTask = system.spawnChild(async () => {
        try {
          mainOutcome = { failed: false, value: await main() };
          // eslint-disable-next-line weft/no-swallowed-cancellation -- this is the run's boundary: it keeps main's error (Cancelled only when the run itself was cancelled) for run() to settle with
        } catch (error) {
          recordRaisingTask(error, mainTask.name, kernel);
          if (debug) appendSpawnTrail(error, mainTask);
          // A run-wide cancellation (the signal, a deadlock, a crashed system
          // task) belongs to the system nursery's scope, which main's errors do
          // not pass through: remove its Cancelled here, as that scope would.
          const rest = system.cancelScope.cancelRequested ? withoutCancelled(error) : { error };
          mainOutcome =
            rest === null
              ? { failed: false, value: undefined, cancelled: true }
              : { failed: true, value: rest.error };
        } finally {
          // main returned with an operation of its own still pending: say so
          // here (the pending wait must not be woken by the shutdown below).
          const pending = kernel.forgetPendingWait(requireTask("run()"));
          if (pending !== null && mainOutcome !== null && !mainOutcome.failed)
            mainOutcome = { failed: true, value: pending };
          system.cancelScope.cancelWithReason({ source: "shutdown" });
        }
      }, main.name || "main");
      if (runSite !== null) recordSpawnSite(mainTask, undefined, runSite);
    });

  return kernel.start(init).then(
    (root) => {
      stopDumps?.();
      if (onAbort !== null) signal?.removeEventListener("abort", onAbort);
      const interruption = finishSignals(signals);
      const { failed, value, cancelled } = mainOutcome ?? {
        failed: true,
        value: new InternalError("the main task never ran"),
      };
      const deadlock = kernel.deadlockFound;
      if (deadlock !== null) {
        if (failed) deadlock.cause ??= value;
        throw deadlock;
      }
      if (root.failed) throw root.value; // a system task crashed
      if (failed && isCancelled(value)) {
        throw new UsageError(
          "a Cancelled escaped the main task although no enclosing scope was cancelled",
          {
            cause: value,
          },
        );
      }
      if (failed) throw value;
      if (signal?.aborted === true && (abortedFirst || interruption === null)) throw signal.reason;
      if (interruption !== null) throw new Interrupted(interruption);
      if (cancelled === true) throw new InternalError("the main task was cancelled by the run");
      return value as T;
    },
    (error: unknown) => {
      stopDumps?.();
      if (onAbort !== null) signal?.removeEventListener("abort", onAbort);
      finishSignals(signals);
      throw error;
    },
  );
}

/**
 * Ends the run's signal handling; if a signal interrupted the run, sets the
 * process's exit code to 128 + its number, the shell's code for "ended by
 * that signal", unless the program already chose one.
 */
function finishSignals(signals: RunSignals): NodeJS.Signals | null {
  const interruption = signals.finish();
  if (interruption !== null && process.exitCode === undefined) {
    process.exitCode = 128 + (signalNumber(interruption) ?? 0);
  }
  return interruption;
}
