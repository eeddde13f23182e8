import { checkMethods } from "../errors/validate.ts";
import type { Scheduler, Task } from "./types.ts";

/** The default policy: each batch runs every runnable task, first come first served. */
export class FifoScheduler implements Scheduler {
  selectBatch(runnable: readonly Task[]): readonly Task[] {
    return runnable;
  }
}

export function checkScheduler(name: string, value: unknown): asserts value is Scheduler {
  checkMethods(name, value, ["selectBatch"], "a Scheduler (an object with selectBatch)");
  const scheduler = value as Partial<Scheduler>;
  if (scheduler.startRun !== undefined && typeof scheduler.startRun !== "function") {
    throw new TypeError(`${name}.startRun must be a function when present`);
  }
}
