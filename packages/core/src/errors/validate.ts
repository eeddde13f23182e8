/**
 * Argument checks: a `TypeError` for a wrong type, a `RangeError` for a value
 * out of range, each naming the argument. The one module of them for every
 * weft package (the `@weft/core/validate` entry: @weft/net and @weft/testing
 * use it, and so can code built on weft), so all argument errors read alike.
 *
 * @packageDocumentation
 */

/**
 * Whether `value` is a revoked proxy: an object every operation on which
 * throws (even `Array.isArray` and `instanceof`), so a check must ask this
 * before anything else about an object, or fail with a `TypeError` that does
 * not name the argument.
 */
export function isRevokedProxy(value: unknown): boolean {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  try {
    Array.isArray(value);
    return false;
  } catch {
    return true;
  }
}

/** `Array.isArray(value)`, false for a revoked proxy (where `Array.isArray` throws). */
export function isArray(value: unknown): value is readonly unknown[] {
  return !isRevokedProxy(value) && Array.isArray(value);
}

/**
 * `value instanceof type`, without throwing: false for a revoked proxy, and
 * for a proxy whose `getPrototypeOf` trap throws (`instanceof` would throw).
 */
export function isInstance<T>(
  value: unknown,
  type: abstract new (...args: never[]) => T,
): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/** How a bad value is shown in a message: its type, and its value where short. Never throws. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (isRevokedProxy(value)) return "a revoked proxy";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "function") return "a function";
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `${typeof value} ${String(value)}`;
}

/** A duration in milliseconds: a number, not NaN, not negative (Infinity allowed). */
export function checkDuration(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number of milliseconds, got ${describeValue(value)}`);
  }
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number of milliseconds, got ${value}`);
  }
}

/** An absolute time on the run's clock: a number, not NaN (±Infinity allowed). */
export function checkDeadline(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${name} must be a number (an absolute time in milliseconds), got ${describeValue(value)}`,
    );
  }
  if (Number.isNaN(value)) {
    throw new RangeError(`${name} must not be NaN`);
  }
}

/** A function: anything else is a `TypeError` naming `name`. */
export function checkFunction(
  name: string,
  value: unknown,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") {
    throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  }
}

/**
 * A count: a number that is an integer >= `min` (or `Infinity`, where
 * `infinity` allows it) — a `TypeError` for another type, a `RangeError` for
 * another number.
 */
export function checkCount(
  name: string,
  value: unknown,
  { min = 0, infinity = false }: { min?: number; infinity?: boolean } = {},
): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describeValue(value)}`);
  }
  if (infinity && value === Infinity) return;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `${name} must be an integer >= ${min}${infinity ? " or Infinity" : ""}, got ${value}`,
    );
  }
}

/** A boolean: anything else is a `TypeError` naming `name`. */
export function checkBoolean(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean, got ${describeValue(value)}`);
  }
}

/** `undefined` or a plain options object (not `null`, not an array). */
export function checkOptionsObject(
  name: string,
  value: unknown,
): asserts value is object | undefined {
  if (
    value !== undefined &&
    (value === null || typeof value !== "object" || isRevokedProxy(value) || Array.isArray(value))
  ) {
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  }
}

/** `undefined` or a string (a task's or a scope's name): anything else is a `TypeError`. */
export function checkOptionalName(
  name: string,
  value: unknown,
): asserts value is string | undefined {
  if (value !== undefined && typeof value !== "string") {
    throw new TypeError(`${name} must be a string, got ${describeValue(value)}`);
  }
}

/** `undefined`, or one of `allowed` (a closed set of strings: anything else is a `TypeError`). */
export function checkChoice<const T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T | undefined {
  if (value === undefined) return;
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    const choices = allowed.map((each) => JSON.stringify(each)).join(", ");
    throw new TypeError(`${name} must be one of ${choices}, got ${describeValue(value)}`);
  }
}

/** `undefined` or a boolean. */
export function checkOptionalBoolean(
  name: string,
  value: unknown,
): asserts value is boolean | undefined {
  if (value !== undefined) checkBoolean(name, value);
}

/** An array (not a revoked proxy): anything else is a `TypeError` naming `name`. */
export function checkArray(name: string, value: unknown): asserts value is readonly unknown[] {
  if (!isArray(value)) {
    throw new TypeError(`${name} must be an array, got ${describeValue(value)}`);
  }
}

/** A finite number (a seed, a rate). */
export function checkFinite(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describeValue(value)}`);
  }
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be finite, got ${value}`);
}

/** A number that is neither NaN nor negative (`Infinity` allowed): a rate, a threshold. */
export function checkNonNegative(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describeValue(value)}`);
  }
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  }
}

/**
 * An object with a method of each name in `methods` (an implementation of an
 * interface: a Clock, a stream); `what` says what it is in the message
 * ("a Clock (startClock, currentTime, deadlineToSleepTime)").
 */
export function checkMethods(
  name: string,
  value: unknown,
  methods: readonly string[],
  what: string,
): void {
  if (
    value === null ||
    (typeof value !== "object" && typeof value !== "function") ||
    isRevokedProxy(value) ||
    methods.some((method) => typeof (value as Record<string, unknown>)[method] !== "function")
  ) {
    throw new TypeError(`${name} must be ${what}, got ${describeValue(value)}`);
  }
}

/** An instance of `type`; `what` says what it is in the message ("a weft Task"). */
export function checkInstance<T>(
  name: string,
  value: unknown,
  type: abstract new (...args: never[]) => T,
  what: string,
): asserts value is T {
  if (!isInstance(value, type)) {
    throw new TypeError(`${name} must be ${what}, got ${describeValue(value)}`);
  }
}

/** A `Uint8Array` (a `Buffer` is one): anything else is a `TypeError` naming `name`. */
export function checkBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!isInstance(value, Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describeValue(value)}`);
  }
}
