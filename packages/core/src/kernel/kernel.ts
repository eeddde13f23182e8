import { AsyncLocalStorage } from "node:async_hooks";
import { DeadlockError, InternalError } from "../errors/errors.ts";
import type { CancelStatus } from "./cancel-status.ts";
import { taskStorage } from "./context.ts";
import { type DeadlineEntry, DeadlineHeap } from "./deadline-heap.ts";
import {
  type KernelAbortFn,
  type ParentNursery,
  type SystemNursery,
  TaskImpl,
  type TaskParent,
  TaskState,
} from "./task.ts";
import { describeTaskTree } from "./task-dump.ts";
import { trackedRejection } from "./tracked-rejection.ts";
import type { Clock, Instrument, Scheduler, Task } from "./types.ts";

/** What an abort callback answers when the kernel offers a blocked task a cancellation. */
export const Abort = Object.freeze({
  /** The wait was undone: the kernel reschedules the task with `Cancelled`. */
  SUCCEEDED: "SUCCEEDED",
  /** The wait cannot be undone now: whoever blocked the task will reschedule it later. */
  FAILED: "FAILED",
} as const);
export type Abort = (typeof Abort)[keyof typeof Abort];

/**
 * Called at most once per wait, when the blocked task's cancel status becomes
 * cancelled. `raiseCancel` throws the `Cancelled` the task should see.
 */
export type AbortFn = (raiseCancel: () => never) => Abort;

// A shared promise executor: it hands the resolving functions over through
// these two variables, so making a wait promise allocates no closure.
let capturedResolve: (value: unknown) => void = () => {};
let capturedReject: (error: unknown) => void = () => {};
function captureResolvers(
  resolve: (value: unknown) => void,
  reject: (error: unknown) => void,
): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** The outcome value of a task at a checkpoint: resumed, it is checked for cancellation first. */
const CANCEL_POINT: unique symbol = Symbol("weft.cancelPoint");

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
  task.rejectWait = capturedReject;
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
}

/** How the current batch of tasks will be followed. */
const TickQueued = { NONE: 0, MICROTASK: 1, IMMEDIATE: 2, DRAIN: 3 } as const;
type TickQueued = (typeof TickQueued)[keyof typeof TickQueued];

/** What the kernel does if it is still idle when its host timer fires. */
const Primed = { NONE: 0, IDLE_WAITERS: 1, AUTOJUMP: 2, DEADLOCK: 3 } as const;
type Primed = (typeof Primed)[keyof typeof Primed];

/**
 * Batches run back to back in microtasks for at most this long before the
 * kernel yields to the host event loop, so that a task that checkpoints in a
 * loop cannot starve I/O and timers, while message passing between tasks does
 * not pay an event-loop turn per step.
 */
const SLICE_MS = 1;

/** Batches of at most this many tasks may start synchronously (see batchOver). */
const SYNC_BATCH_MAX = 32;

interface IdleWaiter {
  readonly cushion: number;
  readonly seq: number;
  readonly task: TaskImpl;
}

/** The result of the root task, once the run is over. */
export interface RunOutcome {
  readonly failed: boolean;
  readonly value: unknown;
}

/**
 * One kernel per `run()`: the run queue, processed in batches; the deadline
 * heap, driving a single host timer; parking and rescheduling of tasks.
 *
 * Steps are atomic (SEMANTICS.md, "Run loop"): a batch is a snapshot of the
 * run queue whose tasks take their steps one at a time. A step starts when
 * the kernel resumes the task (settles the promise its code awaits) and ends
 * when the task blocks in the runtime, exits, or is still running when the
 * microtask queue drains — then it awaits a foreign promise (state FOREIGN),
 * and rejoins the kernel when it next blocks. Only when a step has ended is
 * the next task of the batch resumed, so no other task's code runs between
 * two checkpoints of a task, even across plain `await`s. The next batch
 * follows in a microtask, or after an event-loop turn once the time slice is
 * used up.
 */
export class Kernel {
  readonly clock: Clock;
  readonly instruments: Instrument[];
  readonly strictErrors: boolean;
  private readonly scheduler: Scheduler | null;
  private readonly deadlines = new DeadlineHeap();

