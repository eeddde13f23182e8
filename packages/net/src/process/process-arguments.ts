/**
 * Argument checks shared by `openProcess` and `runProcess`: a `TypeError` for
 * a wrong type, a `RangeError` for a value out of range, each naming the
 * argument, thrown before anything is spawned.
 */
import * as os from "node:os";
import { describeValue, isArray, isInstance, isRevokedProxy } from "@weft/core/validate";

/** The signal names this platform knows (`SIGTERM`, `SIGKILL`, …). */
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = os.constants.signals;
const KNOWN_SIGNAL_NUMBERS: ReadonlySet<number> = new Set(Object.values(SIGNAL_NUMBERS));

/** A string with no NUL byte (the OS would cut it there; Node throws later with a vaguer message). */
function checkCString(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string")
    throw new TypeError(`${name} must be a string, got ${describeValue(value)}`);
  if (value.includes("\0")) throw new TypeError(`${name} must not contain a NUL character`);
}

export function checkCommand(command: unknown): asserts command is string {
  checkCString("command", command);
  if (command.length === 0) throw new TypeError("command must be a non-empty string");
}

export function checkArgs(args: unknown): asserts args is readonly string[] {
  if (!isArray(args))
    throw new TypeError(`args must be an array of strings, got ${describeValue(args)}`);
  // An index loop, not forEach: forEach skips the holes of a sparse array,
  // which spawn would then pass to the child as the string "undefined".
  for (let i = 0; i < args.length; i++) checkCString(`args[${i}]`, args[i]);
}

export function checkCwd(cwd: unknown): asserts cwd is string | undefined {
  if (cwd === undefined) return;
  checkCString("options.cwd", cwd);
  if (cwd.length === 0) throw new TypeError("options.cwd must be a non-empty string");
}

/**
 * An environment: an object of strings. `undefined` values are allowed and
 * left out (so `{ ...process.env, DEBUG: "1" }` type-checks and works).
 */
export function checkEnv(
  env: unknown,
): asserts env is Readonly<Record<string, string | undefined>> | undefined {
  if (env === undefined) return;
  // An object whose own properties are the variables. A Map (or any other
  // iterable) would pass as an object with no own properties and give the
  // child an empty environment, without PATH. (Not "a plain object":
  // process.env itself has another prototype.)
  if (env === null || typeof env !== "object" || isRevokedProxy(env) || Symbol.iterator in env) {
    const what = isInstance(env, Map) ? "a Map (use Object.fromEntries)" : describeValue(env);
    throw new TypeError(`options.env must be an object of strings, got ${what}`);
  }
  for (const [key, value] of Object.entries(env)) {
    // A leading "=" is allowed: Windows keeps per-drive directories as "=C:".
    if (key.length === 0 || key.includes("\0") || key.includes("=", 1)) {
      throw new TypeError(
        `options.env key ${JSON.stringify(key)} must be non-empty, without NUL or "=" after its first character`,
      );
    }
    if (value !== undefined) checkCString(`options.env.${key}`, value);
  }
}

/** A grace period in milliseconds: a finite number >= 0. */
export function checkGracePeriod(value: unknown): asserts value is number | undefined {
  if (value === undefined) return;
  if (typeof value !== "number") {
    throw new TypeError(
      `options.gracePeriod must be a number of milliseconds, got ${describeValue(value)}`,
    );
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `options.gracePeriod must be a finite number of milliseconds >= 0, got ${value}`,
    );
  }
}

/** A signal name this platform knows (`RangeError` for an unknown name). */
export function checkSignalName(name: string, value: unknown): asserts value is NodeJS.Signals {
  if (typeof value !== "string") {
    throw new TypeError(
      `${name} must be a signal name such as "SIGTERM", got ${describeValue(value)}`,
    );
  }
  if (!Object.hasOwn(SIGNAL_NUMBERS, value)) {
    throw new RangeError(
      `${name} must be a signal name this platform knows, got ${JSON.stringify(value)}`,
    );
  }
}

/** A signal name, or the number of a signal this platform knows. */
export function checkSignal(
  name: string,
  value: unknown,
): asserts value is NodeJS.Signals | number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || !KNOWN_SIGNAL_NUMBERS.has(value)) {
      throw new RangeError(`${name} must be a signal number this platform knows, got ${value}`);
    }
    return;
  }
  checkSignalName(name, value);
}

/** The number of a signal name (`SIGKILL` → 9). */
export function signalNumber(signal: NodeJS.Signals): number {
  return SIGNAL_NUMBERS[signal] ?? 0;
}
