import type { Task } from "./task.ts";

/**
 * Hooks the kernel calls as a run proceeds, for tracing and testing. An
 * instrument that throws is removed and the error reported on stderr, so a
 * broken instrument cannot break the run.
 */
export interface Instrument {
  beforeRun?(): void;
  afterRun?(): void;
  taskSpawned?(task: Task): void;
  /** The task became runnable. */
  taskScheduled?(task: Task): void;
  /** The task is about to run a step (until it next blocks or exits). */
  beforeTaskStep?(task: Task): void;
  afterTaskStep?(task: Task): void;
  taskExited?(task: Task): void;
}

export type InstrumentHook = Exclude<keyof Instrument, never>;

export function checkInstrument(value: unknown, name = "instrument"): asserts value is Instrument {
  if (value === null || typeof value !== "object") {
    throw new TypeError(`${name} must be an object with optional hook methods`);
  }
}
