/**
 * The worker threads of a run: one tinypool per run, created on the first
 * `runInWorker` call and destroyed before `run()` settles, with every worker
 * it ever started — including those terminated by a cancellation, which
 * tinypool itself no longer waits for — gone by then.
 */
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Transferable as TransferListItem } from "node:worker_threads";
import {
  type ReadyMessage,
  type Task,
  type TaskQueue,
  Tinypool,
  type TinypoolWorker,
} from "tinypool";
import { CancelScope } from "../kernel/cancel-scope.ts";
import { requireTask } from "../kernel/context.ts";
import { spawnSystemTask } from "../lowlevel/run-introspection.ts";
import { RunVar } from "../lowlevel/run-var.ts";
import { cancellable } from "../scopes/abort-signal.ts";
import { CapacityLimiter } from "../sync/capacity-limiter.ts";
import { sleepForever } from "../time/time.ts";
import type { WorkerCall } from "./worker-entry.ts";

/**
 * The module every worker runs calls through, next to this one: `.ts` when
 * weft runs from source, `.js` once built.
 */
const ENTRY_FILE = fileURLToPath(
  new URL(`./worker-entry${extname(new URL(import.meta.url).pathname)}`, import.meta.url),
);
const ENTRY_EXPORT = "callExport";

/**
 * At most this many worker threads per run. Limiters decide how many calls
 * run at once (by default one per CPU); this bound only keeps a limiter with
 * a huge or infinite total from starting thousands of threads (each one is a
 * V8 isolate of several megabytes). Calls beyond it wait for a free worker.
 */
const MAX_WORKERS_PER_RUN: number = Math.max(64, availableParallelism());

/**
 * A worker left idle this long exits (the next call starts a new one), so a
 * long-running program does not keep threads it no longer uses — the time
 * Trio's thread cache keeps an idle thread.
 */
const IDLE_TIMEOUT_MS = 10_000;

/**
 * @internal What a call is rejected with when the worker thread started for
 * it could not start (`cause` is the worker's error): `runInWorker` turns it
 * into a `BrokenResourceError`.
 */
export class WorkerStartFailure extends Error {
  constructor(cause: unknown) {
    super(`a worker thread could not start: ${describeError(cause)}`, { cause });
    this.name = "WorkerStartFailure";
  }
}

/** A call submitted to the pool, as the queue of calls waiting for a worker knows it. */
interface SubmittedCall {
  /** Set when the call was failed because a worker could not start. */
  startFailure: WorkerStartFailure | null;
}

/**
 * The calls waiting for a worker, oldest first: tinypool's queue (its
 * `taskQueue` option), kept here so that a call a worker that could not start
 * leaves waiting can be failed (tinypool itself leaves it queued for good).
 * Tinypool queues a call only inside its `run()`, so a task pushed belongs to
 * the call being submitted.
 */
class WaitingCalls implements TaskQueue {
  readonly #entries: { readonly task: Task; readonly call: SubmittedCall | null }[] = [];
  #submitting: SubmittedCall | null = null;

  get size(): number {
    return this.#entries.length;
  }

  /** Runs `submit` (tinypool's `run`), noting that a task it queues is `call`'s. */
  submit<T>(call: SubmittedCall, submit: () => T): T {
    this.#submitting = call;
    try {
      return submit();
    } finally {
      this.#submitting = null;
    }
  }

  push(task: Task): void {
    this.#entries.push({ task, call: this.#submitting });
  }

  shift(): Task | null {
    return this.#entries.shift()?.task ?? null;
  }

  remove(task: Task): void {
    // Tinypool also removes a task whose signal is aborted after this queue
    // failed it: there is nothing left to remove then.
    const index = this.#entries.findIndex((entry) => entry.task === task);
    if (index !== -1) this.#entries.splice(index, 1);
  }

  /** Tinypool's `cancelPendingTasks()` (weft does not call it). */
  cancel(): void {
    for (let task = this.shift(); task !== null; task = this.shift()) task.cancel();
  }

  /** Fails the call that has waited longest with `failure`. */
  failOldest(failure: WorkerStartFailure): void {
    const entry = this.#entries.shift();
    if (entry === undefined) return;
    if (entry.call !== null) entry.call.startFailure = failure;
    // Rejects tinypool's promise for the call (with a CancelError, which
    // `RunWorkerPool.run` replaces with `failure`).
    entry.task.cancel();
  }
}

