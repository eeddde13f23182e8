/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noBlockingCallInTask } from "./no-blocking-call-in-task.ts";
import { noCheckpointFreeScope } from "./no-checkpoint-free-scope.ts";
import { noConcurrentWeftOperations } from "./no-concurrent-weft-operations.ts";
import { noFloatingWeftPromise } from "./no-floating-weft-promise.ts";
import { noHugeSleep } from "./no-huge-sleep.ts";
import { noSingleTaskNursery } from "./no-single-task-nursery.ts";
import { noSleepZero } from "./no-sleep-zero.ts";
import { noSwallowedCancellation } from "./no-swallowed-cancellation.ts";
import { noUnboundedCleanup } from "./no-unbounded-cleanup.ts";
import { noYieldInCancelScope } from "./no-yield-in-cancel-scope.ts";
import { preferEventOverPolling } from "./prefer-event-over-polling.ts";
import { requireSignalForForeignAwait } from "./require-signal-for-foreign-await.ts";

/** The plugin's rules, by name (`weft/<name>` in a config). */
export const rules = {
  /**
   * Disallow blocking calls (`fs.*Sync`, `execSync`, `Atomics.wait`, clock busy-waits) in async
   * functions of a weft program.
   */
  "no-blocking-call-in-task": noBlockingCallInTask,
  /**
   * Disallow a weft timeout or `CancelScope#run` whose body never awaits: its deadline can never
   * fire.
   */
  "no-checkpoint-free-scope": noCheckpointFreeScope,
  /**
   * Disallow running weft operations concurrently in one task with
   * `Promise.all`/`allSettled`/`race`/`any`: use `gather`, `race`, `mapConcurrent` or a nursery.
   */
  "no-concurrent-weft-operations": noConcurrentWeftOperations,
  /**
   * Require the promise of a weft operation (`sleep`, `lock.acquire()`, `channel.send()`…) to be
   * awaited, returned or handled.
   */
  "no-floating-weft-promise": noFloatingWeftPromise,
  /**
   * Disallow `sleep(n)` from weft with `n` ≥ 1e9 ms, `Infinity` or `Number.MAX_SAFE_INTEGER`: use
   * `sleepForever()`.
   */
  "no-huge-sleep": noHugeSleep,
  /** Disallow a nursery whose body only starts one task: call the function instead. */
  "no-single-task-nursery": noSingleTaskNursery,
  /** Disallow `sleep(0)` from weft: use `checkpoint()` to let other tasks run. */
  "no-sleep-zero": noSleepZero,
  /**
   * Disallow catching errors of awaited weft operations without rethrowing or checking for
   * cancellation.
   */
  "no-swallowed-cancellation": noSwallowedCancellation,
  /**
   * Disallow awaiting weft operations in `finally` or `catch` outside a shielded scope or a
   * timeout.
   */
  "no-unbounded-cleanup": noUnboundedCleanup,
  /**
   * Disallow `yield` inside the body of a weft nursery, timeout or cancel scope: use
   * `generatorChannel`.
   */
  "no-yield-in-cancel-scope": noYieldInCancelScope,
  /**
   * Prefer an `Event` to a loop that polls a flag with `sleep`: set the event where the flag
   * changes.
   */
  "prefer-event-over-polling": preferEventOverPolling,
  /**
   * Require an AbortSignal for awaited non-weft calls that accept one, so weft's cancellation
   * aborts them.
   */
  "require-signal-for-foreign-await": requireSignalForForeignAwait,
};
