/**
 * Argument checks shared by @weft/net's public API: a `TypeError` for a
 * wrong type, a `RangeError` for a value out of range, each naming the
 * argument. Checks of one subsystem's own arguments (hosts and ports, process
 * arguments, file flags) live with it and build on these.
 */

/** How a bad value is shown in a message. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

/** `undefined` or a plain options object (not `null`, not an array); `name` names it. */
export function checkOptions(
  options: unknown,
  name = "options",
): asserts options is object | undefined {
  if (
    options !== undefined &&
    (options === null || typeof options !== "object" || Array.isArray(options))
  ) {
    throw new TypeError(`${name} must be an object`);
  }
}

/** `TypeError` unless `value` is a number, `RangeError` unless it is an integer >= `min`. */
export function checkInteger(name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== "number") throw new TypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}

/** `undefined`, or one of `allowed` (a closed set of literals: anything else is a `TypeError`). */
export function checkChoice<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T | undefined {
  if (value === undefined) return;
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    const choices = allowed.map((a) => JSON.stringify(a)).join(", ");
    throw new TypeError(`${name} must be one of ${choices}, got ${describe(value)}`);
  }
}

/** `undefined` or a boolean. */
export function checkOptionalBoolean(
  name: string,
  value: unknown,
): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  }
}
