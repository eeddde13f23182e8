/**
 * @weft/testing — virtual time and tools for testing concurrent code.
 *
 * Needs `@weft/core` only: the memory streams and stream conformance suites
 * build on `@weft/core/streams` (also reachable as `@weft/testing/streams`).
 *
 * @packageDocumentation
 */
export { MockClock, type MockClockOptions } from "./mock-clock.ts";
export * from "./streams.ts";

import { lowlevel } from "@weft/core";

/**
 * Waits until every other task of the run is blocked (for `cushionMs` real
 * milliseconds). Among several waiters the smallest cushion wakes first.
 */
export const waitAllTasksBlocked: (cushionMs?: number) => Promise<void> =
  lowlevel.waitAllTasksBlocked;
export {
  type CancellationFault,
  type CancellationFaultsOptions,
  CancellationInjector,
  type CancellationInjectorOptions,
  cancellationFaults,
  type InjectedCancellation,
} from "./cancellation-faults.ts";
export { assertCheckpoints, assertNoCheckpoints } from "./checkpoints.ts";
export {
  DeterministicScheduler,
  type DeterministicSchedulerOptions,
  type SchedulingMode,
} from "./deterministic-scheduler.ts";
export { type SchedulesOptions, schedules } from "./schedules.ts";
export { seededRandom } from "./seeded-random.ts";
export { Sequencer } from "./sequencer.ts";
export * from "./simulation/index.ts";