  finished = false;
  rootTask: TaskImpl | null = null;
  /** The nursery of system tasks, set by the root task. */
  systemNursery: SystemNursery | null = null;
  tasksLiving = 0;

  private runQueue: TaskImpl[] = [];
  /** The batch whose tasks are taking their steps, and the index of the next one to resume. */
  private batch: readonly TaskImpl[] | null = null;
  private batchPosition = 0;
  /** The task whose step is running (RUNNING), if any. */
  private stepping: TaskImpl | null = null;
  /** Counts steps started, so that a drain check knows whether the step it saw is still the same. */
  private steps = 0;
  /** The step a first drain check found still running; see microtasksDrained. */
  private suspectStep = -1;
  /** Set when a step ended; the operation that ended it calls stepOver() once its bookkeeping is done. */
  private stepDone = false;
  /** Set when a task that was awaiting a foreign promise rejoined; see stepOver(). */
  private foreignRejoined = false;
  /** A drain check is pending (see armDrainCheck). */
  private drainCheckArmed = false;
  private tickQueued: TickQueued = TickQueued.NONE;
  private immediate: NodeJS.Immediate | null = null;
  private sliceStart = 0;
  private batchesInSlice = 0;
  private idle = false;
  private generation = 0;

  private hostTimer: NodeJS.Timeout | null = null;
  private hostImmediate: NodeJS.Immediate | null = null;
  private primed: Primed = Primed.NONE;
  private idleGeneration = -1;
  private idleWaiters: IdleWaiter[] = [];
  private idleSeq = 0;
  private externalWaits = 0;
  private foreignTasks = 0;
  private deadlockError: DeadlockError | null = null;

  private resolveRun: ((outcome: RunOutcome) => void) | null = null;
  private rejectRun: ((error: unknown) => void) | null = null;

  // Kernel callbacks run outside any task's async context.
  /**
   * Resolving this runs the next tick in a microtask, in the kernel's async
   * context: the reaction was registered from kernel code. (queueMicrotask
   * would cost an AsyncResource per call, and run in the caller's context.)
   */
  private tickTrigger: ((value: unknown) => void) | null = null;
  private readonly tickFromTrigger = (): void => {
    this.armTickTrigger(); // here, in the kernel's async context
    if (this.tickQueued === TickQueued.MICROTASK) this.tick(); // (DRAIN: the drain check will)
  };
  /** Resolving this arms the drain check from a microtask; see armDrainCheck. */
  private drainTrigger: ((value: unknown) => void) | null = null;
  private readonly drainFromTrigger = (): void => {
    this.armDrainTrigger();
    process.nextTick(this.onDrain);
  };
  private readonly onDrain = (): void => this.microtasksDrained();
  private readonly onImmediate = AsyncLocalStorage.bind(() => this.immediateFired());
  private readonly onHostTimer = AsyncLocalStorage.bind(() => this.hostTimerFired());

  constructor(options: KernelOptions) {
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.instruments = [...options.instruments];
    this.strictErrors = options.strictErrors;
  }

