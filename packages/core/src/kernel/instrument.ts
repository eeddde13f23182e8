import type { Instrument } from "./types.ts";

export type InstrumentHook = Exclude<keyof Instrument, never>;

export function checkInstrument(value: unknown, name = "instrument"): asserts value is Instrument {
  if (value === null || typeof value !== "object") {
    throw new TypeError(`${name} must be an object with optional hook methods`);
  }
}
