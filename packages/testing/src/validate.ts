/**
 * Argument checks of @weft/testing's public API (the one place they live): a
 * `TypeError` for a wrong type, a `RangeError` for a value out of range, each
 * naming the argument. The same rules and wording as @weft/core's checks.
 */

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "function") return "a function";
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return `${typeof value} ${String(value)}`;
}

/** A plain options object (not `null`, not an array). */
export function checkOptionsObject(name: string, value: unknown): asserts value is object {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  }
}

export function checkFunction(
  name: string,
  value: unknown,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") {
    throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  }
}

export function checkArray(name: string, value: unknown): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`${name} must be an array, got ${describeValue(value)}`);
  }
}

/** An integer >= `min` (or `Infinity` where `infinity` allows it). */
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

/** A number that is not NaN and not negative (`Infinity` allowed). */
export function checkNonNegative(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describeValue(value)}`);
  }
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  }
}

/** A finite number (a seed). */
export function checkFinite(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a finite number, got ${describeValue(value)}`);
  }
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be finite, got ${value}`);
}

/** One of a few strings. */
export function checkOneOf<const T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (!allowed.includes(value as T)) {
    const list = allowed.map((each) => JSON.stringify(each)).join(" or ");
    throw new TypeError(`${name} must be ${list}, got ${describeValue(value)}`);
  }
}

export function checkBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describeValue(value)}`);
  }
}
