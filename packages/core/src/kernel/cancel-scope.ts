import { Cancelled, type CancelReason, createCancelled } from "../errors/cancelled.ts";
import { UsageError } from "../errors/errors.ts";
import { collapse, ExceptionGroup } from "../errors/exception-group.ts";
import {
  checkBoolean,
  checkDeadline,
  checkDuration,
  checkFunction,
  checkOptionsObject,
} from "../errors/validate.ts";
import { CancelStatus } from "./cancel-status.ts";
import { currentTaskOrUndefined, requireTask } from "./context.ts";
import type { DeadlineEntry } from "./deadline-heap.ts";
import type { Kernel } from "./kernel.ts";
import type { TaskImpl } from "./task.ts";

/** Marks "no error" where `undefined` could be a thrown value. */
export const NO_ERROR: unique symbol = Symbol("weft.noError");
export type MaybeError = unknown;

/** Options of `new CancelScope()`: a deadline (absolute or relative, not both) and a shield. */
export interface CancelScopeOptions {
  /** Absolute deadline on the run's clock (ms). */
  deadline?: number;
  /** Deadline relative to when the scope is entered (ms). */
  relativeDeadline?: number;
  /** Protects the body from cancellations of enclosing scopes. */
  shield?: boolean;
}

/**
 * A region of code that can be cancelled — explicitly with `cancel()`, or when
 * its deadline passes. Cancellation is level-triggered: every checkpoint inside
 * a cancelled (and unshielded) scope throws `Cancelled` until the scope exits,
 * and the scope that was cancelled catches the `Cancelled` at its exit.
 *
 * ```ts
 * const scope = new CancelScope({ relativeDeadline: 1000 });
 * await scope.run(async () => { await sleep(5000); });
 * scope.cancelledCaught; // true: the sleep was cut short after one second
 * ```
 */
export class CancelScope {
  #deadline = Infinity;
  #relativeDeadline = Infinity;
  #shield = false;
  #cancelledCaught = false;
  #entered = false;
  #controller: AbortController | null = null;
  /** @internal Plain flag read by the cancel-status tree (no clock check). */
  cancelRequested = false;
  /** @internal The first reason this scope was cancelled for. */
  cancelReason: CancelReason | null = null;
  /** @internal Set while the scope is entered. */
  status: CancelStatus | null = null;
  #kernel: Kernel | null = null;
  #deadlineEntry: DeadlineEntry | null = null;

  constructor(options: CancelScopeOptions = {}) {
    checkOptionsObject("options", options);
    const { deadline, relativeDeadline, shield } = options;
    if (deadline !== undefined && relativeDeadline !== undefined) {
      throw new RangeError("give either options.deadline or options.relativeDeadline, not both");
    }
    if (deadline !== undefined) {
      checkDeadline("options.deadline", deadline);
      this.#deadline = deadline;
    }
    if (relativeDeadline !== undefined) {
      checkDuration("options.relativeDeadline", relativeDeadline);
      this.#relativeDeadline = relativeDeadline;
    }
    if (shield !== undefined) {
      checkBoolean("options.shield", shield);
      this.#shield = shield;
    }
  }

  /** Absolute deadline on the run's clock; `Infinity` for none. Changes take effect at once. */
  get deadline(): number {
    return this.#deadline;
  }

  /** Sets the absolute deadline (clearing a relative one); `Infinity` removes it. */
  set deadline(deadline: number) {
    checkDeadline("deadline", deadline);
    this.#relativeDeadline = Infinity;
    this.#deadline = deadline;
    this.#registerDeadline();
  }

