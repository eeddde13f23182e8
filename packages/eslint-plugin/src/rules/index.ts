/** Every rule of the plugin, by name (one line per rule; keep them sorted). */
import { noSleepZero } from "./no-sleep-zero.ts";

export const rules = {
  "no-sleep-zero": noSleepZero,
};
