import { Cancelled, Event } from "@weft/core";
import { checkCount, checkFunction } from "@weft/core/validate";

/**
 * Forces the tasks of a test to run pieces of code in a set order:
 * `at(n, fn)` waits until the piece at position `n - 1` has finished, runs
 * `fn`, then lets position `n + 1` go. Positions start at 0 and each may be
 * used once.
 *
 * A waiter that is cancelled breaks the sequence: it and every other waiter,
 * present or future, fail with an `Error` saying the sequence is broken (a
 * cancelled sequencer wait is a bug in the test, not a way to end it).
 *
 * ```ts
 * const seq = new Sequencer();
 * nursery.startSoon(() => seq.at(1, async () => log.push("second")));
 * nursery.startSoon(() => seq.at(0, async () => log.push("first")));
 * ```
 */
export class Sequencer {
  readonly #points = new Map<number, Event>();
  readonly #claimed = new Set<number>();
  #broken = false;

  #point(position: number): Event {
    let event = this.#points.get(position);
    if (event === undefined) {
      event = new Event();
      this.#points.set(position, event);
    }
    return event;
  }

  /** Runs `fn` once every position before `position` has finished; resolves with its value. */
  async at<T>(position: number, fn: () => Promise<T>): Promise<T> {
    checkCount("position", position);
    checkFunction("fn", fn);
    if (this.#claimed.has(position)) {
      throw new Error(`Sequencer: position ${position} was already used`);
    }
    if (this.#broken) throw new Error("Sequencer: the sequence is broken");
    this.#claimed.add(position);
    if (position !== 0) {
      try {
        await this.#point(position).wait();
      } catch (error) {
        if (!(error instanceof Cancelled)) throw error;
        this.#broken = true;
        for (const event of this.#points.values()) event.set();
        throw new Error(
          `Sequencer: the wait for position ${position} was cancelled; the sequence is broken`,
          { cause: error },
        );
      }
      if (this.#broken) throw new Error("Sequencer: the sequence is broken");
    }
    try {
      return await fn();
    } finally {
      this.#point(position + 1).set();
    }
  }
}