  /**
   * The deadline relative to now (once entered) or to the moment of entry
   * (before). Setting it on an entered scope moves the deadline to now + value.
   */
  get relativeDeadline(): number {
    if (this.#kernel !== null) return this.#deadline - this.#kernel.currentTime();
    if (this.#deadline !== Infinity) {
      throw new UsageError(
        "this scope has an absolute deadline and has not been entered: it has no relative deadline",
      );
    }
    return this.#relativeDeadline;
  }

  /** Sets the deadline relative to now (entered scope) or to the moment of entry (before entry). */
  set relativeDeadline(ms: number) {
    checkDuration("relativeDeadline", ms);
    if (this.#kernel !== null) {
      this.#deadline = this.#kernel.currentTime() + ms;
      this.#registerDeadline();
    } else if (this.#deadline !== Infinity) {
      throw new UsageError(
        "this scope has an absolute deadline and has not been entered: it has no relative deadline",
      );
    } else {
      this.#relativeDeadline = ms;
    }
  }

  /** While true, cancellations of enclosing scopes do not reach the body. Changes take effect at once. */
  get shield(): boolean {
    return this.#shield;
  }

  /** Shields the body from (or exposes it to) cancellations of enclosing scopes, at once. */
  set shield(shield: boolean) {
    checkBoolean("shield", shield);
    this.#shield = shield;
    this.status?.recalculate();
  }

  /** True once `cancel()` ran or the deadline passed; never reverts. */
  get cancelCalled(): boolean {
    if (
      !this.cancelRequested &&
      this.#deadline !== Infinity &&
      (this.status !== null || !this.#entered)
    ) {
      const kernel = this.#kernel ?? currentTaskOrUndefined()?.kernel;
      if (kernel !== undefined && !kernel.finished && kernel.currentTime() >= this.#deadline) {
        this.cancelWithReason({ source: "deadline" });
      }
    }
    return this.cancelRequested;
  }

  /** True if the body ended with a `Cancelled` that this scope caught. */
  get cancelledCaught(): boolean {
    return this.#cancelledCaught;
  }

  /** Aborted once this scope is cancelled; its reason is the `Cancelled` the body sees. */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.cancelRequested) this.#controller.abort(createCancelled(this.cancelReason));
    }
    return this.#controller.signal;
  }

  /** Cancels the scope. Idempotent; the first reason given wins. Works before entry; after exit it only sets `cancelCalled`. */
  cancel(reason?: string): void {
    if (reason !== undefined && typeof reason !== "string") {
      throw new TypeError(`reason must be a string, got ${typeof reason}`);
    }
    this.cancelWithReason(
      reason === undefined ? { source: "explicit" } : { source: "explicit", reason },
    );
  }

  /** @internal Cancels with a specific source (deadline, nursery, shutdown, signal). */
  cancelWithReason(reason: CancelReason): void {
    if (this.cancelRequested) return;
    this.cancelReason ??= reason;
    this.cancelRequested = true;
    this.#removeDeadline();
    if (this.#controller !== null && !this.#controller.signal.aborted) {
      this.#controller.abort(createCancelled(this.cancelReason));
    }
    const kernel = this.#kernel;
    if (kernel !== null && kernel.instruments.length > 0) {
      kernel.callInstruments("cancelScopeCancelled", this, this.cancelReason);
    }
    this.status?.recalculate();
  }

  /**
   * Runs `body` inside this scope. Resolves with its value, or with
   * `undefined` if the scope caught its own cancellation. A scope can be run once.
   */
  run<T>(body: (scope: CancelScope) => Promise<T>): Promise<T | undefined> {
    try {
      checkFunction("body", body);
      const task = requireTask("CancelScope.run()");
      const refused = task.kernel.refusal(task);
      if (refused !== null) return refused;
      this.enter(task);
      return this.#runEntered(task, body);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #runEntered<T>(
    task: TaskImpl,
    body: (scope: CancelScope) => Promise<T>,
  ): Promise<T | undefined> {
    let value: T;
    try {
      value = await body(this);
    } catch (error) {
      const remaining = this.exit(task, error);
      if (remaining === NO_ERROR) return undefined;
      throw remaining;
    }
    const remaining = this.exit(task, NO_ERROR);
    if (remaining !== NO_ERROR) throw remaining;
    return value;
  }

  /** @internal Enters the scope in `task`. Not a checkpoint. */
  enter(task: TaskImpl): void {
    if (this.#entered)
      throw new UsageError("a CancelScope can only be entered once; create a new one");
    this.#entered = true;
    const kernel = task.kernel;
    this.#kernel = kernel;
    if (this.#relativeDeadline !== Infinity) {
      this.#deadline = kernel.currentTime() + this.#relativeDeadline;
      this.#relativeDeadline = Infinity;
    }
    this.status = new CancelStatus(this, task.cancelStatus);
    task.activateCancelStatus(this.status);
    if (kernel.instruments.length > 0) kernel.callInstruments("cancelScopeEntered", this, task);
    if (
      this.#deadline !== Infinity &&
      !this.cancelRequested &&
      this.#deadline <= kernel.currentTime()
    ) {
      this.cancelWithReason({ source: "deadline" });
    } else {
      this.#registerDeadline();
    }
  }

  /**
   * @internal Leaves the scope in `task` with the body's error (or NO_ERROR);
   * returns what should propagate. Catches the `Cancelled` this scope owns:
   * the scope is cancelled and no cancelled outer scope is visible from it.
   */
  exit(task: TaskImpl, error: unknown): unknown {
    const status = this.status!;
    let remaining = error;
    if (task.cancelStatus !== status) {
      if (status.abandonedByMisnesting) {
        // An outer scope was exited first; its exit already reported the misnesting.
      } else if (!status.encloses(task.cancelStatus)) {
        return new UsageError(
          `cancel scope stack corrupted: ${task} exited a cancel scope it is not inside`,
          {
            cause: error === NO_ERROR ? undefined : error,
          },
        );
      } else {
        remaining = new UsageError(
          `cancel scope stack corrupted: ${task} exited a cancel scope while an inner scope was still open ` +
            "(scopes must exit in reverse order of entry; were several weft operations of one task run concurrently?)",
          { cause: error === NO_ERROR ? undefined : error },
        );
        task.activateCancelStatus(status.parent);
      }
    } else {
      task.activateCancelStatus(status.parent);
    }
    const owns =
      (remaining !== NO_ERROR &&
        status.effectivelyCancelled &&
        !status.parentCancellationIsVisible) ||
      status.abandonedByMisnesting;
    if (owns) {
      if (remaining instanceof Cancelled) {
        this.#cancelledCaught = true;
        remaining = NO_ERROR;
      } else if (remaining instanceof ExceptionGroup) {
        const [cancelled, rest] = remaining.split(Cancelled);
        if (cancelled !== null) this.#cancelledCaught = true;
        remaining = rest === null ? NO_ERROR : collapse(rest);
      }
    }
    status.close();
    this.status = null;
    this.#removeDeadline();
    const kernel = this.#kernel;
    if (kernel !== null && kernel.instruments.length > 0) {
      kernel.callInstruments("cancelScopeExited", this, task);
    }
    return remaining;
  }

  #registerDeadline(): void {
    this.#removeDeadline();
    const kernel = this.#kernel;
    if (
      kernel === null ||
      this.status === null ||
      this.cancelRequested ||
      this.#deadline === Infinity
    )
      return;
    this.#deadlineEntry = kernel.addDeadline(this.#deadline, () => {
      this.#deadlineEntry = null;
      this.cancelWithReason({ source: "deadline" });
    });
  }

  #removeDeadline(): void {
    if (this.#deadlineEntry !== null) {
      this.#kernel?.removeDeadline(this.#deadlineEntry);
      this.#deadlineEntry = null;
    }
  }

  /** `<CancelScope active>` (or `exited`, `unentered`, with `, cancelled`…), for logs. */
  toString(): string {
    const binding = this.status !== null ? "active" : this.#entered ? "exited" : "unentered";
    const state = this.cancelRequested
      ? ", cancelled"
      : this.#deadline === Infinity
        ? ""
        : `, deadline ${this.#deadline}`;
    return `<CancelScope ${binding}${state}>`;
  }
}
