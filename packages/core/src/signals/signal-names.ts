/** Checking and numbering the POSIX signals weft can listen for. */
import { constants } from "node:os";
import { describeValue } from "../errors/validate.ts";

/** Signals the OS never lets a process catch: listening for them is a mistake. */
const UNCATCHABLE: ReadonlySet<string> = new Set(["SIGKILL", "SIGSTOP"]);

/** The number of `signal` on this platform (`undefined` if the platform has no such signal). */
export function signalNumber(signal: string): number | undefined {
  // An own-property check: "toString" or "__proto__" must not pass for a signal.
  return Object.hasOwn(constants.signals, signal)
    ? constants.signals[signal as NodeJS.Signals]
    : undefined;
}

/**
 * Checks that `value` names a signal a process can catch on this platform:
 * a `TypeError` if it is not a string, a `RangeError` if it names no signal
 * of `os.constants.signals` or one that cannot be caught (SIGKILL, SIGSTOP).
 */
export function checkCatchableSignal(
  name: string,
  value: unknown,
): asserts value is NodeJS.Signals {
  if (typeof value !== "string") {
    throw new TypeError(
      `${name} must be a signal name such as "SIGHUP", got ${describeValue(value)}`,
    );
  }
  if (signalNumber(value) === undefined) {
    throw new RangeError(
      `${name} must name a signal of this platform (os.constants.signals), got ${JSON.stringify(value)}`,
    );
  }
  if (UNCATCHABLE.has(value)) {
    throw new RangeError(`${name} is ${value}, which no process can catch`);
  }
}
