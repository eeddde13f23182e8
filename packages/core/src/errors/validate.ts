/**
 * Argument checks shared by the public API: a `TypeError` for a wrong type,
 * a `RangeError` for a value out of range, each naming the argument.
 */

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "function") return "a function";
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `${typeof value} ${String(value)}`;
}

/** A duration in milliseconds: a number, not NaN, not negative (Infinity allowed). */
export function checkDuration(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number of milliseconds, got ${describe(value)}`);
  }
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number of milliseconds, got ${value}`);
  }
}

/** An absolute time on the run's clock: a number, not NaN (±Infinity allowed). */
export function checkDeadline(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${name} must be a number (an absolute time in milliseconds), got ${describe(value)}`,
    );
  }
  if (Number.isNaN(value)) {
    throw new RangeError(`${name} must not be NaN`);
  }
}

export function checkFunction(
  name: string,
  value: unknown,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") {
    throw new TypeError(`${name} must be a function, got ${describe(value)}`);
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
    throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  }
  if (infinity && value === Infinity) return;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `${name} must be an integer >= ${min}${infinity ? " or Infinity" : ""}, got ${value}`,
    );
  }
}

export function checkBoolean(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  }
}

/** `undefined` or a plain options object (not `null`, not an array). */
export function checkOptionsObject(
  name: string,
  value: unknown,
): asserts value is object | undefined {
  if (
    value !== undefined &&
    (value === null || typeof value !== "object" || Array.isArray(value))
  ) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
}

export function checkOptionalName(
  name: string,
  value: unknown,
): asserts value is string | undefined {
  if (value !== undefined && typeof value !== "string") {
    throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  }
}
