/**
 * @weft/core — structured concurrency for plain async/await: runs, nurseries,
 * cancel scopes with deadlines and shields, checkpoints and time.
 *
 * @packageDocumentation
 */

export { Err, Ok, type Result } from "ts-results-es";
export { cancellable, currentSignal } from "./abort-signal.ts";
export { CancelScope, type CancelScopeOptions } from "./cancel-scope.ts";
export { Cancelled, type CancelReason, type CancelSource, isCancelled } from "./cancelled.ts";
export { CapacityLimiter, type CapacityLimiterStatistics } from "./capacity-limiter.ts";
export {
  type ChannelStatistics,
  MemoryReceiveChannel,
  MemorySendChannel,
  openMemoryChannel,
} from "./channel.ts";
export { cancelShieldedCheckpoint, checkpoint, checkpointIfCancelled } from "./checkpoints.ts";
export { type Clock, SystemClock } from "./clock.ts";
export { Condition } from "./condition.ts";
export {
  BrokenResourceError,
  BusyResourceError,
  ClosedResourceError,
  DeadlockError,
  EndOfChannel,
  InternalError,
  TooSlowError,
  WouldBlock,
} from "./errors.ts";
export { Event } from "./event.ts";
export { type ErrorMatcher, ExceptionGroup } from "./exception-group.ts";
export { generatorChannel } from "./generator-channel.ts";
export { Held } from "./held.ts";
export { capture, gather, mapConcurrent, race } from "./helpers.ts";
export type { Instrument } from "./instrument.ts";
export { Interrupted } from "./interrupted.ts";
export { Lock, type LockStatistics, StrictFIFOLock } from "./lock.ts";
export * as lowlevel from "./lowlevel.ts";
export {
  type Nursery,
  openNursery,
  type SpawnOptions,
  TASK_STATUS_IGNORED,
  type TaskStatus,
} from "./nursery.ts";
export { type RunOptions, run } from "./run.ts";
export {
  type RunInWorkerOptions,
  runInWorker,
  type WorkerFunctionOptions,
  workerFunction,
} from "./run-in-worker.ts";
export { FifoScheduler, type Scheduler } from "./scheduler.ts";
export { Semaphore } from "./semaphore.ts";
export { openSignalReceiver, type SignalReceiver } from "./signal-receiver.ts";
export type { Task } from "./task.ts";
export { currentTime, sleep, sleepForever, sleepUntil } from "./time.ts";
export {
  currentEffectiveDeadline,
  failAfter,
  failAt,
  moveOnAfter,
  moveOnAt,
  type TimeoutOptions,
} from "./timeouts.ts";
export { defaultWorkerLimiter } from "./worker-pool.ts";
