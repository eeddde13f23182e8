import type { CancelReason } from "../errors/cancelled.ts";
import type { TaskImpl } from "./task.ts";

/**
 * The scope-facing half of a cancel scope, as the kernel sees it.
 * (`CancelScope` implements it; the kernel never imports the class.)
 */
export interface CancelStatusOwner {
  /** Whether cancel() ran or the deadline was processed (a plain flag: no clock read). */
  readonly cancelRequested: boolean;
  readonly shield: boolean;
  readonly deadline: number;
  cancelReason: CancelReason | null;
}

/**
 * The cancellation state of one entered cancel scope: a node in a tree that
 * mirrors the nesting of active scopes (and, across tasks, of nurseries). A
 * task is in exactly one status, its innermost scope's; the status counts its
 * tasks and links the blocked ones (those that can be offered a cancellation)
 * in an intrusive list, so spawning and exiting tasks allocate nothing here.
 *
 * `effectivelyCancelled` is kept up to date eagerly by `recalculate()`: a
 * status is cancelled if its scope was cancelled, or if its parent is and its
 * scope does not shield. When a status becomes cancelled, every task blocked
 * in it is offered the cancellation (its abort callback runs).
 */
export class CancelStatus {
  readonly scope: CancelStatusOwner;
  private parentStatus: CancelStatus | null = null;
  readonly children = new Set<CancelStatus>();
  /** How many tasks have this as their innermost status. */
  taskCount = 0;
  /** Head of the list of blocked tasks in this status that have an abort callback. */
  parkedHead: TaskImpl | null = null;
  effectivelyCancelled = false;
  /** Set when an outer scope was exited while this one was still open. */
  abandonedByMisnesting = false;
  private controller: AbortController | null = null;

  constructor(scope: CancelStatusOwner, parent: CancelStatus | null) {
    this.scope = scope;
    if (parent !== null) this.parent = parent;
    else this.recalculate();
  }

  get parent(): CancelStatus | null {
    return this.parentStatus;
  }

  set parent(parent: CancelStatus | null) {
    if (this.parentStatus !== null) this.parentStatus.children.delete(this);
    this.parentStatus = parent;
    if (parent !== null) {
      parent.children.add(this);
      this.recalculate();
    }
  }

  /** An outer cancellation reaches this status (the parent is cancelled and we do not shield). */
  get parentCancellationIsVisible(): boolean {
    return (
      this.parentStatus !== null && !this.scope.shield && this.parentStatus.effectivelyCancelled
    );
  }

  /**
   * Brings this status and its descendants up to date, depth first with an
   * explicit stack (trees of 100,000 tasks must not overflow the JS stack).
   */
  recalculate(): void {
    const todo: CancelStatus[] = [this];
    while (todo.length > 0) {
      const current = todo.pop()!;
      const visible = current.parentCancellationIsVisible;
      const state = current.scope.cancelRequested || visible;
      if (state === current.effectivelyCancelled) continue;
      if (current.scope.cancelReason === null && visible) {
        // Inherit the outer reason so the Cancelled raised here says why.
        current.scope.cancelReason = current.parentStatus!.scope.cancelReason;
      }
      current.effectivelyCancelled = state;
      if (state) {
        current.abortSignal();
        current.deliverToParkedTasks();
      } else {
        // No longer cancelled: a shield was turned on (or the status moved
        // under a parent that is not cancelled), and the scope itself was
        // never cancelled. A signal handed out before stays aborted (an
        // AbortSignal cannot un-abort), so the next `currentSignal()` gets a
        // fresh one, aborted by the next cancellation ("changing shield takes
        // effect at once"). The reason copied from the outer scope goes too:
        // the next cancellation brings its own.
        current.controller = null;
        current.scope.cancelReason = null;
      }
      for (const child of current.children) todo.push(child);
    }
  }

  /**
   * Offers the cancellation to every blocked task here. Each offer unlinks the
   * task (an abort callback runs at most once per wait), so taking the head
   * until the list is empty visits everyone, even if a callback wakes others.
   */
  deliverToParkedTasks(): void {
    let task = this.parkedHead;
    while (task !== null && this.effectivelyCancelled) {
      task.attemptDeliveryOfPendingCancel();
      if (this.parkedHead === task) break; // not unlinked: cannot happen, but never spin
      task = this.parkedHead;
    }
  }

  /** Whether `other` is this status or one of its descendants. */
  encloses(other: CancelStatus | null): boolean {
    for (let s = other; s !== null; s = s.parentStatus) if (s === this) return true;
    return false;
  }

  /** Earliest deadline of the enclosing scopes up to the nearest shield. */
  effectiveDeadline(): number {
    if (this.effectivelyCancelled) return -Infinity;
    let deadline = Infinity;
    for (let s: CancelStatus | null = this; s !== null; s = s.parentStatus) {
      if (s.scope.deadline < deadline) deadline = s.scope.deadline;
      if (s.scope.shield) break;
    }
    return deadline;
  }

  /**
   * An `AbortSignal` that aborts when this status becomes effectively
   * cancelled (with a `Cancelled` as its reason). Created on first use, and
   * again after the status stopped being cancelled (see `recalculate`).
   */
  signal(makeReason: () => unknown): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      this.makeSignalReason = makeReason;
      if (this.effectivelyCancelled) this.abortSignal();
    }
    return this.controller.signal;
  }

  private makeSignalReason: (() => unknown) | null = null;

  private abortSignal(): void {
    const controller = this.controller;
    if (controller !== null && !controller.signal.aborted) {
      controller.abort(this.makeSignalReason?.());
    }
  }

  /** Unlinks this status when its scope exits. */
  close(): void {
    this.parent = null;
    if (this.taskCount > 0 || this.children.size > 0) {
      // Scopes were exited out of order. Leave the orphaned subtree cancelled so
      // the tasks still in it unwind; the scope's exit reports the misnesting.
      this.markAbandoned();
      this.effectivelyCancelled = true;
      this.deliverToParkedTasks();
      for (const child of this.children) child.recalculate();
    }
  }

  private markAbandoned(): void {
    const todo: CancelStatus[] = [this];
    while (todo.length > 0) {
      const s = todo.pop()!;
      s.abandonedByMisnesting = true;
      for (const child of s.children) todo.push(child);
    }
  }
}
