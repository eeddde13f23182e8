/**
 * The public interfaces every layer shares: tasks, nurseries, clocks,
 * schedulers and instruments. They live here, at the bottom, so that the
 * kernel can speak of a task's nursery without importing the layer that
 * implements nurseries: type imports would otherwise close circles between
 * the kernel and the scopes above it. (`CancelScope` is a class of the
 * kernel's own, as in Trio's core.)
 */
import type { CancelReason } from "../errors/cancelled.ts";
import type { CancelScope } from "./cancel-scope.ts";

/** A task: one concurrent thread of execution in a run, always inside a nursery. */
export interface Task {
  /** For debugging and error messages; defaults to the function's name. */
  readonly name: string;
  /** The nursery this task lives in (`null` for the run's root task). */
  readonly parentNursery: Nursery | null;
  /** The nurseries this task has open, outermost first. */
  readonly childNurseries: readonly Nursery[];
  /** While the task is being started with `nursery.start()`: the nursery it will move to. */
  readonly eventualParentNursery: Nursery | null;
}

/** Options for spawning a task. */
export interface SpawnOptions {
  /** Name for debugging, task dumps and deadlock reports (default: the function's name). */
  name?: string;
}

/**
 * Handed to a task started with `nursery.start()`: the task calls
 * `started(value)` once it is ready, which moves it into the nursery and
 * makes `start()` resolve with `value`.
 */
export interface TaskStatus<T = void> {
  /**
   * Marks the task as ready: it moves into the nursery and `start()` resolves with `value`. Call
   * it once; a second call is a `UsageError`.
   */
  started(...value: T extends void ? [] : [T]): void;
}

/**
 * The place child tasks live. A nursery does not finish until every child has
 * finished; an error in any of them cancels the rest, and all errors come out
 * of `openNursery` together.
 */
export interface Nursery {
  /** Cancelling it cancels the body and every child. */
  readonly cancelScope: CancelScope;
  /** The task that opened the nursery. */
  readonly parentTask: Task;
  /** The children still running (a snapshot). */
  readonly childTasks: ReadonlySet<Task>;
  /** Starts `fn` as a child task. It first runs in a later batch, never synchronously. */
  startSoon(fn: () => Promise<unknown>, options?: SpawnOptions): void;
  /**
   * Starts `fn` as a child task and waits until it calls `status.started(value)`;
   * resolves with `value`. Until then the child runs under the caller of
   * `start` (an error rejects `start`, unwrapped); afterwards it belongs here.
   */
  start<T = void>(
    fn: (status: TaskStatus<T>) => Promise<unknown>,
    options?: SpawnOptions,
  ): Promise<NoInfer<T>>;
}

/**
 * Time for a run. The kernel never reads the host's clock directly: it asks the
 * run's `Clock`, so a virtual clock (`MockClock` in `@weft/testing`) can replace
 * real time without the kernel knowing.
 */
export interface Clock {
  /** Called once when the run starts. */
  startClock(): void;
  /** The current time in milliseconds. Deadlines are absolute times on this scale. */
  currentTime(): number;
  /**
   * How many real milliseconds the kernel should wait, when nothing else is
   * happening, for `deadline` to arrive. `Infinity` means time will not get
   * there by itself (a virtual clock that only moves when told to).
   */
  deadlineToSleepTime(deadline: number): number;
  /**
   * Virtual clocks only: once every task has been blocked for this many real
   * milliseconds, the kernel calls {@link Clock.autojump}. A clock with a
   * finite threshold is treated as virtual: a run on it where every task is
   * blocked, no deadline is pending and no I/O is in flight can never progress
   * and fails with `DeadlockError`. Absent or `Infinity`: no autojump.
   */
  readonly autojumpThreshold?: number;
  /** Virtual clocks only: move time forward to `deadline`, the run's next deadline. */
  autojump?(deadline: number): void;
}

/**
 * Chooses which runnable tasks run their next step. The kernel calls
 * `selectBatch` between batches with the runnable tasks in the order they
 * became runnable; the tasks it returns run as the next batch, the rest wait.
 * A task made runnable during a batch joins the list for a later batch.
 */
export interface Scheduler {
  /**
   * Returns a non-empty selection of `runnable` (or `runnable` itself, to run
   * them all, in order). Must not modify `runnable`.
   */
  selectBatch(runnable: readonly Task[]): readonly Task[];
  /**
   * Called as a run using this scheduler starts, before its first batch: a
   * scheduler that keeps state per run resets it here, so that one scheduler
   * object gives the same run each time it is used.
   */
  startRun?(): void;
}

/** How a task ended, as `Instrument.taskExited` reports it. */
export type TaskOutcome =
  | {
      /** The task returned. */
      readonly failed: false;
    }
  | {
      /** The task threw. */
      readonly failed: true;
      /** What it threw. */
      readonly error: unknown;
    };

/**
 * Hooks the kernel calls as a run proceeds, for tracing and testing. An
 * instrument that throws is removed and the error reported on stderr, so a
 * broken instrument cannot break the run.
 */
export interface Instrument {
  /** The run is about to start its main task. */
  beforeRun?(): void;
  /** The run has finished (every task has exited). */
  afterRun?(): void;
  /** A task was created (started in a nursery, or the run's main task). */
  taskSpawned?(task: Task): void;
  /** The task became runnable. */
  taskScheduled?(task: Task): void;
  /** The task is about to run a step (until it next blocks or exits). */
  beforeTaskStep?(task: Task): void;
  /** The task's step ended: it blocked, yielded or exited. */
  afterTaskStep?(task: Task): void;
  /**
   * The task's function settled: `outcome` says whether it failed, and with
   * what (a `Cancelled` when it was cancelled; `isCancelled` tells).
   */
  taskExited?(task: Task, outcome: TaskOutcome): void;
  /**
   * The task blocked in a weft operation at the end of its step; `waitingFor`
   * says on what ("sleep", "Event.wait", "a segment on …"), as task dumps do.
   */
  taskBlocked?(task: Task, waitingFor: string): void;
  /**
   * The blocked task was woken (its operation completed, failed or was
   * cancelled) by `waker`, the task whose step did it, or by something outside
   * any task (`null`: I/O, a timer, a deadline, the kernel). `taskScheduled`
   * follows.
   */
  taskWoken?(task: Task, waker: Task | null): void;
  /** A nursery opened in its parent task. */
  nurseryOpened?(nursery: Nursery): void;
  /** A nursery closed: its body and every child task have finished. */
  nurseryClosed?(nursery: Nursery): void;
  /** `task` entered `scope` (nurseries enter their own scope too). */
  cancelScopeEntered?(scope: CancelScope, task: Task): void;
  /** `task` left `scope`. */
  cancelScopeExited?(scope: CancelScope, task: Task): void;
  /** An entered scope was cancelled; `reason` says by what (explicit, deadline, nursery, shutdown, signal). */
  cancelScopeCancelled?(scope: CancelScope, reason: CancelReason): void;
  /**
   * Around the capture of the async context a new task will run in, in the
   * spawner's context: call `capture()` exactly once — inside, for example,
   * OpenTelemetry's `context.with(ctx, capture)` to run the task with `ctx`.
   */
  taskContext?(task: Task, capture: () => void): void;
}
