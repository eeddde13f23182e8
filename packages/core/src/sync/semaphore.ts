import { WouldBlock } from "../errors/errors.ts";
import { checkCount, checkOptionsObject } from "../errors/validate.ts";
import { cancelShieldedCheckpoint, unlessRefused } from "../kernel/checkpoints.ts";
import { ParkingLot } from "../lowlevel/parking-lot.ts";
import { cancelPoint } from "../lowlevel/waits.ts";
import { Held } from "./held.ts";

/**
 * A counting semaphore: `acquire()` takes one unit (waiting, FIFO, while the
 * value is 0), `release()` gives one back — straight to the first waiter if
 * there is one. With `maxValue`, releasing past it is a `RangeError`.
 */
export class Semaphore {
  #value: number;
  readonly #maxValue: number | undefined;
  readonly #lot = new ParkingLot("Semaphore.acquire");

  constructor(initialValue: number, options?: { maxValue?: number }) {
    checkCount("initialValue", initialValue);
    checkOptionsObject("options", options);
    const maxValue = options?.maxValue;
    if (maxValue !== undefined) {
      checkCount("options.maxValue", maxValue);
      if (maxValue < initialValue) {
        throw new RangeError(
          `options.maxValue (${maxValue}) must be >= initialValue (${initialValue})`,
        );
      }
    }
    this.#value = initialValue;
    this.#maxValue = maxValue;
  }

  /** The current value: how many more `acquire()` calls would succeed without waiting. */
  get value(): number {
    return this.#value;
  }

  /** The bound given to the constructor (`release()` above it throws), or `undefined` for none. */
  get maxValue(): number | undefined {
    return this.#maxValue;
  }

  /** Takes one unit without waiting; throws `WouldBlock` if the value is 0. Not a checkpoint. */
  acquireNowait(): void {
    // While tasks wait the value is 0: a release goes to them, not to the value.
    if (this.#value === 0) throw new WouldBlock("the semaphore's value is 0");
    this.#value--;
  }

  /** Takes one unit, waiting while the value is 0. A checkpoint; cancelled, it took nothing. */
  acquire(): Promise<void> {
    try {
      const cancelled = cancelPoint("Semaphore.acquire()"); // cancelled, it did nothing
      if (cancelled !== null) return cancelled;
      if (this.#value > 0) {
        this.#value--;
        return cancelShieldedCheckpoint();
      }
      return this.#lot.park(); // release() hands us its unit
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Gives one unit back. Synchronous; a `RangeError` past `maxValue` (the value is unchanged). */
  release(): void {
    if (this.#maxValue !== undefined && this.#value === this.#maxValue) {
      throw new RangeError(
        `semaphore released too many times: its value is already maxValue (${this.#maxValue})`,
      );
    }
    if (this.#lot.size > 0) this.#lot.unpark(1);
    else this.#value++;
  }

  /** Acquires and returns a handle that releases (for `await using`). */
  guard(): Promise<Held> {
    return unlessRefused("Semaphore.guard()", async () => {
      await this.acquire();
      return new Held(() => this.release());
    });
  }

  /** A snapshot of its state: how many tasks wait. */
  statistics(): {
    /** How many tasks wait. */
    tasksWaiting: number;
  } {
    return { tasksWaiting: this.#lot.size };
  }
}
