import { checkMethods } from "../errors/validate.ts";
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

export function checkClock(name: string, value: unknown): asserts value is Clock {
  checkMethods(
    name,
    value,
    CLOCK_METHODS,
    "a Clock (startClock, currentTime, deadlineToSleepTime)",
  );
}

const CLOCK_METHODS = ["startClock", "currentTime", "deadlineToSleepTime"];
