import type { CancelReason } from "../errors/cancelled.ts";
import { describeThrown } from "../errors/describe-thrown.ts";
import { UsageError } from "../errors/errors.ts";
import { ExceptionGroup, markCollapsible, summarisedGroup } from "../errors/exception-group.ts";
import { cutInternalFrames } from "../errors/internal-frames.ts";
import { recordRaisingTask } from "../errors/raising-task.ts";
import {
  checkBoolean,
  checkFunction,
  checkOptionalName,
  checkOptionsObject,
} from "../errors/validate.ts";
import { CancelScope, NO_ERROR } from "../kernel/cancel-scope.ts";
import type { CancelStatus } from "../kernel/cancel-status.ts";
import { currentTaskOrUndefined, requireTask } from "../kernel/context.ts";
import { Abort, type Kernel } from "../kernel/kernel.ts";
import { type TaskImpl, type TaskParent, TaskState } from "../kernel/task.ts";
import type { Nursery, SpawnOptions, Task, TaskStatus } from "../kernel/types.ts";
import { appendSpawnTrail, recordSpawnSite, recordsSpawnTrails } from "./spawn-trail.ts";

/** A `TaskStatus` whose `started()` does nothing, for calling a startable function directly. */
export const TASK_STATUS_IGNORED: TaskStatus<never> = Object.freeze({ started(): void {} });

/** The task's name: the one given, or (looked up lazily) the function's. */
function taskName(
  fn: { readonly name: string },
  options: SpawnOptions | undefined,
): string | { readonly name: string } {
  return options?.name ?? fn;
}

export class NurseryImpl implements Nursery, TaskParent {
  readonly cancelScope: CancelScope;
  readonly parentTask: TaskImpl;
  readonly strictErrors: boolean;
  /** The status children start in: the nursery scope's. */
  readonly status: CancelStatus;
  readonly kernel: Kernel;
  // The running children, as an intrusive list (spawning allocates no set entry).
  private firstChild: TaskImpl | null = null;
  childCount = 0;
  private pendingErrors: unknown[] = [];
  private bodyRunning = true;
  private parentWaitingAtExit = false;
  pendingStarts = 0;
  closed = false;
  /** Debug mode: children record where they were spawned (see spawn-trail.ts). */
  private readonly spawnTrails: boolean;

  constructor(parentTask: TaskImpl, cancelScope: CancelScope, strictErrors: boolean) {
    this.parentTask = parentTask;
    this.kernel = parentTask.kernel;
    this.cancelScope = cancelScope;
    this.strictErrors = strictErrors;
    this.status = cancelScope.status!;
    this.spawnTrails = recordsSpawnTrails(this.kernel);
  }

  get childTasks(): ReadonlySet<Task> {
    return new Set<Task>(this.childList());
  }

  /** @internal */
  addChild(task: TaskImpl): void {
    const first = this.firstChild;
    task.prevSibling = null;
    task.nextSibling = first;
    if (first !== null) first.prevSibling = task;
    this.firstChild = task;
    this.childCount++;
  }

  /** @internal */
  removeChild(task: TaskImpl): void {
    const prev = task.prevSibling;
    const next = task.nextSibling;
    if (prev !== null) prev.nextSibling = next;
    else this.firstChild = next;
    if (next !== null) next.prevSibling = prev;
    task.prevSibling = task.nextSibling = null;
    this.childCount--;
  }

  /** @internal The children, oldest first. */
  childList(): TaskImpl[] {
    const tasks: TaskImpl[] = [];
    for (let t = this.firstChild; t !== null; t = t.nextSibling) tasks.push(t);
    return tasks.reverse();
  }

  startSoon(fn: () => Promise<unknown>, options?: SpawnOptions): void {
    checkFunction("fn", fn);
    checkOptionsObject("options", options);
    checkOptionalName("options.name", options?.name);
    this.spawnChild(fn, taskName(fn, options));
  }

  /** @internal */
  spawnChild(fn: () => unknown, name: string | { readonly name: string }): TaskImpl {
    if (this.closed)
      throw new UsageError("nursery is closed: it has finished and cannot start new tasks");
    const task = this.kernel.spawn(fn, this, this.status, name);
    this.addChild(task);
    if (this.spawnTrails) {
      const spawner = currentTaskOrUndefined();
      recordSpawnSite(task, spawner === this.kernel.rootTask ? undefined : spawner);
    }
    return task;
  }

