import type { Clock } from "./types.ts";

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
