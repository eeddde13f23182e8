/**
 * The low-level API, for building primitives the way weft builds its own:
 * block with `waitTaskRescheduled`, wake with `reschedule`.
 */
export { Abort, type AbortFn, type WaitOptions } from "../kernel/kernel.ts";
export { runOutsideTask } from "./outside-task.ts";
export { ParkingLot, type WaitingFor } from "./parking-lot.ts";
export { addParkingLotBreaker, removeParkingLotBreaker } from "./parking-lot-breakers.ts";
export {
  addInstrument,
  currentClock,
  currentStatistics,
  dumpTasks,
  type RunStatistics,
  removeInstrument,
  spawnSystemTask,
  waitAllTasksBlocked,
} from "./run-introspection.ts";
export { RunVar } from "./run-var.ts";
export {
  cancelPoint,
  currentRootTask,
  currentTask,
  isInWeftOperation,
  reschedule,
  waitTaskRescheduled,
} from "./waits.ts";
