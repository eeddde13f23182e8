import { type DeadlockError, InternalError, UsageError } from "../errors/errors.ts";
import { cutInternalFrames } from "../errors/internal-frames.ts";
import { Abort } from "./abort.ts";
import type { CancelStatus } from "./cancel-status.ts";
import { capturedReject, capturedResolve, captureResolvers } from "./captured-resolvers.ts";
import { taskStorage } from "./context.ts";
import { type DeadlineEntry, DeadlineHeap } from "./deadline-heap.ts";
import { Idleness } from "./idleness.ts";
import { CANCEL_POINT, RunLoop } from "./run-loop.ts";
import {
  type KernelAbortFn,
  type ParentNursery,
  type SystemNursery,
  TaskImpl,
  type TaskParent,
  TaskState,
} from "./task.ts";
import { describeTaskTree, describeWait } from "./task-dump.ts";
import { trackedRejection } from "./tracked-rejection.ts";
import type { Clock, Instrument, Scheduler } from "./types.ts";

export { Abort, type AbortFn } from "./abort.ts";

/** The abort callback of waits that can always be undone on the spot. */
export const ABORT_SUCCEEDS: KernelAbortFn = () => Abort.SUCCEEDED;

/**
 * Prepares `task`'s first step, in the async context where it was spawned
 * with the task as the current one: resuming it resolves the start promise,
 * and the reaction registered here calls the task's function. Starting a task
 * is thus one more promise to settle, like resuming any other step, and never
 * runs user code inside the kernel (or inside the step of the task that
 * spawned it). The spawner's async context flows into the child, as Trio's
 * contextvars do; only the runtime's task identity is the child's own.
 */
function armTaskStart(kernel: Kernel, task: TaskImpl): void {
  const start = new Promise(captureResolvers);
  task.resolveWait = capturedResolve;
  // Never rejected: only a running or parked task gets a failed outcome
  // (requeue, reschedule), so the reject function is left to the GC rather
  // than kept for every task waiting to start (issue 19).
  task.rejectWait = null;
  start.then(kernel.startCurrentTask);
}

/** Describes a wait, for deadlock reports and task dumps. */
export interface WaitOptions {
  /** What the task waits for (`"Event.wait"`, `"lock held by task 'x'"` …). */
  readonly waitingFor?: string | (() => string);
  /**
   * The wake-up comes from outside the run (I/O, a foreign promise): while such
   * a wait is pending, a run on a virtual clock is not deadlocked.
   */
  readonly external?: boolean;
}

export interface KernelOptions {
  readonly clock: Clock;
  readonly scheduler: Scheduler | null;
  readonly instruments: readonly Instrument[];
  readonly strictErrors: boolean;
  /** See RunOptions.closedWorld: foreign awaits cannot be settled from outside the run. */
  readonly closedWorld: boolean;
}

/** The result of the root task, once the run is over. */
export interface RunOutcome {
  readonly failed: boolean;
  readonly value: unknown;
}

/**
 * One kernel per `run()`: the run queue, processed in batches (its run loop,
 * run-loop.ts); the deadline heap, driving a single host timer while the
 * kernel is idle (its idleness, idleness.ts); parking and rescheduling of
 * tasks (here).
 *
 * Steps are atomic (SEMANTICS.md, "Run loop"): see RunLoop. Every operation
 * that blocks a task here ends its step (runLoop.endStep), does its
 * bookkeeping, then lets the run loop resume the next task (runLoop.stepOver).
 */
export class Kernel {
  readonly clock: Clock;
  /**
   * Copy-on-write: adding or removing an instrument replaces the array, so a
   * hook call iterates the array it started with without copying it.
   */
  instruments: readonly Instrument[];
  readonly strictErrors: boolean;
  /** RunOptions.closedWorld: a foreign await that nothing in the run can settle is a deadlock. */
  readonly closedWorld: boolean;
  /** Package-internal (kernel/ only): the run loop asks it for each batch. */
  readonly scheduler: Scheduler | null;
  /** Package-internal (kernel/ only): the run loop expires them, idleness sleeps until the next. */
  readonly deadlines = new DeadlineHeap();
  // Created with the kernel, in its async context: their host callbacks are bound to it.
  /** Package-internal (kernel/ only): the run queue, batches and steps. */
  readonly runLoop = new RunLoop(this);
  /** Package-internal (kernel/ only): the host timer, idle waiters, autojump and deadlock detection. */
  readonly idleness = new Idleness(this);

  finished = false;
  rootTask: TaskImpl | null = null;
  /** The nursery of system tasks, set by the root task. */
  systemNursery: SystemNursery | null = null;
  tasksLiving = 0;

