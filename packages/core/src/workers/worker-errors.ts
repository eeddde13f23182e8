/**
 * How a value thrown in a worker thread reaches the caller of `runInWorker`.
 *
 * Structured clone alone loses too much of an error: the name of any class
 * but the built-in ones, properties such as `code`, the `errors` of an
 * `AggregateError`; and an error holding something that cannot be cloned
 * cannot cross at all (the worker would die sending it). So the worker side
 * turns what was thrown into a plain record of cloneable parts
 * (`describeThrown`), and the calling side builds an error from it again
 * (`reviveThrown`), of the nearest built-in class, with the worker's name,
 * message, stack, cause and properties.
 *
 * This module is imported by the worker entry: it must stay free of imports.
 */

/** Marks a record made by `describeThrown` among the values a pool can reject with. */
const MARK = "weft.workerThrown";

/** The built-in error classes a revived error can be an instance of. */
const BUILT_IN_ERRORS = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
} as const;
type BuiltInErrorName = keyof typeof BUILT_IN_ERRORS;

/** Parts of a thrown error that survive the crossing. */
interface ErrorParts {
  readonly kind: "error";
  /** The nearest built-in class in the error's prototype chain. */
  readonly base: BuiltInErrorName;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** Present only if the error had a `cause`. */
  readonly cause?: ThrownParts;
  /** An `AggregateError`'s errors. */
  readonly errors?: readonly ThrownParts[];
  /** Own enumerable properties (`code`, `errno`...) that could be cloned. */
  readonly properties: Readonly<Record<string, unknown>>;
}

/** Something that is not an `Error` and crosses as it is (it could be cloned). */
interface ValueParts {
  readonly kind: "value";
  readonly value: unknown;
}

type ThrownParts = ErrorParts | ValueParts;

/** What the worker entry throws back to the pool. */
export interface ThrownRecord {
  readonly [MARK]: true;
  readonly thrown: ThrownParts;
}

/** Beyond this depth of causes (or on a cycle), a cause is summed up in a message. */
const MAX_DEPTH = 16;

const OWN_PARTS = new Set(["name", "message", "stack", "cause", "errors"]);

function canClone(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** What `read` returns for a property whose getter throws. */
const UNREADABLE = Symbol("unreadable");

/**
 * `error[key]`, or `UNREADABLE` if its getter throws: such a property is
 * dropped like one that cannot be cloned. Letting the getter's error escape
 * would lose the thrown error, and the call would fail as if the worker had
 * died.
 */
function read(error: Error, key: string): unknown {
  try {
    return (error as unknown as Record<string, unknown>)[key];
  } catch {
    return UNREADABLE;
  }
}

function baseOf(error: Error): BuiltInErrorName {
  for (
    let proto = Object.getPrototypeOf(error);
    proto !== null;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === "string" && Object.hasOwn(BUILT_IN_ERRORS, name)) {
      if (proto === BUILT_IN_ERRORS[name as BuiltInErrorName].prototype) {
        return name as BuiltInErrorName;
      }
    }
  }
  return "Error";
}

function describe(thrown: unknown, seen: Set<unknown>): ThrownParts {
  if (!(thrown instanceof Error)) {
    if (canClone(thrown)) return { kind: "value", value: thrown };
    return describe(
      new TypeError(`the worker threw a value that cannot be cloned: ${String(thrown)}`),
      seen,
    );
  }
  if (seen.has(thrown) || seen.size >= MAX_DEPTH) {
    return describe(new Error(`(cause not sent: ${String(thrown)})`), new Set());
  }
  seen.add(thrown);
  const properties: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (OWN_PARTS.has(key)) continue;
    const value = read(thrown, key);
    if (value !== UNREADABLE && canClone(value)) properties[key] = value;
  }
  const parts: {
    -readonly [K in keyof ErrorParts]: ErrorParts[K];
  } = {
    kind: "error",
    base: baseOf(thrown),
    name: String(thrown.name),
    message: String(thrown.message),
    stack: typeof thrown.stack === "string" ? thrown.stack : undefined,
    properties,
  };
  if ("cause" in thrown) {
    const cause = read(thrown, "cause");
    if (cause !== UNREADABLE) parts.cause = describe(cause, seen);
  }
  if (thrown instanceof AggregateError && Array.isArray(thrown.errors)) {
    parts.errors = thrown.errors.map((error: unknown) => describe(error, seen));
  }
  seen.delete(thrown);
  return parts;
}

/** Worker side: what `thrown` becomes to cross to the calling thread. */
export function describeThrown(thrown: unknown): ThrownRecord {
  return { [MARK]: true, thrown: describe(thrown, new Set()) };
}

/** Calling side: whether a pool's rejection is a record made by `describeThrown`. */
export function isThrownRecord(value: unknown): value is ThrownRecord {
  return typeof value === "object" && value !== null && (value as ThrownRecord)[MARK] === true;
}

function revive(parts: ThrownParts): unknown {
  if (parts.kind === "value") return parts.value;
  const options = parts.cause === undefined ? undefined : { cause: revive(parts.cause) };
  const error: Error =
    parts.base === "AggregateError"
      ? new AggregateError((parts.errors ?? []).map(revive), parts.message, options)
      : new (BUILT_IN_ERRORS[parts.base] as ErrorConstructor)(parts.message, options);
  if (error.name !== parts.name) {
    // Own property, as a class that sets `this.name` in its constructor has.
    Object.defineProperty(error, "name", {
      value: parts.name,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  if (parts.stack === undefined) delete error.stack;
  else error.stack = parts.stack;
  Object.assign(error, parts.properties);
  return error;
}

/**
 * Calling side: the error (or value) the worker threw, rebuilt. Its class is
 * the nearest built-in one (`instanceof TypeError` still holds for a subclass
 * of `TypeError`); `name`, `message`, `stack` (the worker's), `cause` and
 * cloneable own properties are the worker's.
 */
export function reviveThrown(record: ThrownRecord): unknown {
  return revive(record.thrown);
}
