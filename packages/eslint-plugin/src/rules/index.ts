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

export const rules = {
  "no-blocking-call-in-task": noBlockingCallInTask,
  "no-checkpoint-free-scope": noCheckpointFreeScope,
  "no-concurrent-weft-operations": noConcurrentWeftOperations,
  "no-floating-weft-promise": noFloatingWeftPromise,
  "no-huge-sleep": noHugeSleep,
  "no-single-task-nursery": noSingleTaskNursery,
  "no-sleep-zero": noSleepZero,
  "no-swallowed-cancellation": noSwallowedCancellation,
  "no-unbounded-cleanup": noUnboundedCleanup,
  "no-yield-in-cancel-scope": noYieldInCancelScope,
  "prefer-event-over-polling": preferEventOverPolling,
  "require-signal-for-foreign-await": requireSignalForForeignAwait,
};
