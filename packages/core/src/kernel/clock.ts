/**
 * Time for a run. The kernel never reads the host's clock directly: it asks the
 * run's `Clock`, so a virtual clock (`MockClock` in `@weft/testing`) can replace
 * real time without the kernel knowing.
 */
export interface Clock {
  /** Called once when the run starts. */
  startClock(): void;
  /** The current time in milliseconds. Deadlines are absolute times on this scale. */
  currentTime(): number;
  /**
   * How many real milliseconds the kernel should wait, when nothing else is
   * happening, for `deadline` to arrive. `Infinity` means time will not get
   * there by itself (a virtual clock that only moves when told to).
   */
  deadlineToSleepTime(deadline: number): number;
  /**
   * Virtual clocks only: once every task has been blocked for this many real
   * milliseconds, the kernel calls {@link Clock.autojump}. A clock with a
   * finite threshold is treated as virtual: a run on it where every task is
   * blocked, no deadline is pending and no I/O is in flight can never progress
   * and fails with `DeadlockError`. Absent or `Infinity`: no autojump.
   */
  readonly autojumpThreshold?: number;
  /** Virtual clocks only: move time forward to `deadline`, the run's next deadline. */
  autojump?(deadline: number): void;
}

/** Real monotonic time in milliseconds (`performance.now()`). The default clock. */
export class SystemClock implements Clock {
  startClock(): void {}

  currentTime(): number {
    return performance.now();
  }

  deadlineToSleepTime(deadline: number): number {
    return deadline - performance.now();
  }
}

export function checkClock(value: unknown): asserts value is Clock {
  const clock = value as Partial<Clock> | null;
  if (
    clock === null ||
    typeof clock !== "object" ||
    typeof clock.startClock !== "function" ||
    typeof clock.currentTime !== "function" ||
    typeof clock.deadlineToSleepTime !== "function"
  ) {
    throw new TypeError(
      "options.clock must be a Clock (startClock, currentTime, deadlineToSleepTime)",
    );
  }
}
