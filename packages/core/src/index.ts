/**
 * @weft/core — structured concurrency for plain async/await: runs, nurseries,
 * cancel scopes with deadlines and shields, checkpoints and time.
 *
 * @packageDocumentation
 */

export { Err, Ok, type Result } from "ts-results-es";
export { capture, gather, mapConcurrent, race } from "./combinators/combinators.ts";
export {
  checkRetryOptions,
  type RetryJitter,
  type RetryOptions,
  retry,
} from "./combinators/retry.ts";
export {
  Cancelled,
  type CancelReason,
  type CancelSource,
  isCancelled,
} from "./errors/cancelled.ts";
export {
  BrokenResourceError,
  BusyResourceError,
  ClosedResourceError,
  DeadlockError,
  EndOfChannel,
  InternalError,
  TooSlowError,
  UsageError,
  WouldBlock,
} from "./errors/errors.ts";
export { type ErrorMatcher, ExceptionGroup } from "./errors/exception-group.ts";
export { taskNameOf } from "./errors/raising-task.ts";
export { CancelScope, type CancelScopeOptions } from "./kernel/cancel-scope.ts";
export {
  cancelShieldedCheckpoint,
  checkpoint,
  checkpointIfCancelled,
} from "./kernel/checkpoints.ts";
export { SystemClock } from "./kernel/clock.ts";
export { FifoScheduler } from "./kernel/scheduler.ts";
export type {
  Clock,
  Instrument,
  Nursery,
  Scheduler,
  SpawnOptions,
  Task,
  TaskOutcome,
  TaskStatus,
} from "./kernel/types.ts";
export * as lowlevel from "./lowlevel/lowlevel.ts";
export { cancellable, currentSignal } from "./scopes/abort-signal.ts";
export { openNursery, TASK_STATUS_IGNORED } from "./scopes/nursery.ts";
export { checkRunOptions, type RunOptions, run } from "./scopes/run.ts";
export {
  currentEffectiveDeadline,
  failAfter,
  failAt,
  moveOnAfter,
  moveOnAt,
  type TimeoutOptions,
} from "./scopes/timeouts.ts";
export { Interrupted } from "./signals/interrupted.ts";
export { openSignalReceiver, type SignalReceiver } from "./signals/signal-receiver.ts";
export { CapacityLimiter, type CapacityLimiterStatistics } from "./sync/capacity-limiter.ts";
export {
  type ChannelStatistics,
  MemoryReceiveChannel,
  MemorySendChannel,
  openMemoryChannel,
} from "./sync/channel.ts";
export { Condition } from "./sync/condition.ts";
export { Event } from "./sync/event.ts";
export { generatorChannel } from "./sync/generator-channel.ts";
export { Held } from "./sync/held.ts";
export { Lock, type LockStatistics, StrictFIFOLock } from "./sync/lock.ts";
export { Semaphore } from "./sync/semaphore.ts";
export { currentTime, sleep, sleepForever, sleepUntil } from "./time/time.ts";
export {
  type RunInWorkerOptions,
  runInWorker,
  type WorkerFunctionOptions,
  workerFunction,
} from "./workers/run-in-worker.ts";
export { defaultWorkerLimiter } from "./workers/worker-pool.ts";
