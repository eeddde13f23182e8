import { BrokenResourceError, UsageError, WouldBlock } from "../errors/errors.ts";
import { checkFunction } from "../errors/validate.ts";
import { cancelShieldedCheckpoint, unlessRefused } from "../kernel/checkpoints.ts";
import { requireTask } from "../kernel/context.ts";
import type { Task } from "../kernel/types.ts";
import { ParkingLot } from "../lowlevel/parking-lot.ts";
import { addParkingLotBreaker, removeParkingLotBreaker } from "../lowlevel/parking-lot-breakers.ts";
import { cancelPoint, currentTask } from "../lowlevel/waits.ts";
import { Held } from "./held.ts";

/** A snapshot of a {@link Lock}'s state, for debugging and monitoring. */
export interface LockStatistics {
  /** Whether a task holds the lock. */
  locked: boolean;
  /** The task holding the lock. */
  owner: Task | null;
  /** How many tasks wait in `acquire()`. */
  tasksWaiting: number;
}

/**
 * A fair mutual-exclusion lock. Waiters queue strictly FIFO; `release()` hands
 * the lock straight to the first waiter, so the releasing task cannot take it
 * back, and `acquireNowait()` fails whenever anyone is waiting. Not reentrant.
 * If the task holding it exits without releasing it, the lock is broken:
 * waiters and later acquires get `BrokenResourceError`.
 *
 * ```ts
 * await lock.withLock(async () => { … });
 * // or
 * await using _ = await lock.guard();
 * ```
 */
export class Lock {
  #owner: Task | null = null;
  readonly #lot = new ParkingLot(() => `Lock.acquire (held by ${String(this.#owner)})`);

  /** @internal The waiters' queue, for Condition. */
  get parkingLot(): ParkingLot {
    return this.#lot;
  }

  /** Whether a task holds the lock. */
  locked(): boolean {
    return this.#owner !== null;
  }

  /** Takes the lock if it is free and nobody waits; else throws `WouldBlock`. */
  acquireNowait(): void {
    const task = currentTask();
    if (this.#owner === task) {
      throw new UsageError("this task already holds the Lock: a Lock is not reentrant");
    }
    if (this.#lot.broken) throw this.#brokenError();
    if (this.#owner !== null || this.#lot.size > 0) throw new WouldBlock("the Lock is held");
    this.#owner = task;
    addParkingLotBreaker(task, this.#lot);
  }

  /** Waits for the lock and takes it. A checkpoint; cancelled, it holds nothing. */
  acquire(): Promise<void> {
    // Not an `async` function: the cancel point and the decision happen now,
    // in the caller's step, and the promise returned is the wait itself.
    try {
      const cancelled = cancelPoint("Lock.acquire()"); // cancelled, it did nothing
      if (cancelled !== null) return cancelled;
      const task = currentTask();
      if (this.#owner === task) {
        throw new UsageError("this task already holds the Lock: a Lock is not reentrant");
      }
      if (this.#lot.broken) throw this.#brokenError();
      if (this.#owner === null && this.#lot.size === 0) {
        this.#owner = task;
        addParkingLotBreaker(task, this.#lot);
        return cancelShieldedCheckpoint();
      }
      // release() makes us the owner before waking us.
      return this.#lot.park().catch((error: unknown) => {
        throw error instanceof BrokenResourceError ? this.#brokenError(error) : error;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Releases the lock, handing it to the first waiter if any. Only the owner may. */
  release(): void {
    const task = currentTask();
    if (task !== this.#owner) {
      throw new UsageError(
        `release: the calling ${String(task)} does not hold this Lock (owner: ${String(this.#owner)})`,
      );
    }
    removeParkingLotBreaker(task, this.#lot);
    const [next] = this.#lot.unpark(1);
    this.#owner = next ?? null;
    if (next !== undefined) addParkingLotBreaker(next, this.#lot);
  }

  /** Runs `fn` holding the lock. */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    try {
      checkFunction("fn", fn);
      requireTask("Lock.withLock()"); // outside run(), the error names this method
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#withLock(fn);
  }

  async #withLock<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Acquires the lock and returns a handle that releases it (for `await using`). */
  guard(): Promise<Held> {
    return unlessRefused("Lock.guard()", async () => {
      await this.acquire();
      return new Held(() => this.release());
    });
  }

  /** A snapshot of the lock's state: held or not, by whom, and how many tasks wait. */
  statistics(): LockStatistics {
    return { locked: this.#owner !== null, owner: this.#owner, tasksWaiting: this.#lot.size };
  }

  #brokenError(cause?: unknown): BrokenResourceError {
    return new BrokenResourceError(
      `the owner of this Lock (${String(this.#owner)}) exited without releasing it`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * A Lock whose waiters are served in strict FIFO order. weft's `Lock` already
 * is; this name states the guarantee for code that depends on it (Trio's
 * `StrictFIFOLock`).
 */
export class StrictFIFOLock extends Lock {}
