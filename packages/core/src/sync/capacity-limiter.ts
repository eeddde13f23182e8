import { UsageError, WouldBlock } from "../errors/errors.ts";
import { checkCount } from "../errors/validate.ts";
import { cancelShieldedCheckpoint, unlessRefused } from "../kernel/checkpoints.ts";
import { requireTask } from "../kernel/context.ts";
import type { Task } from "../kernel/types.ts";
import { ParkingLot } from "../lowlevel/parking-lot.ts";
import { cancelPoint, currentTask } from "../lowlevel/waits.ts";
import { Held } from "./held.ts";

function checkTotal(value: unknown): asserts value is number {
  checkCount("totalTokens", value, { min: 1, infinity: true });
}

/** A snapshot of a {@link CapacityLimiter}'s state, for debugging and monitoring. */
export interface CapacityLimiterStatistics {
  /** How many tokens are held. */
  borrowedTokens: number;
  /** How many tokens there are (`Infinity`: no limit). */
  totalTokens: number;
  /** Who holds a token: tasks, or the borrowers passed to the `…OnBehalfOf` methods. */
  borrowers: unknown[];
  /** How many tasks wait in `acquire()` for a token. */
  tasksWaiting: number;
}

/**
 * Limits how many borrowers use something at once: each borrower (by default
 * the calling task) holds at most one of `totalTokens` tokens. Waiters are
 * served FIFO; raising `totalTokens` wakes them at once, lowering it lets the
 * current holders finish.
 *
 * ```ts
 * const limiter = new CapacityLimiter(10);
 * await using _ = await limiter.guard();
 * ```
 */
export class CapacityLimiter {
  #total: number;
  readonly #borrowers = new Set<unknown>();
  /** Who each parked task borrows for: the token is theirs once it is woken. */
  readonly #pending = new Map<Task, unknown>();
  readonly #lot = new ParkingLot("CapacityLimiter.acquire");

  constructor(totalTokens: number) {
    checkTotal(totalTokens);
    this.#total = totalTokens;
  }

  /** How many borrowers may hold a token at once (at least 1, or `Infinity`). */
  get totalTokens(): number {
    return this.#total;
  }

  /**
   * Changes the limit: raising it wakes waiters at once; lowering it lets current holders keep
   * their tokens until they release them. Throws `RangeError` below 1.
   */
  set totalTokens(totalTokens: number) {
    checkTotal(totalTokens);
    this.#total = totalTokens;
    this.#wakeWaiters();
  }

  /** How many tokens are held. */
  get borrowedTokens(): number {
    return this.#borrowers.size;
  }

  /** How many more tokens could be borrowed now (0 when over the limit after lowering it). */
  get availableTokens(): number {
    return Math.max(0, this.#total - this.#borrowers.size);
  }

  /**
   * Takes a token for the calling task without waiting; throws `WouldBlock` if none is available
   * and `UsageError` if the task already holds one. Not a checkpoint.
   */
  acquireNowait(): void {
    this.acquireOnBehalfOfNowait(currentTask());
  }

  /**
   * Takes a token for `borrower` without waiting; throws `WouldBlock` if none is available and
   * `UsageError` if `borrower` already holds one. Not a checkpoint.
   */
  acquireOnBehalfOfNowait(borrower: unknown): void {
    this.#checkNotBorrowing(borrower);
    if (!this.#canLend()) throw new WouldBlock("no token available");
    this.#borrowers.add(borrower);
  }

  /**
   * Takes a token for the calling task, waiting FIFO while none is available. A checkpoint;
   * cancelled, it takes nothing.
   */
  acquire(): Promise<void> {
    try {
      return this.acquireOnBehalfOf(requireTask("CapacityLimiter.acquire()"));
    } catch (error) {
      return Promise.reject(error); // outside run()
    }
  }

  /** Takes a token for `borrower`, waiting FIFO while none is available. A checkpoint. */
  acquireOnBehalfOf(borrower: unknown): Promise<void> {
    try {
      const cancelled = cancelPoint("CapacityLimiter.acquireOnBehalfOf()"); // cancelled, it did nothing
      if (cancelled !== null) return cancelled;
      this.#checkNotBorrowing(borrower);
      if (this.#canLend()) {
        this.#borrowers.add(borrower);
        return cancelShieldedCheckpoint();
      }
      const task = currentTask();
      this.#pending.set(task, borrower);
      return this.#lot.park().catch((error: unknown) => {
        this.#pending.delete(task); // cancelled: leave nothing behind
        throw error;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Returns the calling task's token, waking the next waiter; `UsageError` if it holds none. */
  release(): void {
    this.releaseOnBehalfOf(currentTask());
  }

  /** Returns `borrower`'s token, waking the next waiter; `UsageError` if it holds none. */
  releaseOnBehalfOf(borrower: unknown): void {
    if (!this.#borrowers.delete(borrower)) {
      throw new UsageError("this borrower does not hold a token of this CapacityLimiter");
    }
    this.#wakeWaiters();
  }

  /** Acquires a token (for `borrower`, default the calling task) and returns a handle that releases it. */
  guard(borrower?: unknown): Promise<Held> {
    return unlessRefused("CapacityLimiter.guard()", async () => {
      const holder = borrower === undefined ? currentTask() : borrower;
      await this.acquireOnBehalfOf(holder);
      return new Held(() => this.releaseOnBehalfOf(holder));
    });
  }

  /** A snapshot of the limiter's state. */
  statistics(): CapacityLimiterStatistics {
    return {
      borrowedTokens: this.#borrowers.size,
      totalTokens: this.#total,
      borrowers: [...this.#borrowers],
      tasksWaiting: this.#lot.size,
    };
  }

  #canLend(): boolean {
    return this.#borrowers.size < this.#total && this.#lot.size === 0;
  }

  #checkNotBorrowing(borrower: unknown): void {
    if (this.#borrowers.has(borrower)) {
      throw new UsageError(
        "this borrower already holds a token of this CapacityLimiter (one token per borrower)",
      );
    }
    for (const waiting of this.#pending.values()) {
      if (waiting === borrower) {
        throw new UsageError(
          "this borrower is already waiting for a token of this CapacityLimiter (one token per borrower)",
        );
      }
    }
  }

  #wakeWaiters(): void {
    const available = this.#total - this.#borrowers.size;
    if (available <= 0 || this.#lot.size === 0) return;
    for (const task of this.#lot.unpark(available)) {
      this.#borrowers.add(this.#pending.get(task));
      this.#pending.delete(task);
    }
  }
}
