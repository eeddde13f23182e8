import { describeValue, isRevokedProxy } from "../errors/validate.ts";
import type { Instrument } from "./types.ts";

export type InstrumentHook = Exclude<keyof Instrument, never>;

export function checkInstrument(value: unknown, name = "instrument"): asserts value is Instrument {
  // A revoked proxy would throw from the kernel at its first hook (an InternalError).
  if (
    value === null ||
    typeof value !== "object" ||
    isRevokedProxy(value) ||
    Array.isArray(value)
  ) {
    throw new TypeError(
      `${name} must be an object with optional hook methods, got ${describeValue(value)}`,
    );
  }
}