  private resolveRun: ((outcome: RunOutcome) => void) | null = null;
  private rejectRun: ((error: unknown) => void) | null = null;

  constructor(options: KernelOptions) {
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.instruments = [...options.instruments];
    this.strictErrors = options.strictErrors;
    this.closedWorld = options.closedWorld;
  }

  /** Starts the run with `rootFn` as its root task; settles when the root task exits. */
  start(rootFn: () => Promise<unknown>): Promise<RunOutcome> {
    const outcome = new Promise<RunOutcome>((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
    });
    try {
      this.runLoop.armTriggers();
      this.scheduler?.startRun?.();
      this.clock.startClock();
      this.callInstruments("beforeRun");
      const root = new TaskImpl(this, rootFn, "<init>", null, null);
      this.rootTask = root;
      this.tasksLiving++;
      this.callTaskInstruments("taskSpawned", root);
      this.#captureTaskContext(root, () => taskStorage.run(root, armTaskStart, this, root));
      this.runLoop.enqueue(root, false);
    } catch (error) {
      this.crash(error);
    }
    return outcome;
  }

  // ---------------------------------------------------------------- tasks

  /** Creates a task in `nursery`, in cancel status `status`; it first runs in a later batch. */
  spawn(
    fn: () => unknown,
    nursery: ParentNursery,
    status: CancelStatus,
    name: string | { readonly name: string },
  ): TaskImpl {
    const task = new TaskImpl(this, fn, name, nursery, status);
    this.tasksLiving++;
    if (this.instruments.length === 0) {
      taskStorage.run(task, armTaskStart, this, task);
    } else {
      this.callTaskInstruments("taskSpawned", task);
      this.#captureTaskContext(task, () => taskStorage.run(task, armTaskStart, this, task));
    }
    this.runLoop.enqueue(task, true);
    return task;
  }

  /** Runs the function of the task whose start promise was just resolved (see armTaskStart). */
  readonly startCurrentTask = (): void => {
    const task = taskStorage.getStore()!;
    const fn = task.fn!;
    task.fn = null;
    let result: unknown;
    try {
      result = fn();
    } catch (error) {
      result = Promise.reject(error);
    }
    // Settles in the task's async context, which tells the handler which task exited.
    Promise.resolve(result).then(this.onTaskFulfilled, this.onTaskRejected);
  };

  /**
   * Blocks `task` until someone calls `reschedule` for it. This is the only
   * way a task blocks. If the task's cancel status is already cancelled the
   * abort callback is offered the cancellation at once.
   */
  park(task: TaskImpl, abortFn: KernelAbortFn, options: WaitOptions | undefined): Promise<unknown> {
    if (!this.mayWait(task)) return this.refuseWait(task);
    this.runLoop.endStep(task);
    task.state = TaskState.PARKED;
    task.abortFn = abortFn;
    task.waitOptions = options;
    task.parkedAt = this.clock.currentTime();
    if (options?.external === true) this.idleness.externalWaits++;
    if (this.instruments.length > 0)
      this.callInstruments("taskBlocked", task, describeWait(options));
    const wait = new Promise<unknown>(captureResolvers);
    task.resolveWait = capturedResolve;
    task.rejectWait = capturedReject;
    const status = task.cancelStatus;
    if (status !== null) {
      task.joinParkedList(status);
      if (status.effectivelyCancelled) this.attemptAbort(task);
    }
    this.runLoop.stepOver();
    return wait;
  }

  /** A schedule point: the task ends its step and runs again in the next batch, resuming with `value`. */
  yieldTask(task: TaskImpl, value?: unknown): Promise<unknown> {
    return this.requeue(task, false, value);
  }

  /**
   * A full checkpoint in one promise hop: the task ends its step and resumes
   * in the next batch, and if its cancel status is cancelled by then, the
   * wait rejects with `Cancelled` — decided when the batch resumes it, after
   * the deadlines that passed meanwhile have expired.
   */
  checkpointTask(task: TaskImpl): Promise<unknown> {
    return this.requeue(task, false, CANCEL_POINT);
  }

  /**
   * The cancel path of an operation: a schedule point, then `error` (the
   * `Cancelled` the operation raises). Every operation that raises `Cancelled`
   * is a schedule point first, so a loop that swallows `Cancelled` cannot
   * starve other tasks, timers or signals (SEMANTICS.md, "Run loop").
   */
  yieldThenThrow(task: TaskImpl, error: unknown): Promise<never> {
    return this.requeue(task, true, error) as Promise<never>;
  }

