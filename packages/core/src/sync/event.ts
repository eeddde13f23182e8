import { checkpointTask } from "../kernel/checkpoints.ts";
import { requireTask } from "../kernel/context.ts";
import { ParkingLot } from "../lowlevel/parking-lot.ts";

/**
 * A flag that starts unset; `set()` wakes every task in `wait()`. Once set it
 * stays set (create a new Event to wait again).
 */
export class Event {
  #flag = false;
  readonly #lot = new ParkingLot("Event.wait");

  /** Whether `set()` was called. */
  isSet(): boolean {
    return this.#flag;
  }

  /** Sets the flag and wakes every waiter. Synchronous; not a checkpoint. */
  set(): void {
    if (this.#flag) return;
    this.#flag = true;
    this.#lot.unparkAll();
  }

  /** Waits until the flag is set. A checkpoint even when it is already set. */
  wait(): Promise<void> {
    try {
      const task = requireTask("Event.wait()"); // outside run(), the returned promise rejects
      return this.#flag ? checkpointTask(task) : this.#lot.park();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A snapshot of its state: how many tasks wait. */
  statistics(): {
    /** How many tasks wait. */
    tasksWaiting: number;
  } {
    return { tasksWaiting: this.#lot.size };
  }
}
