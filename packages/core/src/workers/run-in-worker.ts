/**
 * CPU-bound work in worker threads: `runInWorker` calls a function exported
 * from a module in one of the run's worker threads, as a checkpoint, limited
 * by a `CapacityLimiter` (Trio's `to_thread.run_sync`, with threads that
 * can be stopped: a cancelled call's worker is terminated).
 */
import { isAbsolute } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Transferable as TransferListItem } from "node:worker_threads";
import { BrokenResourceError } from "../errors/errors.ts";
import {
  checkBoolean,
  checkOptionsObject,
  describeValue,
  isArray,
  isInstance,
} from "../errors/validate.ts";
import { requireTask } from "../kernel/context.ts";
import { Abort } from "../kernel/kernel.ts";
import type { TaskImpl } from "../kernel/task.ts";
import { CapacityLimiter } from "../sync/capacity-limiter.ts";
import type { WorkerCall } from "./worker-entry.ts";
import { isThrownRecord, reviveThrown } from "./worker-errors.ts";
import { currentWorkerPool, defaultWorkerLimiter, WorkerStartFailure } from "./worker-pool.ts";

/** Options of {@link runInWorker}. */
export interface RunInWorkerOptions {
  /**
   * Objects in `args` to move to the worker instead of copying them
   * (`ArrayBuffer`, `MessagePort`...): they become unusable in this thread.
   */
  transfer?: readonly TransferListItem[];
  /** Bounds how many calls run at once (default: {@link defaultWorkerLimiter}, one per CPU). */
  limiter?: CapacityLimiter;
  /**
   * Whether a cancellation stops the call (default `true`): its worker is
   * terminated and the call throws `Cancelled`. With `false`, a cancellation
   * that comes while the call runs waits for it to finish; the call then
   * returns (or throws) normally and the next checkpoint raises `Cancelled`.
   */
  cancellable?: boolean;
}

/** Options of {@link workerFunction}: those of {@link runInWorker} but `transfer`, which is per call. */
export type WorkerFunctionOptions = Omit<RunInWorkerOptions, "transfer">;

const DESCRIBE_MODULE =
  'an absolute path or a file: URL (for a module next to yours: new URL("./module.ts", import.meta.url))';

/** `url`'s href, if it is a `file:` URL of a path on this machine. */
function fileUrlHref(url: URL): string {
  if (url.protocol !== "file:") {
    throw new RangeError(`module must be ${DESCRIBE_MODULE}, got the URL ${url.href}`);
  }
  try {
    fileURLToPath(url); // rejects a remote host, an encoded slash...
  } catch (error) {
    throw new RangeError(`module is not a file: URL of a local path: ${url.href}`, {
      cause: error,
    });
  }
  return url.href;
}

/** The `file:` URL of `module`, which must be an absolute path or a `file:` URL. */
function moduleUrlOf(module: unknown): string {
  if (isInstance(module, URL)) return fileUrlHref(module);
  if (typeof module !== "string") {
    throw new TypeError(`module must be ${DESCRIBE_MODULE}, got ${describeValue(module)}`);
  }
  if (module.startsWith("file:")) {
    if (!URL.canParse(module)) throw new RangeError(`module is not a valid file: URL: ${module}`);
    return fileUrlHref(new URL(module));
  }
  if (!isAbsolute(module)) {
    throw new RangeError(`module must be ${DESCRIBE_MODULE}, got ${JSON.stringify(module)}`);
  }
  return pathToFileURL(module).href;
}

function checkExportName(exportName: unknown): asserts exportName is string {
  if (typeof exportName !== "string") {
    throw new TypeError(`exportName must be a string, got ${typeof exportName}`);
  }
  if (exportName === "") throw new RangeError("exportName must not be empty");
}

function checkArgs(args: unknown): asserts args is readonly unknown[] {
  if (!isArray(args)) {
    throw new TypeError(
      `args must be an array of the arguments to pass, got ${describeValue(args)}`,
    );
  }
}

interface CheckedOptions {
  readonly transfer: readonly TransferListItem[] | undefined;
  readonly limiter: CapacityLimiter | undefined;
  readonly cancellable: boolean;
}

