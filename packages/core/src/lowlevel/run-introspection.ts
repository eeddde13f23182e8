/**
 * The low-level API's view of the current run: its clock, statistics,
 * instruments, system tasks, and waiting until every other task is blocked.
 */

import {
  checkDuration,
  checkFunction,
  checkOptionalName,
  checkOptionsObject,
} from "../errors/validate.ts";
import { unlessRefused } from "../kernel/checkpoints.ts";
import { requireTask } from "../kernel/context.ts";
import { checkInstrument } from "../kernel/instrument.ts";
import type { Clock, Instrument, Task } from "../kernel/types.ts";

/**
 * Starts a task in the run's system nursery: it is cancelled when the main
 * task finishes, and an error it raises crashes the whole run.
 */
export function spawnSystemTask(fn: () => Promise<unknown>, options?: { name?: string }): Task {
  checkFunction("fn", fn);
  checkOptionsObject("options", options);
  checkOptionalName("options.name", options?.name);
  const kernel = requireTask("lowlevel.spawnSystemTask()").kernel;
  return kernel.systemNursery!.spawnChild(fn, options?.name ?? (fn.name || "system task"));
}

/** The run's clock. */
export function currentClock(): Clock {
  return requireTask("lowlevel.currentClock()").kernel.clock;
}

/** Adds an instrument to the calling task's run: its hooks are called from now on. */
export function addInstrument(instrument: Instrument): void {
  checkInstrument(instrument);
  requireTask("lowlevel.addInstrument()").kernel.addInstrument(instrument);
}

/** Removes an instrument from the calling task's run (`UsageError` if it is not installed). */
export function removeInstrument(instrument: Instrument): void {
  checkInstrument(instrument);
  requireTask("lowlevel.removeInstrument()").kernel.removeInstrument(instrument);
}

/** A snapshot of the calling task's run: `lowlevel.currentStatistics()`. */
export interface RunStatistics {
  /** Tasks started and not yet exited (including the root task). */
  tasksLiving: number;
  /** Tasks waiting for the next batch. */
  tasksRunnable: number;
  /** Time until the earliest pending deadline (Infinity if none). */
  msToNextDeadline: number;
}

/**
 * How many tasks live and are runnable in the calling task's run, and the time to its next deadline.
 */
export function currentStatistics(): RunStatistics {
  const kernel = requireTask("lowlevel.currentStatistics()").kernel;
  return {
    tasksLiving: kernel.tasksLiving,
    tasksRunnable: kernel.runnableCount,
    msToNextDeadline: kernel.msToNextDeadline(),
  };
}

/**
 * Waits until every other task of the run is blocked, and has been for
 * `cushionMs` real milliseconds. Among several waiters the smallest cushion
 * wakes first; waiters are served before a virtual clock autojumps.
 */
export function waitAllTasksBlocked(cushionMs = 0): Promise<void> {
  try {
    checkDuration("cushionMs", cushionMs);
  } catch (error) {
    return Promise.reject(error);
  }
  return unlessRefused("waitAllTasksBlocked()", () => {
    const task = requireTask("waitAllTasksBlocked()");
    return task.kernel.waitAllTasksBlocked(task, cushionMs) as Promise<void>;
  });
}

/** A tree of the run's tasks and what each one is blocked on, for debugging hung programs. */
export function dumpTasks(): string {
  return requireTask("lowlevel.dumpTasks()").kernel.dumpTasks();
}