  /** Starts the run with `rootFn` as its root task; settles when the root task exits. */
  start(rootFn: () => Promise<unknown>): Promise<RunOutcome> {
    const outcome = new Promise<RunOutcome>((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
    });
    try {
      this.armTickTrigger();
      this.armDrainTrigger();
      this.clock.startClock();
      this.callInstruments("beforeRun");
      const root = new TaskImpl(this, rootFn, "<init>", null, null);
      this.rootTask = root;
      this.tasksLiving++;
      taskStorage.run(root, armTaskStart, this, root);
      this.callInstruments("taskSpawned", root);
      this.enqueue(root, false);
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
    taskStorage.run(task, armTaskStart, this, task);
    if (this.instruments.length > 0) this.callInstruments("taskSpawned", task);
    this.enqueue(task, true);
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
    this.endStep(task);
    task.state = TaskState.PARKED;
    task.abortFn = abortFn;
    task.waitOptions = options;
    if (options?.external === true) this.externalWaits++;
    const wait = new Promise<unknown>(captureResolvers);
    task.resolveWait = capturedResolve;
    task.rejectWait = capturedReject;
    const status = task.cancelStatus;
    if (status !== null) {
      task.joinParkedList(status);
      if (status.effectivelyCancelled) this.attemptAbort(task);
    }
    this.stepOver();
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
    this.endStep(task);
    task.state = TaskState.RUNNABLE;
    task.outcomeFailed = failed;
    task.outcomeValue = value;
    const wait = new Promise<unknown>(captureResolvers);
    task.resolveWait = capturedResolve;
    task.rejectWait = capturedReject;
    this.enqueue(task, false);
    this.stepOver();
    return wait;
  }

  /** Makes a parked task runnable; it resumes in a later batch with this outcome. */
  reschedule(task: TaskImpl, failed: boolean, value: unknown): void {
    if (task.state !== TaskState.PARKED) {
      throw new Error(
        `reschedule: ${task} is not blocked in waitTaskRescheduled (each wait must be rescheduled exactly once)`,
      );
    }
    task.abortFn = null;
    task.leaveParkedList();
    if (task.waitOptions?.external === true) this.externalWaits--;
    task.waitOptions = undefined;
    task.waitData = undefined;
    task.state = TaskState.RUNNABLE;
    task.outcomeFailed = failed;
    task.outcomeValue = value;
    this.enqueue(task, true);
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
   * Queues `task` for the next batch. `wake`: someone made it runnable (a
   * reschedule, a spawn) rather than the task itself blocking; see
   * scheduleTick.
   */
  private enqueue(task: TaskImpl, wake: boolean): void {
    this.runQueue.push(task);
    if (this.instruments.length > 0) this.callInstruments("taskScheduled", task);
    if (this.batch !== null) return;
    if (this.tickQueued === TickQueued.NONE) {
      this.scheduleTick(wake);
    } else if (wake && this.tickQueued === TickQueued.MICROTASK && this.wokenOutsideStep()) {
      // A tick is already on its way (to re-arm a timer, say), but this wake
      // comes from code outside the running step: that tick must wait too.
      this.tickQueued = TickQueued.DRAIN;
      this.armDrainCheck();
    }
  }

  /**
   * Whether the code calling us runs in a task's context while that task is
   * not the running step: code after a foreign await (a step of its own,
   * which no other task's step may enter), or code running while the task
   * waits — a host callback, or the task's own code after an operation it did
   * not await, which it may be about to exit with (taskExited must still see
   * the wait pending, not a resumed task).
   */
  private wokenOutsideStep(): boolean {
    const current = taskStorage.getStore();
    return current !== undefined && current.state !== TaskState.RUNNING;
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
        ? new Error(
            `a weft operation was called in the async context of ${task}, which has exited ` +
              "(a callback or captured context outlived its task): run it in a task of its own",
          )
        : new Error(
            `${task} is already waiting for a weft operation: await one operation at a time in a task, ` +
              "and start a task in a nursery for each thing that should happen concurrently " +
              "(a callback the task registered, or code run in its captured async context, " +
              "cannot use weft operations while the task waits)",
          );
    return trackedRejection(error, (unhandled) => this.strayError(task, unhandled));
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
   * Called by every operation that ends a step or rejoins a foreign task,
   * once its bookkeeping is done: resumes the next task of the batch, or
   * starts the next batch.
   */
  private stepOver(): void {
    if (this.stepDone) {
      this.stepDone = false;
      this.stepNext();
    } else if (this.foreignRejoined) {
      // A task that was awaiting a foreign promise blocked again. If the
      // kernel went idle meanwhile it armed no deadlock check or autojump
      // for that task's sake: look again.
      this.foreignRejoined = false;
      if (this.tickQueued === TickQueued.DRAIN) {
        // It woke tasks (see scheduleTick) and has now blocked: they may go.
        this.tickQueued = TickQueued.NONE;
        this.scheduleTick();
      } else if (this.idle && this.tickQueued === TickQueued.NONE && this.batch === null) {
        this.goIdle();
      }
    }
  }

  /** Resumes the next task of the batch, or ends the batch. */
  private stepNext(): void {
    const batch = this.batch!;
    while (this.batchPosition < batch.length) {
      const task = batch[this.batchPosition++]!;
      // A task queued in this batch may have exited since (an operation it did not await).
      if (task.state !== TaskState.RUNNABLE) continue;
      this.resume(task);
      this.armDrainCheck();
      return;
    }
    this.batchOver();
  }

  /**
   * The batch is over. The next batch starts right here, synchronously, when
   * that runs no user code (no instrument, no custom scheduler, no deadline
   * due) and the time slice is not used up; otherwise in a microtask, or
   * after an event-loop turn. Starting a batch only settles a promise, so this
   * never nests user code.
   */
  private batchOver(): void {
    this.batch = null;
    if (this.tickQueued !== TickQueued.NONE || !this.mayTickSynchronously()) {
      this.scheduleTick();
      return;
    }
    if (this.runQueue.length === 0) {
      // Nothing runnable, and (checked above) no deadline due: go idle now
      // rather than a microtask later.
      this.goIdle();
      return;
    }
    if (this.withinSlice()) {
      this.runBatch();
    } else {
      // The slice is used up: the event loop gets its turn first.
      this.tickQueued = TickQueued.IMMEDIATE;
      if (this.immediate === null) this.immediate = setImmediate(this.onImmediate);
    }
  }

  /**
   * Whether the next tick may run synchronously, inside whatever called us:
   * only when it runs no user code (no instrument, no custom scheduler, no
   * deadline due) and the batch is small (large ones gain nothing and
   * measured slower: a microtask turn is cheap next to them).
   */
  private mayTickSynchronously(): boolean {
    return (
      this.instruments.length === 0 &&
      this.scheduler === null &&
      !this.finished &&
      (this.deadlines.size === 0 || this.deadlines.next() > this.clock.currentTime()) &&
      this.runQueue.length <= SYNC_BATCH_MAX
    );
  }

  /**
   * Whether the next batch may follow without yielding to the event loop.
   * Reading the clock costs as much as a small batch: look every 8 batches.
   */
  private withinSlice(): boolean {
    return (++this.batchesInSlice & 7) !== 0 || performance.now() - this.sliceStart < SLICE_MS;
  }

  /** The task stops running its step (it blocks or exits). */
  private endStep(task: TaskImpl): void {
    if (task.state === TaskState.RUNNING) {
      if (this.instruments.length > 0) this.callInstruments("afterTaskStep", task);
      // The step is over, but the caller finishes its bookkeeping first (it
      // parks or queues the task), then calls stepOver().
      this.stepping = null;
      this.stepDone = true;
    } else if (task.state === TaskState.FOREIGN) {
      this.foreignTasks--;
      this.foreignRejoined = true;
    }
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
      if (task.waitOptions?.external === true) this.externalWaits--;
    }
    if (task.state === TaskState.RUNNABLE) {
      // Out of the run queue; if it is in the current batch, stepNext skips it.
      this.runQueue = this.runQueue.filter((t) => t !== task);
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
    const error = new Error(
      `${task} exited while one of its weft operations was still pending; await every weft operation`,
    );
    this.abandonWait(task, error);
    task.state = TaskState.FOREIGN; // its code runs outside any step
    this.foreignTasks++;
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
        value = new Error(
          `${task} exited while a nursery it opened was still open; await openNursery()`,
        );
      }
      for (const nursery of open) nursery.cancelScope.cancel("the task that opened it exited");
    }
    this.endStep(task);
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
    if (this.instruments.length > 0) this.callInstruments("taskExited", task);
    if (task.parentNursery !== null) task.parentNursery.childFinished(task, failed, value);
    else if (task === this.rootTask) this.finish({ failed, value });
    this.stepOver();
  }

  // ---------------------------------------------------------------- batches

  private scheduleTick(wake = false): void {
    if (this.tickQueued !== TickQueued.NONE || this.finished) return;
    // A task woken from code outside the running step (see wokenOutsideStep):
    // the batch starts once that code blocks (stepOver) or its microtasks
    // drain.
    const foreign = wake && this.wokenOutsideStep();
    if (this.idle) {
      // Waking from idle: the event loop has just had its turn.
      this.idle = false;
      this.sliceStart = performance.now();
      this.batchesInSlice = 0;
      if (!foreign && !this.drainCheckArmed && this.mayTickSynchronously()) {
        // Woken from outside any batch (an I/O callback, a timer, code that is
        // not a task): start the batch here instead of a microtask later. No
        // deadline is due (checked), so there is nothing for tick() to expire.
        // Not while a drain check is pending: we may be in a nextTick queued
        // before it, which would take the step started here (its code not yet
        // run) for one awaiting a foreign promise, and resume the next task.
        if (this.runQueue.length > 0) this.runBatch();
        else this.goIdle(); // a new deadline: re-arm the host timer
        return;
      }
    }
    if (foreign) {
      this.tickQueued = TickQueued.DRAIN;
      this.armDrainCheck();
      return;
    }
    if (this.withinSlice()) {
      this.tickQueued = TickQueued.MICROTASK;
      const trigger = this.tickTrigger;
      this.tickTrigger = null;
      // null: the trigger's reaction is still queued (its tick was deferred to
      // the drain, then released), and will run this tick.
      trigger?.(undefined);
    } else {
      this.tickQueued = TickQueued.IMMEDIATE;
      if (this.immediate === null) this.immediate = setImmediate(this.onImmediate);
    }
  }

  private immediateFired(): void {
    this.immediate = null;
    this.sliceStart = performance.now();
    this.batchesInSlice = 0;
    if (this.tickQueued === TickQueued.IMMEDIATE) this.tick();
  }

  /** Prepares the promise whose resolution runs the next microtask tick (called in kernel context). */
  private armTickTrigger(): void {
    const trigger = new Promise(captureResolvers);
    this.tickTrigger = capturedResolve;
    trigger.then(this.tickFromTrigger);
  }

  /** Prepares the promise whose resolution arms the drain check (called in kernel context). */
  private armDrainTrigger(): void {
    const trigger = new Promise(captureResolvers);
    this.drainTrigger = capturedResolve;
    trigger.then(this.drainFromTrigger);
  }

  /**
   * Makes sure `microtasksDrained` runs once the microtask queue is empty. A
   * `process.nextTick` queued from inside a microtask runs only after the
   * whole microtask queue has drained (Node runs its tick queue between
   * microtask checkpoints), so it is queued from a microtask: this settles
   * the drain trigger, whose reaction queues it. While the kernel passes
   * steps along in microtasks the check stays armed, so this costs one
   * promise and one tick per drain, not per step.
   */
  private armDrainCheck(): void {
    if (this.drainCheckArmed) return;
    this.drainCheckArmed = true;
    const trigger = this.drainTrigger!;
    this.drainTrigger = null;
    trigger(undefined);
  }

  /**
   * The microtask queue is empty. A step still running now awaits a promise
   * that only the host can settle (a timer, I/O, another thread): the task
   * is FOREIGN, and the batch goes on without it.
   */
  private microtasksDrained(): void {
    this.drainCheckArmed = false;
    if (this.finished) return;
    if (this.tickQueued === TickQueued.DRAIN) {
      this.tick();
      return;
    }
    const task = this.stepping;
    if (task === null) return;
    if (this.suspectStep !== this.steps) {
      // The first drain of this step: its promise may yet be settled by a
      // process.nextTick callback queued before this check (Node's streams
      // settle many that way), whose reactions run only after it. Look once
      // more, after those.
      this.suspectStep = this.steps;
      this.armDrainCheck();
      return;
    }
    this.stepping = null;
    task.state = TaskState.FOREIGN;
    this.foreignTasks++;
    if (this.instruments.length > 0) this.callInstruments("afterTaskStep", task);
    try {
      this.stepNext();
    } catch (error) {
      this.crash(error);
    }
  }

  private tick(): void {
    this.tickQueued = TickQueued.NONE;
    if (this.finished || this.batch !== null) return;
    try {
      if (this.deadlines.size > 0) this.deadlines.expire(this.clock.currentTime());
      if (this.runQueue.length === 0) this.goIdle();
      else this.runBatch();
    } catch (error) {
      this.crash(error);
    }
  }

  private runBatch(): void {
    const queue = this.runQueue;
    let batch: readonly TaskImpl[] = queue;
    if (this.scheduler === null) {
      this.runQueue = [];
    } else {
      batch = this.scheduler.selectBatch(queue) as readonly TaskImpl[];
      // One step at a time (the deterministic scheduler): no set, no copy.
      const only = batch.length === 1 && batch !== queue ? queue.indexOf(batch[0]!) : -1;
      if (batch === queue) {
        this.runQueue = [];
      } else if (only >= 0) {
        queue.splice(only, 1);
      } else {
        if (batch.length === 0) throw new Error("Scheduler.selectBatch returned no task");
        const chosen = new Set(batch);
        const rest = queue.filter((task) => !chosen.has(task));
        if (rest.length + chosen.size !== queue.length || chosen.size !== batch.length) {
          throw new Error(
            "Scheduler.selectBatch must return distinct tasks taken from the runnable list",
          );
        }
        this.runQueue = rest;
      }
    }
    this.generation++;
    this.batch = batch;
    this.batchPosition = 0;
    this.stepNext();
  }

  /** Starts `task`'s step: settles the promise its code awaits (its start promise, first). */
  private resume(task: TaskImpl): void {
    task.state = TaskState.RUNNING;
    this.steps++;
    this.stepping = task;
    if (this.instruments.length > 0) this.callInstruments("beforeTaskStep", task);
    const resolve = task.resolveWait!;
    const reject = task.rejectWait!;
    const value = task.outcomeValue;
    task.resolveWait = task.rejectWait = null;
    task.outcomeValue = undefined;
    if (task.outcomeFailed) reject(value);
    else if (value !== CANCEL_POINT) resolve(value);
    else if (task.cancelStatus?.effectivelyCancelled === true) reject(task.makeCancelled());
    else resolve(undefined);
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
    this.wakeIfIdle();
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
    return this.runQueue.length;
  }

  /**
   * Blocks `task` until every other task is blocked (for `cushion` real
   * milliseconds). Waiters with the smallest cushion wake first, and before
   * any autojump of a virtual clock.
   */
  waitAllTasksBlocked(task: TaskImpl, cushion: number): Promise<unknown> {
    const refused = this.refusal(task);
    if (refused !== null) return refused;
    const waiter: IdleWaiter = { cushion, seq: this.idleSeq++, task };
    const waiters = this.idleWaiters;
    let i = waiters.length;
    while (i > 0 && waiters[i - 1]!.cushion > cushion) i--;
    waiters.splice(i, 0, waiter);
    return this.park(
      task,
      () => {
        const index = this.idleWaiters.indexOf(waiter);
        if (index >= 0) this.idleWaiters.splice(index, 1);
        return Abort.SUCCEEDED;
      },
      { waitingFor: "waitAllTasksBlocked" },
    );
  }

  private wakeIfIdle(): void {
    if (this.idle && this.tickQueued === TickQueued.NONE && this.batch === null)
      this.scheduleTick();
  }

  private goIdle(): void {
    this.idle = true;
    this.idleGeneration = this.generation;
    const next = this.deadlines.next();
    let sleep = next === Infinity ? Infinity : Math.max(0, this.clock.deadlineToSleepTime(next));
    let primed: Primed = Primed.NONE;
    const threshold = this.clock.autojumpThreshold ?? Infinity;
    if (this.idleWaiters.length > 0) {
      const cushion = this.idleWaiters[0]!.cushion;
      if (cushion < sleep) {
        sleep = cushion;
        primed = Primed.IDLE_WAITERS;
      }
    } else if (next !== Infinity && threshold < sleep) {
      sleep = threshold;
      primed = Primed.AUTOJUMP;
    }
    this.clearHostTimer();
    if (sleep === Infinity) {
      // On a virtual clock with nothing external pending, nothing can wake us.
      // Confirm after an event-loop turn: pending microtasks may still reschedule someone.
      if (threshold === Infinity || this.externalWaits > 0 || this.foreignTasks > 0) return;
      sleep = 0;
      primed = Primed.DEADLOCK;
    }
    this.primed = primed;
    if (sleep <= 0) this.hostImmediate = setImmediate(this.onHostTimer);
    else this.hostTimer = setTimeout(this.onHostTimer, Math.ceil(sleep));
  }

  private hostTimerFired(): void {
    this.hostTimer = null;
    this.hostImmediate = null;
    try {
      const stillIdle =
        this.batch === null &&
        this.runQueue.length === 0 &&
        this.generation === this.idleGeneration;
      if (stillIdle && this.primed === Primed.IDLE_WAITERS) {
        const cushion = this.idleWaiters[0]!.cushion;
        while (this.idleWaiters.length > 0 && this.idleWaiters[0]!.cushion === cushion) {
          const waiter = this.idleWaiters.shift()!;
          this.reschedule(waiter.task, false, undefined);
        }
      } else if (stillIdle && this.primed === Primed.AUTOJUMP) {
        this.clock.autojump?.(this.deadlines.next());
      } else if (stillIdle && this.primed === Primed.DEADLOCK) {
        if (this.externalWaits === 0 && this.foreignTasks === 0) this.deadlock();
      }
    } catch (error) {
      this.crash(error);
      return;
    }
    this.idle = false;
    this.sliceStart = performance.now();
    if (this.tickQueued === TickQueued.NONE) this.tick();
  }

  private clearHostTimer(): void {
    if (this.hostTimer !== null) clearTimeout(this.hostTimer);
    if (this.hostImmediate !== null) clearImmediate(this.hostImmediate);
    this.hostTimer = null;
    this.hostImmediate = null;
  }

  /**
   * Every task is blocked on something only another task could provide, time
   * is virtual and nothing is pending: nothing can ever happen. Cancel the run
   * so that every `finally` runs; if even that cannot make progress, give up.
   */
  private deadlock(): void {
    const report = new DeadlockError(
      "deadlock: every task is blocked, no deadline is pending and no I/O is in flight " +
        `(virtual clock at ${this.clock.currentTime()} ms)\n${this.dumpTasks()}`,
    );
    if (this.deadlockError !== null || this.systemNursery === null) {
      this.crash(this.deadlockError ?? report);
      return;
    }
    this.deadlockError = report;
    this.systemNursery.cancelScope.cancelWithReason({ source: "shutdown", reason: "deadlock" });
    // If the cancellation woke nobody, the next idle check finds the deadlock again and gives up.
    this.scheduleTick();
  }

  /** The error the run fails with because of a deadlock, if one was found. */
  get deadlockFound(): DeadlockError | null {
    return this.deadlockError;
  }

  /** A tree of the run's living tasks and what each is doing, for debugging hung programs. */
  dumpTasks(): string {
    return this.rootTask === null ? "" : describeTaskTree(this.rootTask);
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
    this.clearHostTimer();
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
  }

  // ---------------------------------------------------------------- instruments

  addInstrument(instrument: Instrument): void {
    if (!this.instruments.includes(instrument)) this.instruments.push(instrument);
  }

  removeInstrument(instrument: Instrument): void {
    const index = this.instruments.indexOf(instrument);
    if (index < 0) throw new Error("removeInstrument: this instrument is not installed");
    this.instruments.splice(index, 1);
  }

  private callInstruments(hook: keyof Instrument, task?: Task): void {
    for (const instrument of [...this.instruments]) {
      const method = instrument[hook] as ((task?: Task) => void) | undefined;
      if (typeof method !== "function") continue;
      try {
        method.call(instrument, task);
      } catch (error) {
        const index = this.instruments.indexOf(instrument);
        if (index >= 0) this.instruments.splice(index, 1);
        console.error(`weft: instrument hook ${hook} threw; the instrument was removed:`, error);
      }
    }
  }
}
