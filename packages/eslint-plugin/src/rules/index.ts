/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noConcurrentWeftOperations } from "./no-concurrent-weft-operations.ts";
import { noFloatingWeftPromise } from "./no-floating-weft-promise.ts";
import { noHugeSleep } from "./no-huge-sleep.ts";
import { noSleepZero } from "./no-sleep-zero.ts";

export const rules = {
  "no-concurrent-weft-operations": noConcurrentWeftOperations,
  "no-floating-weft-promise": noFloatingWeftPromise,
  "no-huge-sleep": noHugeSleep,
  "no-sleep-zero": noSleepZero,
};
