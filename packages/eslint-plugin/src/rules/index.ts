/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noBlockingCallInTask } from "./no-blocking-call-in-task.ts";
import { noSleepZero } from "./no-sleep-zero.ts";
import { requireSignalForForeignAwait } from "./require-signal-for-foreign-await.ts";

export const rules = {
  "no-blocking-call-in-task": noBlockingCallInTask,
  "no-sleep-zero": noSleepZero,
  "require-signal-for-foreign-await": requireSignalForForeignAwait,
};