function checkOptions(options: unknown, allowTransfer: boolean): CheckedOptions {
  checkOptionsObject("options", options);
  const { transfer, limiter, cancellable = true } = (options ?? {}) as RunInWorkerOptions;
  if (transfer !== undefined && (!allowTransfer || !isArray(transfer))) {
    throw new TypeError(
      allowTransfer
        ? "options.transfer must be an array of transferable objects"
        : "options.transfer is per call: use runInWorker() to transfer objects",
    );
  }
  if (limiter !== undefined && !isInstance(limiter, CapacityLimiter)) {
    throw new TypeError("options.limiter must be a CapacityLimiter");
  }
  checkBoolean("options.cancellable", cancellable);
  return { transfer, limiter, cancellable };
}

/** What holds a limiter token while a call runs (what `limiter.statistics().borrowers` lists). */
class WorkerCallBorrower {
  readonly moduleUrl: string;
  readonly exportName: string;

  constructor(moduleUrl: string, exportName: string) {
    this.moduleUrl = moduleUrl;
    this.exportName = exportName;
  }

  toString(): string {
    return `${this.exportName} from ${fileURLToPath(this.moduleUrl)}`;
  }
}

/** `error`'s message, for the message of an error that has it as its cause. */
function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** A worker that cannot start makes the call reject with `BrokenResourceError` (SEMANTICS.md). */
function startError(cause: unknown, borrower: WorkerCallBorrower): BrokenResourceError {
  return new BrokenResourceError(
    `runInWorker(${borrower}): could not start a worker thread: ${describe(cause)}`,
    { cause },
  );
}

/** The error a call fails with, from what the pool rejected it with. */
function callError(rejection: unknown, borrower: WorkerCallBorrower): unknown {
  if (isThrownRecord(rejection)) {
    try {
      return reviveThrown(rejection);
    } catch (error) {
      // Never leave the task parked because an error could not be rebuilt.
      return new Error(`runInWorker(${borrower}): the worker's error could not be rebuilt`, {
        cause: error,
      });
    }
  }
  if (rejection instanceof DOMException && rejection.name === "DataCloneError") {
    return new TypeError(
      `runInWorker(${borrower}): args (or options.transfer) cannot be sent to a worker thread: ${rejection.message}`,
      { cause: rejection },
    );
  }
  if (rejection instanceof WorkerStartFailure) return startError(rejection.cause, borrower);
  return new BrokenResourceError(
    `runInWorker(${borrower}): the worker thread running it died: ${describe(rejection)}`,
    { cause: rejection },
  );
}

/**
 * Submits the call and parks the task until it settles. A cancellable call's
 * abort hands the cancellation to the pool synchronously (the worker is being
 * terminated when the task gets `Cancelled`); a non-cancellable call refuses
 * the abort and is woken by its outcome, like any other. `finished` is called
 * as soon as the worker is done with the call, before the task is woken.
 */
function waitForCall(
  task: TaskImpl,
  call: WorkerCall,
  options: CheckedOptions,
  borrower: WorkerCallBorrower,
  finished: () => void,
): Promise<unknown> {
  const controller = options.cancellable ? new AbortController() : null;
  let promise: Promise<unknown>;
  try {
    promise = currentWorkerPool().run(call, options.transfer, controller?.signal ?? null);
  } catch (error) {
    return Promise.reject(startError(error, borrower));
  }
  const kernel = task.kernel;
  let waiting = true;
  promise.then(
    (value) => {
      if (waiting) {
        waiting = false;
        finished();
        kernel.reschedule(task, false, value);
      }
    },
    (error: unknown) => {
      // After a cancellation the pool's rejection (AbortError) is dropped here.
      if (waiting) {
        waiting = false;
        finished();
        kernel.reschedule(task, true, callError(error, borrower));
      }
    },
  );
  return kernel.park(
    task,
    () => {
      if (controller === null) return Abort.FAILED;
      waiting = false;
      controller.abort();
      return Abort.SUCCEEDED;
    },
    { waitingFor: () => `runInWorker(${borrower})`, external: true },
  );
}

/** A worker call by `task`, unless the task may not wait here (see unlessRefused). */
function callInWorker(task: TaskImpl, call: WorkerCall, options: CheckedOptions): Promise<unknown> {
  return task.kernel.refusal(task) ?? callChecked(task, call, options);
}