  /** Ends the step of the running `task` and queues it to resume with this outcome. */
  private requeue(task: TaskImpl, failed: boolean, value: unknown): Promise<unknown> {
    if (!this.mayWait(task)) return this.refuseWait(task);
    this.runLoop.endStep(task);
    task.state = TaskState.RUNNABLE;
    task.outcomeFailed = failed;
    task.outcomeValue = value;
    const wait = new Promise<unknown>(captureResolvers);
    task.resolveWait = capturedResolve;
    task.rejectWait = capturedReject;
    this.runLoop.enqueue(task, false);
    this.runLoop.stepOver();
    return wait;
  }

  /** Makes a parked task runnable; it resumes in a later batch with this outcome. */
  reschedule(task: TaskImpl, failed: boolean, value: unknown): void {
    if (task.state !== TaskState.PARKED) {
      throw new UsageError(
        `reschedule: ${task} is not blocked in waitTaskRescheduled (each wait must be rescheduled exactly once)`,
      );
    }
    task.abortFn = null;
    task.leaveParkedList();
    if (task.waitOptions?.external === true) this.idleness.externalWaits--;
    task.waitOptions = undefined;
    task.waitData = undefined;
    task.state = TaskState.RUNNABLE;
    task.outcomeFailed = failed;
    task.outcomeValue = value;
    if (this.instruments.length > 0)
      this.callInstruments("taskWoken", task, this.runLoop.steppingTask);
    this.runLoop.enqueue(task, true);
  }

  /** Offers a cancellation to a parked task through its abort callback (once per wait). */
  attemptAbort(task: TaskImpl): void {
    const abort = task.abortFn;
    if (abort === null) return;
    task.abortFn = null;
    task.leaveParkedList();
    if (abort === ABORT_SUCCEEDS) {
      this.reschedule(task, true, task.makeCancelled());
      return;
    }
    const raiseCancel = (): never => {
      throw task.makeCancelled();
    };
    let answer: unknown;
    try {
      answer = abort(raiseCancel, task);
    } catch (error) {
      if (task.state === TaskState.PARKED) this.reschedule(task, true, error);
      return;
    }
    if (answer === Abort.SUCCEEDED) {
      this.reschedule(task, true, task.makeCancelled());
    } else if (answer !== Abort.FAILED && task.state === TaskState.PARKED) {
      this.reschedule(
        task,
        true,
        new TypeError("an abort callback must return Abort.SUCCEEDED or Abort.FAILED"),
      );
    }
  }

  /**
   * Whether `task` may start a wait now: only its own running step (or its
   * code continuing after a foreign await) may. Anything else calling in its
   * async context — a second operation while one is pending, a host callback
   * the task registered, code run in a captured context — must not touch the
   * wait the task is in (SEMANTICS.md, "Async context").
   */
  private mayWait(task: TaskImpl): boolean {
    const state = task.state;
    return (state === TaskState.RUNNING || state === TaskState.FOREIGN) && !this.finished;
  }

  /** A refusal if `task` may not wait now (see mayWait), else `null`: for operations to call before any side effect. */
  refusal(task: TaskImpl): Promise<never> | null {
    return this.mayWait(task) ? null : this.refuseWait(task);
  }

  /**
   * The answer to an operation that may not wait (see mayWait): a rejection,
   * never a synchronous throw, and the task's own wait is left alone. If no
   * code handles the rejection, the error reaches the run like a task error.
   */
  private refuseWait(task: TaskImpl): Promise<never> {
    const error =
      task.state === TaskState.DONE || this.finished
        ? new UsageError(
            `a weft operation was called in the async context of ${task}, which has exited ` +
              "(a callback or captured context outlived its task): run it in a task of its own",
          )
        : new UsageError(
            `${task} is already waiting for a weft operation: await one operation at a time in a task, ` +
              "and start a task in a nursery for each thing that should happen concurrently " +
              "(a callback the task registered, or code run in its captured async context, " +
              "cannot use weft operations while the task waits)",
          );
    return trackedRejection(cutInternalFrames(error), (unhandled) =>
      this.strayError(task, unhandled),
    );
  }

  /** Delivers an error nobody handled, raised in `task`'s async context, to the task's nursery. */
  private strayError(task: TaskImpl, error: Error): void {
    if (this.finished) return;
    let parent: TaskParent | null = task.state === TaskState.DONE ? null : task.parentNursery;
    if (parent === null || parent.closed) parent = this.systemNursery;
    if (parent === null || parent.closed) {
      this.crash(error);
      return;
    }
    parent.addError(error, {
      source: "nursery",
      reason: `a weft operation called in the async context of ${task} was refused`,
    });
  }

