/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noBlockingCallInTask } from "./no-blocking-call-in-task.ts";
import { noSleepZero } from "./no-sleep-zero.ts";
import { preferEventOverPolling } from "./prefer-event-over-polling.ts";
import { requireSignalForForeignAwait } from "./require-signal-for-foreign-await.ts";

export const rules = {
  "no-blocking-call-in-task": noBlockingCallInTask,
  "no-sleep-zero": noSleepZero,
  "prefer-event-over-polling": preferEventOverPolling,
  "require-signal-for-foreign-await": requireSignalForForeignAwait,
};
