import type { Clock } from "@weft/core";
import { checkNonNegative, checkOptionsObject } from "@weft/core/validate";

/** Options of `new MockClock()`: how virtual time moves. */
export interface MockClockOptions {
  /** Virtual milliseconds per real millisecond (default 0: time moves only by jumps). */
  rate?: number;
  /**
   * Real milliseconds every task must have been blocked before the clock
   * jumps to the next deadline (default Infinity: never). 0 jumps as soon as
   * every task is blocked, which makes a test of an hour of timeouts take
   * milliseconds.
   */
  autojumpThreshold?: number;
}

/**
 * A virtual clock for tests. It starts at 0 and, by default, stands still:
 * time moves only through `jump(ms)` or, with `autojumpThreshold`, whenever
 * every task is blocked. `rate` and `autojumpThreshold` are in real time;
 * everything the run sees (`currentTime()`, deadlines, sleeps) is virtual.
 *
 * ```ts
 * await run(main, { clock: new MockClock({ autojumpThreshold: 0 }) });
 * ```
 */
export class MockClock implements Clock {
  #rate = 0;
  #autojumpThreshold = Infinity;
  #virtualBase = 0;
  #realBase = 0;

  constructor(options: MockClockOptions = {}) {
    checkOptionsObject("options", options);
    const { rate, autojumpThreshold } = options;
    if (rate !== undefined) {
      checkNonNegative("options.rate", rate);
      this.rate = rate;
    }
    if (autojumpThreshold !== undefined) {
      checkNonNegative("options.autojumpThreshold", autojumpThreshold);
      this.autojumpThreshold = autojumpThreshold;
    }
  }

  /** Virtual milliseconds that pass per real millisecond. */
  get rate(): number {
    return this.#rate;
  }

  /** Changes the rate from now on, without moving the current time; `RangeError` below 0. */
  set rate(rate: number) {
    checkNonNegative("rate", rate);
    // Re-base so the change does not move the current time.
    const now = this.currentTime();
    this.#realBase = performance.now();
    this.#virtualBase = now;
    this.#rate = rate;
  }

  /** Real milliseconds of everyone being blocked before an autojump (Infinity: never). */
  get autojumpThreshold(): number {
    return this.#autojumpThreshold;
  }

  set autojumpThreshold(ms: number) {
    checkNonNegative("autojumpThreshold", ms);
    this.#autojumpThreshold = ms;
  }

  startClock(): void {
    this.#realBase = performance.now();
  }

  currentTime(): number {
    if (this.#rate === 0) return this.#virtualBase;
    return this.#virtualBase + (performance.now() - this.#realBase) * this.#rate;
  }

  deadlineToSleepTime(deadline: number): number {
    const virtual = deadline - this.currentTime();
    if (virtual <= 0) return 0;
    return this.#rate > 0 ? virtual / this.#rate : Infinity;
  }

  /** Moves virtual time forward by `ms`. */
  jump(ms: number): void {
    checkNonNegative("ms", ms);
    this.#virtualBase += ms;
  }

  /** Called by the kernel when every task has been blocked for `autojumpThreshold`. */
  autojump(deadline: number): void {
    const now = this.currentTime();
    if (deadline > now && deadline !== Infinity) this.jump(deadline - now);
  }

  toString(): string {
    return `<MockClock time=${this.currentTime()} rate=${this.#rate} autojumpThreshold=${this.#autojumpThreshold}>`;
  }
}