  /**
   * Forgets a wait nobody awaits (an operation that was not awaited): its
   * primitive cleans up, and its promise never settles, so no unhandled
   * rejection appears later.
   */
  private abandonWait(task: TaskImpl, error: Error): void {
    if (task.state === TaskState.PARKED) {
      try {
        task.abortFn?.(() => {
          throw error;
        }, task);
      } catch {
        // it raised the error we handed it; nothing else to do
      }
      task.abortFn = null;
      task.leaveParkedList();
      if (task.waitOptions?.external === true) this.idleness.externalWaits--;
    }
    if (task.state === TaskState.RUNNABLE) {
      // Out of the run queue; if it is in the current batch, RunLoop.stepNext skips it.
      this.runLoop.runQueue = this.runLoop.runQueue.filter((t) => t !== task);
    }
    task.resolveWait = task.rejectWait = null;
    task.waitOptions = undefined;
    task.waitData = undefined;
    task.outcomeValue = undefined;
  }

  readonly onTaskFulfilled = (value: unknown): void => {
    this.exitCurrentTask(false, value);
  };

  readonly onTaskRejected = (error: unknown): void => {
    this.exitCurrentTask(true, error);
  };

  /** A task's exit runs in a promise reaction: a failure there must end the run, not escape. */
  private exitCurrentTask(failed: boolean, value: unknown): void {
    const task = taskStorage.getStore()!;
    try {
      this.taskExited(task, failed, value);
    } catch (error) {
      this.crash(
        new InternalError(`weft failed while ${task} exited: ${String(error)}`, { cause: error }),
      );
    }
  }

  /**
   * If `task`'s code is running (it is about to exit) while a wait it
   * started is still pending — an operation it did not await — forgets that
   * wait and returns the error saying so; else `null`.
   */
  forgetPendingWait(task: TaskImpl): Error | null {
    if (task.state !== TaskState.PARKED && task.state !== TaskState.RUNNABLE) return null;
    const error = new UsageError(
      `${task} exited while one of its weft operations was still pending; await every weft operation`,
    );
    this.abandonWait(task, error);
    task.state = TaskState.FOREIGN; // its code runs outside any step
    this.runLoop.foreignTasks++;
    return error;
  }

  /** @internal Called when the task's function has settled. */
  taskExited(task: TaskImpl, failed: boolean, value: unknown): void {
    const pendingError = this.forgetPendingWait(task);
    if (pendingError !== null && !failed) {
      failed = true;
      value = pendingError;
    }
    const open = task.openNurseries;
    if (open !== null && open.length > 0) {
      // It returned without awaiting a nursery it opened: the nursery's
      // children must not run on unwatched. Cancel them, and fail the task.
      if (!failed) {
        failed = true;
        value = new UsageError(
          `${task} exited while a nursery it opened was still open; await openNursery()`,
        );
      }
      for (const nursery of open) nursery.cancelScope.cancel("the task that opened it exited");
    }
    this.runLoop.endStep(task);
    task.state = TaskState.DONE;
    task.abortFn = null;
    task.resolveWait = task.rejectWait = null;
    task.waitOptions = undefined;
    task.waitData = undefined;
    this.tasksLiving--;
    task.activateCancelStatus(null);
    if (task.lotsToBreak !== null) {
      // The task exited holding something (a lock): whoever waits for it never gets it.
      const lots = task.lotsToBreak;
      task.lotsToBreak = null;
      for (const lot of lots) lot.breakLot(task); // breakLot is idempotent
    }
    if (this.instruments.length > 0) {
      this.callInstruments("taskExited", task, failed ? { failed, error: value } : { failed });
    }
    if (task.parentNursery !== null) task.parentNursery.childFinished(task, failed, value);
    else if (task === this.rootTask) this.finish({ failed, value });
    this.runLoop.stepOver();
  }

  // ---------------------------------------------------------------- time and idleness

  currentTime(): number {
    return this.clock.currentTime();
  }

  /** Registers `fire(entry)` to run between batches once the clock reaches `deadline`. */
  addDeadline(
    deadline: number,
    fire: (entry: DeadlineEntry) => void,
    data?: unknown,
  ): DeadlineEntry {
    const entry = this.deadlines.add(deadline, fire, data);
    this.idleness.wakeIfIdle();
    return entry;
  }

  removeDeadline(entry: DeadlineEntry): void {
    this.deadlines.remove(entry);
  }

  /** Milliseconds until the next deadline (Infinity if none). */
  msToNextDeadline(): number {
    return this.deadlines.next() - this.clock.currentTime();
  }

  get runnableCount(): number {
    return this.runLoop.runQueue.length;
  }

