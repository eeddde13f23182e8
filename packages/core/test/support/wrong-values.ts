import fc from "fast-check";
import type { TypeShape, ValueKind } from "./public-surface.ts";

/**
 * fast-check arbitraries of bad input for one parameter (or one property of
 * an options parameter), from its declared type: values of a type it does not
 * accept, and values of its type that code often forgets (NaN, negative, huge
 * numbers; objects whose getters or proxy traps throw).
 */

/**
 * How a generated value relates to the declared type.
 * - `wrong`: not of the type (or an unusable object: a revoked proxy). The
 *   call must fail with a `TypeError` or `RangeError` naming the argument.
 * - `edge`: of the type, but easy to mishandle. The call may accept it; if it
 *   fails with a `TypeError` or `RangeError`, the message names the argument.
 * - `hostile`: an object of the type whose getters or proxy traps throw
 *   {@link HOSTILE_ERROR}: the call may accept it, fail naming the argument,
 *   or let that error through.
 */
export type BadValueClass = "wrong" | "edge" | "hostile";

export interface BadValue {
  readonly value: unknown;
  /** How the value is shown in a report (`String(value)` throws for some of them). */
  readonly label: string;
  readonly class: BadValueClass;
}

/** What the getters and traps of a hostile value throw. */
export const HOSTILE_ERROR: Error = new Error("a getter or proxy trap of a test value threw");

const throwHostile = (): never => {
  throw HOSTILE_ERROR;
};

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function throwingGetters(): object {
  return new Proxy(
    {},
    {
      get: throwHostile,
      has: throwHostile,
      ownKeys: throwHostile,
      getOwnPropertyDescriptor: throwHostile,
      getPrototypeOf: throwHostile,
    },
  );
}

function throwingCoercion(): object {
  return {
    [Symbol.toPrimitive]: throwHostile,
    toString: throwHostile,
    valueOf: throwHostile,
    // biome-ignore lint/suspicious/noThenProperty: a `then` that throws is the point (await reads it)
    get then() {
      return throwHostile();
    },
  };
}

function bad(value: unknown, label: string, valueClass: BadValueClass): BadValue {
  const result: BadValue & fc.WithToStringMethod = {
    value,
    label,
    class: valueClass,
    // fast-check prints counterexamples with this (it cannot print a revoked proxy).
    [fc.toStringMethod]: () => `${label} (${valueClass})`,
  };
  return result;
}

const numbers = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    -1,
    -0.5,
    0.5,
    Infinity,
    -Infinity,
    2 ** 53,
    1e300,
    -1e300,
    Number.MIN_VALUE,
  ),
  fc.double(),
  fc.integer({ min: -(2 ** 31), max: -1 }),
);

/** Values of each kind, for a parameter that does not accept that kind. */
const byKind: Record<ValueKind, fc.Arbitrary<BadValue>> = {
  undefined: fc.constant(bad(undefined, "undefined", "wrong")),
  null: fc.constant(bad(null, "null", "wrong")),
  boolean: fc.boolean().map((value) => bad(value, String(value), "wrong")),
  number: numbers.map((value) => bad(value, `the number ${value}`, "wrong")),
  bigint: fc.bigInt().map((value) => bad(value, `${value}n`, "wrong")),
  string: fc
    .oneof(fc.constantFrom("", "1", "x"), fc.string({ maxLength: 8 }))
    .map((value) => bad(value, JSON.stringify(value), "wrong")),
  symbol: fc
    .string({ maxLength: 4 })
    .map((description) => bad(Symbol(description), `Symbol(${description})`, "wrong")),
  function: fc.constantFrom(
    bad(() => 1, "a function", "wrong"),
    bad(async () => {}, "an async function", "wrong"),
    bad(class {}, "a class", "wrong"),
  ),
  array: fc
    .array(fc.integer(), { maxLength: 3 })
    .map((value) => bad(value, `[${value.join(", ")}]`, "wrong")),
  bytes: fc
    .uint8Array({ maxLength: 4 })
    .map((value) => bad(value, `Uint8Array [${value.join(", ")}]`, "wrong")),
  iterable: fc.constant(bad(new Set([1]), "a Set", "wrong")),
  object: fc.constantFrom(
    bad({}, "{}", "wrong"),
    bad(Object.create(null), "Object.create(null)", "wrong"),
    bad(new Date(0), "a Date", "wrong"),
    bad(/x/, "a RegExp", "wrong"),
  ),
};

