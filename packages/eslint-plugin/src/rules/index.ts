/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noFloatingWeftPromise } from "./no-floating-weft-promise.ts";
import { noSleepZero } from "./no-sleep-zero.ts";

export const rules = {
  "no-floating-weft-promise": noFloatingWeftPromise,
  "no-sleep-zero": noSleepZero,
};
