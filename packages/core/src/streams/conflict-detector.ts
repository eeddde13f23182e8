import { BusyResourceError } from "../errors/errors.ts";
import { checkOptionalName } from "../errors/validate.ts";

/**
 * ConflictDetector: detects two tasks using the same operation of a resource at
 * once (Trio's `_util.ConflictDetector`). Acquiring it while it is held throws
 * `BusyResourceError`; it never blocks.
 */
export class ConflictDetector {
  readonly #message: string;
  #held = false;

  /** `message` is the `BusyResourceError` message. */
  constructor(message = "another task is already using this resource") {
    checkOptionalName("message", message);
    this.#message = message;
  }

  /** True while some task holds the detector. */
  get held(): boolean {
    return this.#held;
  }

  /** Marks the operation as in use; throws `BusyResourceError` if it already is. */
  acquire(): void {
    if (this.#held) throw new BusyResourceError(this.#message);
    this.#held = true;
  }

  /** Marks the operation as free again. */
  release(): void {
    this.#held = false;
  }

  /** Runs `fn` holding the detector; rejects with `BusyResourceError` (without calling `fn`) if it is held. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Runs synchronous `fn` holding the detector; throws `BusyResourceError` if it is held. */
  runSync<T>(fn: () => T): T {
    this.acquire();
    try {
      return fn();
    } finally {
      this.release();
    }
  }
}