/**
 * One value of each kind, tried first for every parameter (fast-check's
 * `examples`), so that a regression for a kind is caught on every run, not
 * only when the random draw picks that kind.
 */
const exampleOfKind: Record<ValueKind, () => BadValue> = {
  undefined: () => bad(undefined, "undefined", "wrong"),
  null: () => bad(null, "null", "wrong"),
  boolean: () => bad(true, "true", "wrong"),
  number: () => bad(Number.NaN, "the number NaN", "wrong"),
  bigint: () => bad(1n, "1n", "wrong"),
  string: () => bad("x", '"x"', "wrong"),
  symbol: () => bad(Symbol("x"), "Symbol(x)", "wrong"),
  function: () => bad(() => 1, "a function", "wrong"),
  array: () => bad([1], "[1]", "wrong"),
  bytes: () => bad(new Uint8Array(1), "Uint8Array [0]", "wrong"),
  iterable: () => bad(new Set([1]), "a Set", "wrong"),
  object: () => bad({}, "{}", "wrong"),
};

/** Objects that no parameter can use: wrong whatever the declared type. */
const unusable: fc.Arbitrary<BadValue> = fc
  .constant(0)
  .map(() => bad(revokedProxy(), "a revoked proxy", "wrong"));

/** Objects whose getters or traps throw: wrong for a parameter that takes no object. */
function hostile(valueClass: BadValueClass): fc.Arbitrary<BadValue> {
  return fc.oneof(
    fc.constant(0).map(() => bad(throwingGetters(), "a proxy whose traps throw", valueClass)),
    fc
      .constant(0)
      .map(() => bad(throwingCoercion(), "an object whose coercions throw", valueClass)),
  );
}

/** The numbers a `number` parameter may mishandle (it is fine to accept them). */
const edgeNumbers: fc.Arbitrary<BadValue> = numbers.map((value) =>
  bad(value, `the number ${value}`, "edge"),
);

/**
 * Bad values for a parameter or property of type `shape`; `undefined` is
 * among the wrong values when it is required (`optional` false). `null` when
 * nothing bad can be generated (a parameter of type `unknown`).
 *
 * An optional property (`options.x`) may take `null` for "not given", as
 * `options.x ?? default` reads it and as Node's own options do: `null` is an
 * edge value there, not a wrong one.
 */
export function badValues(
  shape: TypeShape,
  optional: boolean,
  where: "parameter" | "property",
): { arbitrary: fc.Arbitrary<BadValue>; examples: BadValue[] } | null {
  if (shape.anything) return null;
  const accepts = new Set(shape.kinds);
  const takesObjects = ["object", "function", "array", "bytes", "iterable"].some((kind) =>
    accepts.has(kind as ValueKind),
  );
  // An options-like object type (no required member) takes any object but an
  // array or a function (TypeScript's weak-type rule, and checkOptionsObject's).
  const weakObject = accepts.has("object") && !shape.hasRequiredMembers;
  const choices: fc.Arbitrary<BadValue>[] = [];
  const examples: BadValue[] = [];
  for (const kind of Object.keys(byKind) as ValueKind[]) {
    if (kind === "undefined" && optional) continue;
    if (kind === "null" && optional && where === "property") {
      choices.push(fc.constant(bad(null, "null", "edge")));
      continue;
    }
    if (kind === "object" ? weakObject : accepts.has(kind)) continue;
    if (weakObject && (kind === "bytes" || kind === "iterable")) continue;
    choices.push(byKind[kind]);
    examples.push(exampleOfKind[kind]());
  }
  const hostileClass = takesObjects ? "hostile" : "wrong";
  if (shape.kinds.length > 0) {
    choices.push(unusable);
    examples.push(bad(revokedProxy(), "a revoked proxy", "wrong"));
  }
  choices.push(hostile(hostileClass));
  examples.push(bad(throwingGetters(), "a proxy whose traps throw", hostileClass));
  examples.push(bad(throwingCoercion(), "an object whose coercions throw", hostileClass));
  if (accepts.has("number")) choices.push(edgeNumbers);
  return choices.length === 0 ? null : { arbitrary: fc.oneof(...choices), examples };
}
