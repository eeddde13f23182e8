/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noSleepZero } from "./no-sleep-zero.ts";
import { noSwallowedCancellation } from "./no-swallowed-cancellation.ts";
import { noUnboundedCleanup } from "./no-unbounded-cleanup.ts";

export const rules = {
  "no-sleep-zero": noSleepZero,
  "no-swallowed-cancellation": noSwallowedCancellation,
  "no-unbounded-cleanup": noUnboundedCleanup,
};