/** A run's pool of worker threads. */
export class RunWorkerPool {
  readonly #waiting = new WaitingCalls();
  readonly #pool = new Tinypool({
    // No worker until a call needs one; a worker that is terminated (cancelled
    // call) is replaced by the next call that needs one.
    minThreads: 0,
    // The bound of the pool's worker ids; `run` lowers the bound in effect.
    maxThreads: MAX_WORKERS_PER_RUN,
    idleTimeout: IDLE_TIMEOUT_MS,
    // One call per worker: a CPU-bound call owns its thread, and a cancelled
    // call's worker can be terminated without taking other calls with it.
    concurrentTasksPerWorker: 1,
    isolateWorkers: false,
    taskQueue: this.#waiting,
  });
  /** Calls submitted and not yet settled. */
  #inFlight = 0;
  /** Resolves `idle()`'s promise when the last call in flight settles. */
  #onIdle: (() => void) | null = null;
  /** Every worker started and not yet exited, whether or not still in the pool. */
  readonly #live = new Set<TinypoolWorker>();
  /** The workers in the pool that have not yet said they are ready for calls. */
  readonly #starting = new Set<TinypoolWorker>();
  #onAllExited: (() => void) | null = null;
  #closed = false;

  constructor() {
    // Tinypool emits 'error' for a worker that fails while running no call:
    // without a listener that would crash the process. Tinypool drops the
    // worker in either case; the next call that needs one starts another.
    this.#pool.on("error", (error: unknown) => {
      if (this.#droppedWhileStarting()) {
        this.#failCallsLeftWithoutWorker(error);
        return;
      }
      // A worker that was ready: an exception thrown by a timer a finished
      // call left behind. Nobody waits for it.
      process.emitWarning(
        `a weft worker thread failed while idle and was replaced: ${describeError(error)}`,
        { type: "WeftWorkerWarning" },
      );
    });
  }

  /**
   * Whether tinypool has just dropped a worker that was still starting (it
   * drops a starting worker only when it fails; then it emits 'error').
   */
  #droppedWhileStarting(): boolean {
    const inPool = this.#pool.threads;
    for (const worker of this.#starting) {
      if (!inPool.includes(worker)) {
        this.#starting.delete(worker);
        return true;
      }
    }
    return false;
  }

  /**
   * A worker could not start: "a worker that cannot start makes the call
   * reject with BrokenResourceError" (SEMANTICS.md, I/O resources). Tinypool
   * would leave the call waiting for good: it starts workers only for new
   * calls, and never starts another for a worker that failed while starting
   * (so calls that keep failing never start workers in a loop: one each).
   * `run` allows as many workers as calls in flight, so each waiting call
   * has a worker starting for it: the calls that no starting worker is left
   * for fail, oldest first (the order workers take them in) — none, if the
   * call this worker was started for was cancelled meanwhile. A call is not
   * left to wait for a busy worker instead: that one may be running the very
   * call this one was meant to run beside.
   */
  #failCallsLeftWithoutWorker(error: unknown): void {
    const failure = new WorkerStartFailure(error);
    while (this.#waiting.size > this.#starting.size) this.#waiting.failOldest(failure);
  }

  /**
   * Submits a call. Aborting `signal` rejects the promise at once and
   * terminates the worker running the call (or takes it off the queue).
   * Throws synchronously if a worker thread cannot be created; rejects with
   * a {@link WorkerStartFailure} if the worker started for it fails before
   * it is ready.
   */
  run(
    call: WorkerCall,
    transferList: readonly TransferListItem[] | undefined,
    signal: AbortSignal | null,
  ): Promise<unknown> {
    this.#inFlight++;
    // Tinypool starts a new worker for a call whenever none of its workers is
    // ready and idle, even when one it is still starting will be free for it:
    // calls that follow quick ones while a worker starts each started another
    // (measured: 10 workers for 12 calls under a limiter of 2). Allowing only
    // as many workers as calls in flight makes such a call wait for the
    // starting worker instead. (`options` is the pool's live settings object.)
    this.#pool.options.maxThreads = Math.min(this.#inFlight, MAX_WORKERS_PER_RUN);
    const submitted: SubmittedCall = { startFailure: null };
    let promise: Promise<unknown>;
    try {
      promise = this.#waiting.submit(
        submitted,
        () =>
          this.#pool.run(call, {
            filename: ENTRY_FILE,
            name: ENTRY_EXPORT,
            transferList: transferList as TransferListItem[] | undefined,
            signal,
          }) as Promise<unknown>,
      );
    } catch (error) {
      this.#inFlight--;
      throw error;
    } finally {
      // A call is the only time tinypool starts a worker (minThreads is 0).
      this.#watchNewWorkers();
    }
    return promise
      .then(undefined, (error: unknown) => {
        throw submitted.startFailure ?? error;
      })
      .finally(this.#settled);
  }

  readonly #settled = (): void => {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#onIdle !== null) {
      const resolve = this.#onIdle;
      this.#onIdle = null;
      resolve();
    }
  };

  /** Calls submitted and not yet settled (cancelled ones settle at once). */
  get callsInFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once no call is in flight (at once if none is). */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const previous = this.#onIdle;
      this.#onIdle = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Destroys the pool and waits until every worker it started has exited. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watchNewWorkers();
    try {
      await this.#pool.destroy();
    } catch {
      // A worker failed as it was terminated: its exit still comes, and is
      // what the wait below is about.
    }
    if (this.#live.size > 0) {
      await new Promise<void>((resolve) => {
        this.#onAllExited = resolve;
      });
    }
  }

  #watchNewWorkers(): void {
    for (const worker of this.#pool.threads) {
      if (!this.#live.has(worker)) this.#watch(worker);
    }
  }

  #watch(worker: TinypoolWorker): void {
    this.#live.add(worker);
    this.#starting.add(worker);
    worker.on("message", (message: unknown) => {
      // Tinypool's own listener, which ran first, has marked it ready (and
      // given it the oldest waiting call).
      if ((message as Partial<ReadyMessage> | null)?.ready === true) this.#starting.delete(worker);
    });
    worker.once("exit", (code: number) => {
      this.#live.delete(worker);
      // Tinypool removes a worker from its pool before terminating it, and
      // does not notice a worker that exits by itself (process.exit() in the
      // called function): its call would wait forever. Report the exit as an
      // error, which tinypool handles like a crash: the call fails, the
      // worker is dropped from the pool.
      if (!this.#closed && this.#pool.threads.includes(worker)) {
        worker.emit("error", new Error(`the worker thread exited (exit code ${code})`));
      }
      this.#starting.delete(worker);
      if (this.#live.size === 0 && this.#onAllExited !== null) this.#onAllExited();
    });
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const runPool = new RunVar<RunWorkerPool | null>("worker pool", null);
const runLimiter = new RunVar<CapacityLimiter | null>("default worker limiter", null);

/** Keeps `pool` until the run ends (the system nursery is cancelled), then closes it. */
async function closeAtRunEnd(pool: RunWorkerPool): Promise<void> {
  try {
    await sleepForever();
  } finally {
    // Shielded: the run's end cancels this task, and the workers must still
    // be waited for. External waits: a virtual clock is not deadlocked.
    await new CancelScope({ shield: true }).run(async () => {
      // A run-wide cancellation (options.signal, Ctrl-C, a crashed system
      // task) cancels this task together with the main task: calls that are
      // still running then — `cancellable: false` ones, shielded ones in a
      // `finally` — must be let finish, not killed by destroying the pool.
      // Cancellable ones were aborted by the same cancellation and settle at
      // once. No call can be submitted between this check and the delete.
      while (pool.callsInFlight > 0) await cancellable(pool.idle());
      if (runPool.get() === pool) runPool.reset();
      await cancellable(pool.close());
    });
  }
}

/** @internal The calling task's run's pool, created (with the task that closes it) on first use. */
export function currentWorkerPool(): RunWorkerPool {
  let pool = runPool.get();
  if (pool === null) {
    const created = new RunWorkerPool();
    spawnSystemTask(() => closeAtRunEnd(created), { name: "worker pool" });
    runPool.set(created);
    pool = created;
  }
  return pool;
}

/**
 * The limiter `runInWorker` uses when given none: one per run, with one token
 * per CPU (`os.availableParallelism()`), so that CPU-bound calls use every
 * core without oversubscribing them. Change its `totalTokens` to allow more
 * or fewer calls at once in this run (Trio's `current_default_thread_limiter`).
 */
export function defaultWorkerLimiter(): CapacityLimiter {
  requireTask("defaultWorkerLimiter()"); // for the error message outside a run
  let limiter = runLimiter.get();
  if (limiter === null) {
    limiter = new CapacityLimiter(availableParallelism());
    runLimiter.set(limiter);
  }
  return limiter;
}
