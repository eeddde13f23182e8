import { UsageError } from "../errors/errors.ts";
import { taskStorage } from "./context.ts";
import { ContextTrigger } from "./context-trigger.ts";
import type { Kernel } from "./kernel.ts";
import { type TaskImpl, TaskState } from "./task.ts";

/** The outcome value of a task at a checkpoint: resumed, it is checked for cancellation first. */
export const CANCEL_POINT: unique symbol = Symbol("weft.cancelPoint");

/** How the current batch of tasks will be followed. */
export const TickQueued = { NONE: 0, MICROTASK: 1, IMMEDIATE: 2, DRAIN: 3 } as const;
export type TickQueued = (typeof TickQueued)[keyof typeof TickQueued];

/**
 * Batches run back to back in microtasks for at most this long before the
 * kernel yields to the host event loop, so that a task that checkpoints in a
 * loop cannot starve I/O and timers, while message passing between tasks does
 * not pay an event-loop turn per step.
 */
const SLICE_MS = 1;

/**
 * On a virtual clock or under a custom scheduler, a slice is this many
 * batches instead (a power of two): real time must not steer such a run. Where
 * the kernel yields to the event loop decides which host callbacks (Node's
 * process.nextTick and setImmediate work: its streams, its HTTP parser) run
 * between which batches, so a slice of real milliseconds would make a
 * simulation's interleavings depend on the machine's speed.
 */
const SLICE_BATCHES = 64;

/** Batches of at most this many tasks may start synchronously (see batchOver). */
const SYNC_BATCH_MAX = 32;

/**
 * The kernel's run loop (one per Kernel, as `kernel.runLoop`): the run queue,
 * processed in batches, and the steps the batch's tasks take.
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
 * used up. When nothing is runnable the kernel goes idle (see idleness.ts).
 *
 * Members without `private` are package-internal: the kernel and its idleness
 * (kernel/ only) use them; nothing outside kernel/ may.
 */
export class RunLoop {
  private readonly kernel: Kernel;

  /** Package-internal: the tasks that run in the next batch. */
  runQueue: TaskImpl[] = [];
  /**
   * Package-internal: the batch whose tasks are taking their steps (`null`
   * between batches), and the index of the next one to resume.
   */
  batch: readonly TaskImpl[] | null = null;
  private batchPosition = 0;
  /** The task whose step is running (RUNNING), if any. */
  private stepping: TaskImpl | null = null;

  /** Package-internal: the task whose step is running (null between steps), for instruments. */
  get steppingTask(): TaskImpl | null {
    return this.stepping;
  }
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
  /** Package-internal: how the current batch will be followed. */
  tickQueued: TickQueued = TickQueued.NONE;
  private immediate: NodeJS.Immediate | null = null;
  /** Package-internal: when the current time slice started (see withinSlice). */
  sliceStart = 0;
  private batchesInSlice = 0;
  /** Package-internal: counts batches, so that idleness knows whether one ran since it went idle. */
  generation = 0;
  /** Package-internal: how many tasks await a foreign promise (state FOREIGN). */
  foreignTasks = 0;
  /** Slices are counted in batches, not real milliseconds (see SLICE_BATCHES); set as the run starts. */
  private slicesInBatches = false;

  // Kernel callbacks run outside any task's async context: each is a
  // ContextTrigger made with the kernel, in its async context.
  /**
   * Fired, it runs the next tick in a microtask, in the kernel's async
   * context. (queueMicrotask would cost an AsyncResource per call, and run in
   * the caller's context.)
   */
  private readonly tickTrigger = new ContextTrigger(() => {
    if (this.tickQueued === TickQueued.MICROTASK) this.tick(); // (DRAIN: the drain check will)
  });
  /** Fired, it arms the drain check from a microtask; see armDrainCheck. */
  private readonly drainTrigger = new ContextTrigger(() => process.nextTick(this.onDrain));
  private readonly onDrain = (): void => this.microtasksDrained();
  private readonly onImmediate = new ContextTrigger(() => this.immediateFired()).fire;

  constructor(kernel: Kernel) {
    this.kernel = kernel;
  }

  /**
   * Package-internal: decides how slices are measured; the kernel calls this
   * as the run starts.
   */
  armTriggers(): void {
    const kernel = this.kernel;
    this.slicesInBatches =
      kernel.scheduler !== null || Number.isFinite(kernel.clock.autojumpThreshold ?? Infinity);
  }

  /** Package-internal: the run is over; no tick may follow. */
  stop(): void {
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
  }

