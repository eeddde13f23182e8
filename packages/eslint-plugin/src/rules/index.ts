/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noSleepZero } from "./no-sleep-zero.ts";
import { noSwallowedCancellation } from "./no-swallowed-cancellation.ts";
import { noUnboundedCleanup } from "./no-unbounded-cleanup.ts";
import { noYieldInCancelScope } from "./no-yield-in-cancel-scope.ts";

export const rules = {
  "no-sleep-zero": noSleepZero,
  "no-swallowed-cancellation": noSwallowedCancellation,
  "no-unbounded-cleanup": noUnboundedCleanup,
  "no-yield-in-cancel-scope": noYieldInCancelScope,
};