  /** Blocks `task` until every other task is blocked (for `cushion` real milliseconds); see Idleness. */
  waitAllTasksBlocked(task: TaskImpl, cushion: number): Promise<unknown> {
    return this.idleness.waitAllTasksBlocked(task, cushion);
  }

  /** The error the run fails with because of a deadlock, if one was found. */
  get deadlockFound(): DeadlockError | null {
    return this.idleness.deadlockFound;
  }

  /** A tree of the run's living tasks and what each is doing, for debugging hung programs. */
  dumpTasks(): string {
    return this.rootTask === null ? "" : describeTaskTree(this.rootTask, this.clock.currentTime());
  }

  // ---------------------------------------------------------------- the end

  private finish(outcome: RunOutcome): void {
    if (this.finished) return;
    this.cleanUp();
    this.callInstruments("afterRun");
    this.resolveRun?.(outcome);
  }

  /** Ends the run at once with `error` (a kernel failure or an unresolvable deadlock). */
  crash(error: unknown): void {
    if (this.finished) return;
    this.cleanUp();
    this.rejectRun?.(error);
  }

  private cleanUp(): void {
    this.finished = true;
    this.idleness.clearHostTimer();
    this.runLoop.stop();
  }

  // ---------------------------------------------------------------- instruments

  addInstrument(instrument: Instrument): void {
    if (!this.instruments.includes(instrument))
      this.instruments = [...this.instruments, instrument];
  }

  removeInstrument(instrument: Instrument): void {
    const index = this.instruments.indexOf(instrument);
    if (index < 0) throw new UsageError("removeInstrument: this instrument is not installed");
    this.instruments = this.instruments.toSpliced(index, 1);
  }

  /**
   * Package-internal (kernel/ only): calls `hook` on every instrument, removing
   * any that throws — reading the hook too: an instrument is user code, and a
   * getter or proxy trap of it that throws must not fail the kernel.
   */
  callInstruments<H extends Exclude<keyof Instrument, "taskContext">>(
    hook: H,
    ...args: Parameters<NonNullable<Instrument[H]>>
  ): void {
    const instruments = this.instruments; // copy-on-write: safe to iterate as it is
    for (let i = 0; i < instruments.length; i++) {
      const instrument = instruments[i]!;
      try {
        const method = instrument[hook] as ((...args: unknown[]) => void) | undefined;
        if (typeof method === "function") method.apply(instrument, args);
      } catch (error) {
        this.#dropInstrument(instrument, hook, error);
      }
    }
  }

  /**
   * Package-internal (kernel/ only): {@link Kernel.callInstruments} for the
   * hooks that take only the task — the ones called at every step — without
   * the rest-argument array and `apply` of the general one.
   */
  callTaskInstruments(
    hook: "taskSpawned" | "taskScheduled" | "beforeTaskStep" | "afterTaskStep",
    task: TaskImpl,
  ): void {
    const instruments = this.instruments; // copy-on-write: safe to iterate as it is
    for (let i = 0; i < instruments.length; i++) {
      const instrument = instruments[i]!;
      try {
        const method = instrument[hook];
        if (typeof method === "function") method.call(instrument, task);
      } catch (error) {
        this.#dropInstrument(instrument, hook, error);
      }
    }
  }

  #dropInstrument(instrument: Instrument, hook: string, error: unknown): void {
    const index = this.instruments.indexOf(instrument);
    if (index >= 0) this.instruments = this.instruments.toSpliced(index, 1);
    console.error(`weft: instrument hook ${hook} threw; the instrument was removed:`, error);
  }

  /**
   * Captures the async context `task` will run in (`capture`), inside every
   * instrument's `taskContext` wrapper, outermost first. `capture` runs exactly
   * once, even if an instrument forgets it or throws.
   */
  #captureTaskContext(task: TaskImpl, capture: () => void): void {
    // Each layer passes on exactly once, whatever its hook does (calls it,
    // forgets it, throws), so every hook runs once per task.
    const once = (inner: () => void): (() => void) => {
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inner();
      };
    };
    let wrapped = once(capture);
    const instruments = this.instruments;
    for (let i = instruments.length - 1; i >= 0; i--) {
      const instrument = instruments[i]!;
      let hook: Instrument["taskContext"];
      try {
        hook = instrument.taskContext;
      } catch (error) {
        this.#dropInstrument(instrument, "taskContext", error);
        continue;
      }
      if (typeof hook !== "function") continue;
      const inner = wrapped;
      wrapped = once(() => {
        try {
          hook.call(instrument, task, inner);
        } catch (error) {
          this.#dropInstrument(instrument, "taskContext", error);
        }
        inner(); // a no-op if the hook passed on
      });
    }
    wrapped();
  }
}
