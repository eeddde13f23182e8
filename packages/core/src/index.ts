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
export { cancelShieldedCheckpoint, checkpoint, checkpointIfCancelled } from "./checkpoints.ts";
export { type Clock, SystemClock } from "./clock.ts";
export {
  BrokenResourceError,
  BusyResourceError,
  ClosedResourceError,
  DeadlockError,
  EndOfChannel,
  TooSlowError,
  WouldBlock,
} from "./errors.ts";
export { type ErrorMatcher, ExceptionGroup } from "./exception-group.ts";
export type { Instrument } from "./instrument.ts";
export * as lowlevel from "./lowlevel.ts";
export {
  type Nursery,
  openNursery,
  type SpawnOptions,
  TASK_STATUS_IGNORED,
  type TaskStatus,
} from "./nursery.ts";
export { type RunOptions, run } from "./run.ts";
export { FifoScheduler, type Scheduler } from "./scheduler.ts";
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