  /**
   * Package-internal: queues `task` for the next batch. `wake`: someone made
   * it runnable (a reschedule, a spawn) rather than the task itself blocking;
   * see scheduleTick.
   */
  enqueue(task: TaskImpl, wake: boolean): void {
    this.runQueue.push(task);
    const kernel = this.kernel;
    if (kernel.instruments.length > 0) kernel.callTaskInstruments("taskScheduled", task);
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
   * Package-internal: called by every operation that ends a step or rejoins a
   * foreign task, once its bookkeeping is done: resumes the next task of the
   * batch, or starts the next batch.
   */
  stepOver(): void {
    if (this.stepDone) {
      this.stepDone = false;
      this.stepNext();
    } else if (this.foreignRejoined) {
      // A task that was awaiting a foreign promise blocked again. If the
      // kernel went idle meanwhile it armed no deadlock check or autojump
      // for that task's sake: look again.
      this.foreignRejoined = false;
      const idleness = this.kernel.idleness;
      if (this.tickQueued === TickQueued.DRAIN) {
        // It woke tasks (see scheduleTick) and has now blocked: they may go.
        this.tickQueued = TickQueued.NONE;
        this.scheduleTick();
      } else if (idleness.idle && this.tickQueued === TickQueued.NONE && this.batch === null) {
        idleness.goIdle();
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
      this.kernel.idleness.goIdle();
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
    const kernel = this.kernel;
    return (
      kernel.instruments.length === 0 &&
      kernel.scheduler === null &&
      !kernel.finished &&
      (kernel.deadlines.size === 0 || kernel.deadlines.next() > kernel.clock.currentTime()) &&
      this.runQueue.length <= SYNC_BATCH_MAX
    );
  }

  /**
   * Whether the next batch may follow without yielding to the event loop.
   * Reading the clock costs as much as a small batch: look every 8 batches.
   * On a virtual clock or under a custom scheduler, count batches instead.
   */
  private withinSlice(): boolean {
    if (this.slicesInBatches) return ++this.batchesInSlice % SLICE_BATCHES !== 0;
    return (++this.batchesInSlice & 7) !== 0 || performance.now() - this.sliceStart < SLICE_MS;
  }

  /** Package-internal: the task stops running its step (it blocks or exits). */
  endStep(task: TaskImpl): void {
    if (task.state === TaskState.RUNNING) {
      const kernel = this.kernel;
      if (kernel.instruments.length > 0) kernel.callTaskInstruments("afterTaskStep", task);
      // The step is over, but the caller finishes its bookkeeping first (it
      // parks or queues the task), then calls stepOver().
      this.stepping = null;
      this.stepDone = true;
    } else if (task.state === TaskState.FOREIGN) {
      this.foreignTasks--;
      this.foreignRejoined = true;
    }
  }

  // ---------------------------------------------------------------- ticks

  /** Package-internal: makes sure a tick follows (in a microtask, after the drain, or after an event-loop turn). */
  scheduleTick(wake = false): void {
    if (this.tickQueued !== TickQueued.NONE || this.kernel.finished) return;
    // A task woken from code outside the running step (see wokenOutsideStep):
    // the batch starts once that code blocks (stepOver) or its microtasks
    // drain.
    const foreign = wake && this.wokenOutsideStep();
    const idleness = this.kernel.idleness;
    if (idleness.idle) {
      // Waking from idle: the event loop has just had its turn.
      idleness.idle = false;
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
        else idleness.goIdle(); // a new deadline: re-arm the host timer
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
      // Already fired (its reaction is still queued: its tick was deferred to
      // the drain, then released), it does nothing, and that reaction runs
      // this tick.
      this.tickTrigger.fire();
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
    this.drainTrigger.fire();
  }

  /**
   * The microtask queue is empty. A step still running now awaits a promise
   * that only the host can settle (a timer, I/O, another thread): the task
   * is FOREIGN, and the batch goes on without it.
   */
  private microtasksDrained(): void {
    this.drainCheckArmed = false;
    const kernel = this.kernel;
    if (kernel.finished) return;
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
    if (kernel.instruments.length > 0) kernel.callTaskInstruments("afterTaskStep", task);
    try {
      this.stepNext();
    } catch (error) {
      kernel.crash(error);
    }
  }

  /** Package-internal: expires the deadlines due, then runs the next batch or goes idle. */
  tick(): void {
    this.tickQueued = TickQueued.NONE;
    const kernel = this.kernel;
    if (kernel.finished || this.batch !== null) return;
    try {
      if (kernel.deadlines.size > 0) kernel.deadlines.expire(kernel.clock.currentTime());
      if (this.runQueue.length === 0) kernel.idleness.goIdle();
      else this.runBatch();
    } catch (error) {
      kernel.crash(error);
    }
  }

  private runBatch(): void {
    const queue = this.runQueue;
    let batch: readonly TaskImpl[] = queue;
    const scheduler = this.kernel.scheduler;
    if (scheduler === null) {
      this.runQueue = [];
    } else {
      batch = scheduler.selectBatch(queue) as readonly TaskImpl[];
      // One step at a time (the deterministic scheduler): no set, no copy.
      const only = batch.length === 1 && batch !== queue ? queue.indexOf(batch[0]!) : -1;
      if (batch === queue) {
        this.runQueue = [];
      } else if (only >= 0) {
        queue.splice(only, 1);
      } else {
        if (batch.length === 0) throw new UsageError("Scheduler.selectBatch returned no task");
        const chosen = new Set(batch);
        const rest = queue.filter((task) => !chosen.has(task));
        if (rest.length + chosen.size !== queue.length || chosen.size !== batch.length) {
          throw new UsageError(
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
    const kernel = this.kernel;
    if (kernel.instruments.length > 0) kernel.callTaskInstruments("beforeTaskStep", task);
    const resolve = task.resolveWait!;
    const reject = task.rejectWait; // null for a start promise, which is never failed (armTaskStart)
    const value = task.outcomeValue;
    task.resolveWait = task.rejectWait = null;
    task.outcomeValue = undefined;
    if (task.outcomeFailed) reject!(value);
    else if (value !== CANCEL_POINT) resolve(value);
    else if (task.cancelStatus?.effectivelyCancelled === true) reject!(task.makeCancelled());
    else resolve(undefined);
  }
}