async function callChecked(
  task: TaskImpl,
  call: WorkerCall,
  options: CheckedOptions,
): Promise<unknown> {
  const limiter = options.limiter ?? defaultWorkerLimiter();
  const borrower = new WorkerCallBorrower(call[0], call[1]);
  // A checkpoint: cancelled here, nothing ran.
  await limiter.acquireOnBehalfOf(borrower);
  let holding = true;
  // The token goes back as soon as the worker is done, before this task is
  // woken (as Trio releases it when the thread reports back): it stands for
  // a busy worker, and a call waiting for it need not wait for this task.
  const release = () => {
    if (holding) {
      holding = false;
      limiter.releaseOnBehalfOf(borrower);
    }
  };
  try {
    // Acquiring may have yielded without a cancel point after it: a deadline
    // that passed meanwhile must stop the call before it starts, not kill a
    // worker just after.
    if (task.cancelStatus?.effectivelyCancelled === true) throw task.makeCancelled();
    return await waitForCall(task, call, options, borrower, release);
  } finally {
    release();
  }
}

/**
 * Calls the function `exportName` of `module` with `args` in one of the
 * run's worker threads and returns its result. A checkpoint.
 *
 * - `module` is an absolute path or a `file:` URL; TypeScript modules work
 *   (Node's type stripping). It is imported once per worker.
 * - `args` and the result cross by structured clone (`options.transfer`
 *   moves objects instead; a worker function transfers its result back by
 *   returning `Tinypool.move(value)` from the `tinypool` package).
 * - A limiter token is held while the call waits for a worker and runs.
 * - Cancelled before the call started: nothing ran. Cancelled while it runs:
 *   its worker is terminated (and replaced when needed) and `Cancelled` is
 *   thrown — unless `options.cancellable` is `false`.
 * - An error thrown by the function is rethrown with its name, message,
 *   stack, cause and cloneable properties, as an instance of the nearest
 *   built-in error class. A worker that dies (`process.exit()`, an uncaught
 *   error in a callback, out of memory) fails the call with
 *   `BrokenResourceError`, and so does a worker that cannot start (Node
 *   flags a worker refuses, such as `--input-type`); arguments that cannot
 *   be cloned, with `TypeError`.
 *
 * ```ts
 * const primes = await runInWorker<number>(new URL("./primes.ts", import.meta.url), "countPrimes", [0, 1e7]);
 * ```
 */
export function runInWorker<R = unknown>(
  module: string | URL,
  exportName: string,
  args: readonly unknown[] = [],
  options?: RunInWorkerOptions,
): Promise<R> {
  try {
    const moduleUrl = moduleUrlOf(module);
    checkExportName(exportName);
    checkArgs(args);
    const checked = checkOptions(options, true);
    const task = requireTask("runInWorker()");
    return callInWorker(task, [moduleUrl, exportName, args], checked) as Promise<R>;
  } catch (error) {
    return Promise.reject(error); // a bad argument, or outside run()
  }
}

/**
 * A typed function that calls `exportName` of `module` with
 * {@link runInWorker}. Give it the export's type, imported as a type only
 * (the module itself is loaded in the workers, never here):
 *
 * ```ts
 * const countPrimes = workerFunction<typeof import("./primes.ts").countPrimes>(
 *   new URL("./primes.ts", import.meta.url),
 *   "countPrimes",
 * );
 * const n = await countPrimes(0, 1e7); // Promise<number>
 * ``` *
 * @typeParam F - The type of the worker module's export: the returned function takes its
 * parameters and resolves to what it returns.
 */
export function workerFunction<F extends (...args: never[]) => unknown>(
  module: string | URL,
  exportName: string,
  options?: WorkerFunctionOptions,
): (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>> {
  const moduleUrl = moduleUrlOf(module);
  checkExportName(exportName);
  const checked = checkOptions(options, false);
  // workerFunction itself is synchronous and throws at once; the function it
  // returns returns a promise, so outside run() that promise rejects.
  return (...args) => {
    try {
      return callInWorker(
        requireTask(`${exportName}() (workerFunction)`),
        [moduleUrl, exportName, args],
        checked,
      ) as Promise<Awaited<ReturnType<F>>>;
    } catch (error) {
      return Promise.reject(error);
    }
  };
}
