import { UsageError } from "../errors/errors.ts";
import { checkCount, isInstance } from "../errors/validate.ts";
import { CancelScope } from "../kernel/cancel-scope.ts";
import { unlessRefused } from "../kernel/checkpoints.ts";
import { ParkingLot } from "../lowlevel/parking-lot.ts";
import { currentTask } from "../lowlevel/waits.ts";
import { Lock, type LockStatistics } from "./lock.ts";

/**
 * A condition variable: tasks holding the lock `wait()` until another task
 * holding it `notify()`s them. A woken waiter gets the lock back (handed over
 * fairly, FIFO) before `wait()` returns; a cancelled `wait()` also re-acquires
 * the lock before throwing, so the caller always holds it afterwards.
 */
export class Condition {
  readonly #lock: Lock;
  readonly #lot = new ParkingLot("Condition.wait");

  constructor(lock: Lock = new Lock()) {
    if (!isInstance(lock, Lock)) throw new TypeError("lock must be a weft Lock");
    this.#lock = lock;
  }

  /** The lock the condition is used with (the one given to the constructor, or its own). */
  get lock(): Lock {
    return this.#lock;
  }

  /** Whether the lock is held (by any task). */
  locked(): boolean {
    return this.#lock.locked();
  }

  /** Acquires the lock (`Lock.acquire()`). A checkpoint. */
  acquire(): Promise<void> {
    return this.#lock.acquire();
  }

  /** Acquires the lock without waiting (`Lock.acquireNowait()`); `WouldBlock` if it is taken. */
  acquireNowait(): void {
    this.#lock.acquireNowait();
  }

  /** Releases the lock (`Lock.release()`). */
  release(): void {
    this.#lock.release();
  }

  /** Releases the lock, waits for a notify, and re-acquires the lock. */
  wait(): Promise<void> {
    return unlessRefused("Condition.wait()", () => this.#wait());
  }

  async #wait(): Promise<void> {
    if (this.#lock.statistics().owner !== currentTask()) {
      throw new UsageError("Condition.wait: the calling task must hold the lock");
    }
    this.#lock.release();
    try {
      // notify() moves us to the lock's queue: we wake holding the lock.
      await this.#lot.park();
    } catch (error) {
      await new CancelScope({ shield: true }).run(() => this.#lock.acquire());
      throw error;
    }
  }

  /** Wakes up to `n` waiters (FIFO); they get the lock after the caller releases it. */
  notify(n = 1): void {
    checkCount("n", n, { infinity: true });
    if (this.#lock.statistics().owner !== currentTask()) {
      throw new UsageError("Condition.notify: the calling task must hold the lock");
    }
    this.#lot.repark(this.#lock.parkingLot, n);
  }

  /** Wakes every waiter; they get the lock one by one after the caller releases it. */
  notifyAll(): void {
    this.notify(Infinity);
  }

  /** How many tasks wait in `wait()`, and the lock's own statistics. */
  statistics(): {
    /** How many tasks wait in `wait()`. */
    tasksWaiting: number;
    /** The statistics of the condition's lock. */
    lockStatistics: LockStatistics;
  } {
    return { tasksWaiting: this.#lot.size, lockStatistics: this.#lock.statistics() };
  }
}
