import { type Cancelled, type CancelReason, createCancelled } from "../errors/cancelled.ts";
import type { CancelStatus } from "./cancel-status.ts";
import type { Abort, Kernel, WaitOptions } from "./kernel.ts";
import type { Nursery, Task } from "./types.ts";

/** What the kernel knows of a task. States only move forward except PARKED ↔ RUNNABLE ↔ RUNNING. */
export const TaskState = {
  /** In the run queue, waiting for a batch. */
  RUNNABLE: 0,
  /** Resumed by the current batch; the step has not yet blocked or exited. */
  RUNNING: 1,
  /** Its step was still running when the microtask queue drained: it is awaiting a foreign promise. */
  FOREIGN: 2,
  /** Blocked in `waitTaskRescheduled`. */
  PARKED: 3,
  DONE: 4,
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** Receives a task's outcome when it exits (its nursery, or the kernel for the root). */
export interface TaskParent {
  childFinished(task: TaskImpl, failed: boolean, value: unknown): void;
  /** Records an error raised on behalf of a child that goes on running, and cancels. */
  addError(error: unknown, reason: CancelReason): void;
  /** Finished: it takes no more children or errors. */
  readonly closed: boolean;
}

/** A task's nursery as the kernel sees it. */
export type ParentNursery = Nursery & TaskParent;

/**
 * The run's system nursery as the kernel and the layers beside it see it: the
 * run layer sets it (the kernel knows nothing of nurseries).
 */
export interface SystemNursery extends TaskParent {
  spawnChild(fn: () => unknown, name: string | { readonly name: string }): TaskImpl;
  readonly cancelScope: { cancelWithReason(reason: CancelReason): void };
}

/** A parking lot as the kernel sees it: something to break when its holder exits. */
export interface BreakableLot {
  breakLot(task?: Task): void;
}

/** An abort callback as the kernel calls it: weft's own primitives also get the task. */
export type KernelAbortFn = (raiseCancel: () => never, task: TaskImpl) => Abort;

/**
 * What few tasks need (a nursery opened, a lock held, a `start()` handoff),
 * apart from the task object so that every other task is smaller by its
 * fields: 100,000 blocked tasks are 100,000 task objects (issue 19).
 */
class TaskRareFields {
  eventualParentNursery: Nursery | null = null;
  openNurseries: Nursery[] | null = null;
  lotsToBreak: BreakableLot[] | null = null;
}

export class TaskImpl implements Task {
  /** The name given, or the function to take the name from on first use (reading `fn.name` is slow). */
  private nameOrSource: string | { readonly name: string };
  readonly kernel: Kernel;
  parentNursery: ParentNursery | null;
  /** Allocated on first use; see TaskRareFields. */
  private rare: TaskRareFields | null = null;
  /** The innermost cancel status the task is in; `null` only for the root task before it opens its nursery. */
  cancelStatus: CancelStatus | null;
  state: TaskState = TaskState.RUNNABLE;

  /** The function to start on the first step; cleared once started (see armTaskStart). */
  fn: (() => unknown) | null;
  // The pending wait: how to resume it, and how to abort it (at most once).
  resolveWait: ((value: unknown) => void) | null = null;
  rejectWait: ((error: unknown) => void) | null = null;
  abortFn: KernelAbortFn | null = null;
  waitOptions: WaitOptions | undefined = undefined;
  /** When the pending wait began (the run's clock), for task dumps. */
  parkedAt = 0;
  /** Private state of the primitive the task is blocked in (the sleep timer, a queue node…). */
  waitData: unknown = undefined;
  // The outcome to resume with, set by reschedule.
  outcomeFailed = false;
  outcomeValue: unknown = undefined;

  // Intrusive links: siblings in the parent nursery, and blocked tasks of a cancel status.
  prevSibling: TaskImpl | null = null;
  nextSibling: TaskImpl | null = null;
  prevParked: TaskImpl | null = null;
  nextParked: TaskImpl | null = null;
  /** The status whose parked list holds this task, if any. */
  parkedIn: CancelStatus | null = null;

  constructor(
    kernel: Kernel,
    fn: () => unknown,
    name: string | { readonly name: string },
    parentNursery: ParentNursery | null,
    cancelStatus: CancelStatus | null,
  ) {
    this.kernel = kernel;
    this.fn = fn;
    this.nameOrSource = name;
    this.parentNursery = parentNursery;
    this.cancelStatus = cancelStatus;
    if (cancelStatus !== null) cancelStatus.taskCount++;
  }

  /** Where a task started with `Nursery.start()` moves once it calls `started()`. */
  get eventualParentNursery(): Nursery | null {
    return this.rare === null ? null : this.rare.eventualParentNursery;
  }

  set eventualParentNursery(nursery: Nursery | null) {
    this.rareFields().eventualParentNursery = nursery;
  }

  /** The nurseries this task has open, outermost first (allocated on first use). */
  get openNurseries(): Nursery[] | null {
    return this.rare === null ? null : this.rare.openNurseries;
  }

  set openNurseries(nurseries: Nursery[] | null) {
    this.rareFields().openNurseries = nurseries;
  }

  /** Parking lots to break if this task exits (a lock it holds); see lowlevel.addParkingLotBreaker. */
  get lotsToBreak(): BreakableLot[] | null {
    return this.rare === null ? null : this.rare.lotsToBreak;
  }

  set lotsToBreak(lots: BreakableLot[] | null) {
    this.rareFields().lotsToBreak = lots;
  }

  private rareFields(): TaskRareFields {
    if (this.rare === null) this.rare = new TaskRareFields();
    return this.rare;
  }

  get name(): string {
    const source = this.nameOrSource;
    if (typeof source === "string") return source;
    const name = source.name || "task";
    this.nameOrSource = name;
    return name;
  }

  get childNurseries(): readonly Nursery[] {
    return this.openNurseries === null ? [] : [...this.openNurseries];
  }

  /** Moves the task into another cancel status (entering or leaving a scope, or reparenting). */
  activateCancelStatus(status: CancelStatus | null): void {
    const old = this.cancelStatus;
    if (old !== null) old.taskCount--;
    this.cancelStatus = status;
    if (this.parkedIn !== null) {
      this.leaveParkedList();
      if (status !== null) this.joinParkedList(status);
    }
    if (status !== null) {
      status.taskCount++;
      if (status.effectivelyCancelled) this.attemptDeliveryOfPendingCancel();
    }
  }

  /** Registers the blocked task with `status`, so a cancellation there reaches it. */
  joinParkedList(status: CancelStatus): void {
    this.parkedIn = status;
    const head = status.parkedHead;
    this.nextParked = head;
    this.prevParked = null;
    if (head !== null) head.prevParked = this;
    status.parkedHead = this;
  }

  leaveParkedList(): void {
    const status = this.parkedIn;
    if (status === null) return;
    const prev = this.prevParked;
    const next = this.nextParked;
    if (prev !== null) prev.nextParked = next;
    else status.parkedHead = next;
    if (next !== null) next.prevParked = prev;
    this.prevParked = this.nextParked = null;
    this.parkedIn = null;
  }

  /** A `Cancelled` describing why the task's current status is cancelled. */
  makeCancelled(): Cancelled {
    return createCancelled(this.cancelStatus?.scope.cancelReason ?? null);
  }

  /** If the task is blocked and its status is cancelled, offer it the cancellation. */
  attemptDeliveryOfPendingCancel(): void {
    if (this.abortFn === null) return;
    if (this.cancelStatus === null || !this.cancelStatus.effectivelyCancelled) return;
    this.kernel.attemptAbort(this);
  }

  toString(): string {
    return `<task ${JSON.stringify(this.name)}>`;
  }
}