  start<T = void>(
    fn: (status: TaskStatus<T>) => Promise<unknown>,
    options?: SpawnOptions,
  ): Promise<NoInfer<T>> {
    let caller: TaskImpl;
    try {
      checkFunction("fn", fn);
      checkOptionsObject("options", options);
      checkOptionalName("options.name", options?.name);
      caller = requireTask("Nursery.start()");
    } catch (error) {
      return Promise.reject(error);
    }
    const refused = caller.kernel.refusal(caller);
    if (refused !== null) return refused;
    if (this.closed) {
      return Promise.reject(
        new UsageError("nursery is closed: it has finished and cannot start new tasks"),
      );
    }
    return this.startIn(caller, fn, options?.name ?? (fn.name || "task"));
  }

  private async startIn<T>(
    caller: TaskImpl,
    fn: (status: TaskStatus<T>) => Promise<unknown>,
    name: string,
  ): Promise<T> {
    this.pendingStarts++;
    try {
      let status: TaskStatusImpl<T> | null = null;
      try {
        // Until started(), the child lives in a nursery of the caller's, so the
        // caller's cancellation reaches it and its error comes out of start().
        await openNurseryIn(caller, true, async (oldNursery) => {
          const impl = new TaskStatusImpl<T>(oldNursery, this);
          status = impl;
          const task = oldNursery.spawnChild(() => fn(impl as TaskStatus<T>), name);
          task.eventualParentNursery = this;
        });
      } catch (error) {
        if (error instanceof ExceptionGroup && error.errors.length === 1) throw error.errors[0];
        throw error;
      }
      const done = status as TaskStatusImpl<T> | null;
      if (done === null || !done.hasValue) {
        throw new UsageError(
          `task ${JSON.stringify(name)} exited without calling started() on its task status`,
        );
      }
      return done.value as T;
    } finally {
      this.pendingStarts--;
      this.checkClosed();
    }
  }

  /** @internal Records an error and cancels the nursery. */
  addError(error: unknown, reason: CancelReason): void {
    this.pendingErrors.push(error);
    this.cancelScope.cancelWithReason(reason);
  }

  /** @internal */
  childFinished(task: TaskImpl, failed: boolean, value: unknown): void {
    this.removeChild(task);
    if (failed) {
      recordRaisingTask(value, task.name, this.kernel);
      if (this.spawnTrails) appendSpawnTrail(value, task);
      this.pendingErrors.push(value);
      // Only the first error's reason is kept; skip building the others.
      if (!this.cancelScope.cancelRequested) {
        this.cancelScope.cancelWithReason({
          source: "nursery",
          reason: `task ${JSON.stringify(task.name)} raised ${describeThrown(value)}`,
        });
      }
    }
    this.checkClosed();
  }

  /** @internal Closes the nursery once the body has finished and nothing is left running or starting. */
  checkClosed(): void {
    if (this.bodyRunning || this.childCount > 0 || this.pendingStarts > 0) return;
    this.closed = true;
    if (this.parentWaitingAtExit) {
      this.parentWaitingAtExit = false;
      // Unless the parent exited meanwhile, its exit wait forgotten (it
      // returned without awaiting openNursery: see Kernel.taskExited).
      if (this.parentTask.state === TaskState.PARKED) {
        this.kernel.reschedule(this.parentTask, false, undefined);
      }
    }
  }

  /**
   * @internal The body is done: wait for the children, then return what the
   * nursery raises (an ExceptionGroup, a lone error if not strict, or NO_ERROR).
   * Waiting is a schedule point, never a cancel point.
   */
  async finish(bodyError: unknown): Promise<unknown> {
    if (bodyError !== NO_ERROR) {
      recordRaisingTask(bodyError, this.parentTask.name, this.kernel);
      this.addError(bodyError, {
        source: "nursery",
        reason: `the nursery's body raised ${describeThrown(bodyError)}`,
      });
    }
    this.bodyRunning = false;
    this.checkClosed();
    if (!this.closed) {
      this.parentWaitingAtExit = true;
      // A cancellation while waiting is not an error of ours: the children
      // are in our cancel status and see it; we keep waiting for them.
      await this.kernel.park(this.parentTask, () => Abort.FAILED, {
        waitingFor: () => `nursery exit, waiting for ${this.childCount} child task(s)`,
      });
    } else {
      await this.kernel.yieldTask(this.parentTask);
    }
    const errors = this.pendingErrors;
    this.pendingErrors = [];
    if (errors.length === 0) return NO_ERROR;
    if (!this.strictErrors && errors.length === 1) return errors[0];
    // Enclosing scopes may remove the Cancelled they own: the groups they
    // derive summarise what is left.
    const group = cutInternalFrames(summarisedGroup(errors, "errors raised in a nursery"));
    return this.strictErrors ? group : markCollapsible(group);
  }
}

