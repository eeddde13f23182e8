import type { CancelStatus } from "./cancel-status.ts";
import { type Cancelled, createCancelled } from "./cancelled.ts";
import type { AbortFn, Kernel, WaitOptions } from "./kernel.ts";
import type { Nursery } from "./nursery.ts";

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

/** What the kernel knows of a task. States only move forward except PARKED ↔ RUNNABLE ↔ RUNNING. */
export const TaskState = {
  /** In the run queue, waiting for a batch. */
  RUNNABLE: 0,
  /** Resumed by the current batch; the step has not yet blocked or exited. */
  RUNNING: 1,
  /** Was running when the batch ended without it blocking: it is awaiting a foreign promise. */
  FOREIGN: 2,
  /** Blocked in `waitTaskRescheduled`. */
  PARKED: 3,
  DONE: 4,
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** Receives a task's outcome when it exits (its nursery, or the kernel for the root). */
export interface TaskParent {
  childFinished(task: TaskImpl, failed: boolean, value: unknown): void;
}

export class TaskImpl implements Task {
  readonly name: string;
  readonly kernel: Kernel;
  parentNursery: (Nursery & TaskParent) | null;
  eventualParentNursery: Nursery | null = null;
  readonly childNurseries: Nursery[] = [];
  /** The innermost cancel status the task is in; `null` only for the root task before it opens its nursery. */
  cancelStatus: CancelStatus | null;
  state: TaskState = TaskState.RUNNABLE;

  /** The function to start on the first step; cleared once started. */
  fn: (() => unknown) | null;
  // The pending wait: how to resume it, and how to abort it (at most once).
  resolveWait: ((value: unknown) => void) | null = null;
  rejectWait: ((error: unknown) => void) | null = null;
  abortFn: AbortFn | null = null;
  waitOptions: WaitOptions | undefined = undefined;
  // The outcome to resume with, set by reschedule.
  outcomeFailed = false;
  outcomeValue: unknown = undefined;

  constructor(
    kernel: Kernel,
    fn: () => unknown,
    name: string,
    parentNursery: (Nursery & TaskParent) | null,
    cancelStatus: CancelStatus | null,
  ) {
    this.kernel = kernel;
    this.fn = fn;
    this.name = name;
    this.parentNursery = parentNursery;
    this.cancelStatus = cancelStatus;
    if (cancelStatus !== null) cancelStatus.tasks.add(this);
  }

  /** Moves the task into another cancel status (entering or leaving a scope, or reparenting). */
  activateCancelStatus(status: CancelStatus | null): void {
    if (this.cancelStatus !== null) this.cancelStatus.tasks.delete(this);
    this.cancelStatus = status;
    if (status !== null) {
      status.tasks.add(this);
      if (status.effectivelyCancelled) this.attemptDeliveryOfPendingCancel();
    }
  }

  /** A `Cancelled` describing why the task's current status is cancelled. */
  makeCancelled(): Cancelled {
    return createCancelled(this.cancelStatus?.scope.cancelReason ?? null);
  }

  /** If the task is blocked and its status is cancelled, offer it the cancellation. */
  attemptDeliveryOfPendingCancel(): void {
    if (this.abortFn === null) return;
    if (this.cancelStatus === null || !this.cancelStatus.effectivelyCancelled) return;
    this.kernel.attemptAbort(this, () => {
      throw this.makeCancelled();
    });
  }

  toString(): string {
    return `<task ${JSON.stringify(this.name)}>`;
  }
}
