import { checkpoint } from "./checkpoints.ts";
import { ParkingLot } from "./parking-lot.ts";

/**
 * A flag that starts unset; `set()` wakes every task in `wait()`. Once set it
 * stays set (create a new Event to wait again).
 */
export class Event {
  #flag = false;
  readonly #lot = new ParkingLot("Event.wait");

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
  async wait(): Promise<void> {
    if (this.#flag) await checkpoint();
    else await this.#lot.park();
  }

  statistics(): { tasksWaiting: number } {
    return { tasksWaiting: this.#lot.size };
  }
}
