/**
 * The raw-context implementation: raw.ts's async functions, each "task"
 * started inside its own `AsyncLocalStorage` context — the floor for
 * spawn-join, sleep-many and memory-per-task (issue 19).
 *
 * Why it exists: a weft task carries async context (every task runs in its
 * own `AsyncLocalStorage` frame, entered from its spawner's context, so that
 * `await` anywhere in it knows its task and the user's own stores flow to
 * children). Plain async calls carry none, so weft/raw mixes what weft's
 * kernel costs with what entering a context costs on this Node — a price any
 * runtime whose tasks carry context pays. raw-context pays exactly that price
 * and nothing else: one module-level `AsyncLocalStorage`, and per task one
 * small task object and one `storage.run(task, body, i)` called in the
 * spawner's context; the body is raw.ts's own (support/raw-tasks.ts). No
 * scheduler, no cancellation, no bookkeeping. weft/raw-context is then what
 * weft adds on top of the least a context-carrying task can cost here.
 *
 * Measured with a throwaway script on the 2-core machine (Node 24, where
 * `AsyncLocalStorage` is built on AsyncContextFrame): a raw spawn + join
 * ~180–220 ns per task, with one `storage.run` per task 800–950 ns; a blocked
 * raw task 400 bytes, with its own context frame 584 bytes.
 *
 * On Node 22 `AsyncLocalStorage` uses async_hooks unless Node runs with
 * `--experimental-async-context-frame`; once any store is entered (here, or
 * by weft), promise hooks stay on for the whole process and slow every
 * promise in it, so there bench/run.ts gives each implementation its own
 * worker (support/bench-node.ts, `asyncContextFrame`).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Implementation } from "../scenario.ts";
import { memoryPerTask, type Start, sleepMany, spawnJoin } from "../support/raw-tasks.ts";

/** What a task's context holds: the task itself (here, only its index). */
class ContextTask {
  readonly index: number;
  constructor(index: number) {
    this.index = index;
  }
}

/** The one storage every task's context is a frame of. */
const storage = new AsyncLocalStorage<ContextTask>();

/** Starts task `i` in its own context, entered from the spawner's. */
const startInContext: Start = (body, i) => storage.run(new ContextTask(i), body, i);

/** The raw-context runners (see the file comment). */
export const scenarios: Implementation = {
  "spawn-join": spawnJoin(startInContext),
  "sleep-many": sleepMany(startInContext),
  "memory-per-task": memoryPerTask(startInContext),
};
