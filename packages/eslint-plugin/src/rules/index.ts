/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noConcurrentWeftOperations } from "./no-concurrent-weft-operations.ts";
import { noFloatingWeftPromise } from "./no-floating-weft-promise.ts";
import { noSleepZero } from "./no-sleep-zero.ts";

export const rules = {
  "no-concurrent-weft-operations": noConcurrentWeftOperations,
  "no-floating-weft-promise": noFloatingWeftPromise,
  "no-sleep-zero": noSleepZero,
};