class TaskStatusImpl<T> implements TaskStatus<T> {
  hasValue = false;
  value: T | undefined = undefined;
  private readonly oldNursery: NurseryImpl;
  private readonly newNursery: NurseryImpl;

  constructor(oldNursery: NurseryImpl, newNursery: NurseryImpl) {
    this.oldNursery = oldNursery;
    this.newNursery = newNursery;
  }

  started(...value: T extends void ? [] : [T]): void {
    if (this.hasValue) throw new UsageError("started() was called twice on the same task status");
    this.hasValue = true;
    this.value = value[0] as T | undefined;
    const old = this.oldNursery;
    // If start() was cancelled, the child stays where it is: moving a task with
    // a Cancelled in flight somewhere no scope would catch it would be wrong.
    if (old.status.effectivelyCancelled) return;
    const target = this.newNursery;
    const tasks = old.childList();
    for (const task of tasks) {
      old.removeChild(task);
      task.parentNursery = target;
      task.eventualParentNursery = null;
      target.addChild(task);
    }
    // Detach everything from the old status before attaching to the new one,
    // since attaching to a cancelled status can run abort callbacks. The tasks
    // directly in the old status are the moved children not inside a scope of
    // their own (the caller of start() is in it too, and stays).
    const statuses = [...old.status.children];
    const statusTasks = tasks.filter((task) => task.cancelStatus === old.status);
    for (const status of statuses) status.parent = null;
    for (const task of statusTasks) task.activateCancelStatus(null);
    for (const status of statuses) status.parent = target.status;
    for (const task of statusTasks) task.activateCancelStatus(target.status);
    old.checkClosed();
  }
}

/** @internal Opens a nursery in `task` around `body`. */
export async function openNurseryIn<T>(
  task: TaskImpl,
  strictErrors: boolean,
  body: (nursery: NurseryImpl) => Promise<T>,
): Promise<T> {
  const scope = new CancelScope();
  scope.enter(task);
  const nursery = new NurseryImpl(task, scope, strictErrors);
  task.openNurseries ??= [];
  task.openNurseries.push(nursery);
  const kernel = task.kernel;
  if (kernel.instruments.length > 0) kernel.callInstruments("nurseryOpened", nursery);
  let value: T | undefined;
  let bodyError: unknown = NO_ERROR;
  try {
    value = await body(nursery);
  } catch (error) {
    bodyError = error;
  }
  let raised = await nursery.finish(bodyError);
  if (kernel.instruments.length > 0) kernel.callInstruments("nurseryClosed", nursery);
  if (task.openNurseries?.pop() !== nursery) {
    raised = new UsageError(
      "nursery stack corrupted: nurseries must close in reverse order of opening",
      {
        cause: raised === NO_ERROR ? undefined : raised,
      },
    );
  }
  const remaining = scope.exit(task, raised);
  if (remaining !== NO_ERROR) throw remaining;
  return value as T;
}

/**
 * Opens a nursery, runs `body` with it, and waits for every child task.
 * Resolves with the body's value; rejects with an `ExceptionGroup` of every
 * error raised by the body or a child (strict even for one error; pass
 * `strictErrors: false` to get a lone error unwrapped).
 *
 * ```ts
 * await openNursery(async (nursery) => {
 *   nursery.startSoon(() => fetchOne(a));
 *   nursery.startSoon(() => fetchOne(b));
 * }); // both done here
 * ```
 */
export function openNursery<T>(
  body: (nursery: Nursery) => Promise<T>,
  options?: { strictErrors?: boolean },
): Promise<T> {
  try {
    checkFunction("body", body);
    checkOptionsObject("options", options);
    if (options?.strictErrors !== undefined)
      checkBoolean("options.strictErrors", options.strictErrors);
    const task = requireTask("openNursery()");
    const refused = task.kernel.refusal(task);
    if (refused !== null) return refused;
    return openNurseryIn(task, options?.strictErrors ?? task.kernel.strictErrors, body);
  } catch (error) {
    return Promise.reject(error);
  }
}
