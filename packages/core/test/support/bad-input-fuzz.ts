import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  errorsOfProcess,
  listenForUncaught,
  runtimeStillWorks,
  violation,
} from "./bad-input-contract.ts";
import { describeError, insideRun, outsideRun, type Receiver } from "./bounded-call.ts";
import {
  type CallableInfo,
  entryPoints,
  type ParameterInfo,
  publicSurface,
  type TypeShape,
} from "./public-surface.ts";
import { type BadValue, badValues } from "./wrong-values.ts";

/**
 * The bad-input fuzz test of one entry point, generated from its exports
 * (issue 20). Every exported function, constructor, static and prototype
 * method and setter is called with fast-check-generated bad values, one
 * parameter (or one property of an options parameter) at a time, the others
 * valid, inside `run()` (on a MockClock) and outside it. The contract
 * (API.md, "Conventions"):
 *
 * - a value of the wrong type is a `TypeError` or `RangeError` whose message
 *   names the argument (`ms`, `options.timeout`); a value of the right type
 *   may be accepted, but if it is refused with one of those, the message names
 *   the argument too;
 * - thrown at once by a synchronous API, a rejection (never a synchronous
 *   throw) from one that returns a promise;
 * - never a hang (every call is bounded: virtual time inside a run, real time
 *   around it), never an uncaught exception or unhandled rejection, never a
 *   crashed run;
 * - the runtime still works afterwards: a run with a few tasks, a channel and
 *   a sleep, after every case.
 *
 * Each parameter first gets one value of every kind it does not accept (and
 * a revoked proxy, and objects whose traps or coercions throw), then
 * `WEFT_FUZZ_RUNS` random ones (default {@link DEFAULT_RUNS});
 * `WEFT_PROPERTY_SEED` / `WEFT_PROPERTY_PATH` replay a reported failure.
 */

const DEFAULT_RUNS = 3;

/** Why an error class's constructor is not fuzzed (an allowance reason). */
export const ERROR_CONSTRUCTOR =
  "an Error subclass: its message and options are Error's own (converted with String(), cause is anything), as for every built-in error";

/**
 * Why a method of one of weft's interfaces (Clock, Scheduler, Instrument) is
 * not fuzzed: the kernel calls it with values it made, an implementation (a
 * user's too) need not check them, and a call from user code has no effect on
 * any run.
 */
export const KERNEL_HOOK =
  "a hook the kernel calls with its own values (Clock, Scheduler or Instrument)";

export type { Receiver } from "./bounded-call.ts";

export interface FuzzConfig {
  /** Per class (as exported: `Lock`, `lowlevel.ParkingLot`), how to make an instance. */
  readonly receivers: Readonly<Record<string, Receiver>>;
  /**
   * Valid arguments, per callable id (`openTcpStream`, `new Semaphore`,
   * `Simulation.prototype.link`), where the ones made from the declared types
   * (`1`, `"x"`, `async () => {}`, `{}`, …) are not valid. Each call makes a
   * fresh list (inside the run for the calls inside it; one that fails
   * outside a run skips the call outside).
   */
  readonly validArguments?: Readonly<Record<string, () => unknown[] | Promise<unknown[]>>>;
  /**
   * What is not fuzzed, each with the reason: a callable id, `id(param)` or
   * `id(param.property)`. An entry that matches nothing fails the test.
   */
  readonly allow: Readonly<Record<string, string>>;
}

/** One thing to fuzz: a parameter, or a property of an options parameter. */
interface Target {
  readonly callable: CallableInfo;
  readonly signature: readonly ParameterInfo[];
  readonly index: number;
  readonly property: string | undefined;
  /** The name an error must give: `ms`, `options.timeout`, `fns` (`fns[1]` matches). */
  readonly name: string;
  readonly shape: TypeShape;
  readonly optional: boolean;
}

/** Every parameter and options property of `callable` that can be given bad values. */
function targetsOf(callable: CallableInfo): Target[] {
  const targets: Target[] = [];
  callable.signatures.forEach((signature, signatureIndex) => {
    signature.forEach((parameter, index) => {
      // Overloads: a parameter is fuzzed once, with the kinds every overload accepts.
      if (signatureIndex > 0 && index < (callable.signatures[0]?.length ?? 0)) return;
      const shape = mergedShape(callable, index);
      const optional = callable.signatures.some((each) => each[index]?.optional ?? true);
      targets.push({
        callable,
        signature,
        index,
        property: undefined,
        name: parameter.name,
        shape,
        optional,
      });
      if (callable.signatures.length > 1) return;
      for (const property of shape.properties) {
        targets.push({
          callable,
          signature,
          index,
          property: property.name,
          name: `${parameter.name}.${property.name}`,
          shape: property.type,
          optional: property.optional,
        });
      }
    });
  });
  return targets.filter((target) => !target.shape.anything);
}

function mergedShape(callable: CallableInfo, index: number): TypeShape {
  const shapes = callable.signatures
    .map((signature) => signature[index]?.type)
    .filter((shape) => shape !== undefined);
  if (shapes.length === 1) return shapes[0]!;
  return {
    text: shapes.map((shape) => shape.text).join(" / "),
    anything: shapes.some((shape) => shape.anything),
    kinds: [...new Set(shapes.flatMap((shape) => shape.kinds))],
    hasRequiredMembers: shapes.every((shape) => shape.hasRequiredMembers),
    properties: [],
  };
}

function targetKey(target: Target): string {
  return `${target.callable.id}(${target.name})`;
}

/** A valid value of a declared type, for the parameters not being fuzzed. */
function placeholder(shape: TypeShape, optional: boolean): unknown {
  if (optional || shape.kinds.includes("undefined")) return undefined;
  if (shape.kinds.includes("function")) return async () => {};
  if (shape.kinds.includes("array")) return [];
  if (shape.kinds.includes("bytes")) return new Uint8Array(1);
  if (shape.kinds.includes("number")) return 1;
  if (shape.kinds.includes("string")) return "x";
  if (shape.kinds.includes("boolean")) return false;
  if (shape.kinds.includes("null")) return null;
  if (shape.kinds.includes("object")) {
    const object: Record<string, unknown> = {};
    for (const property of shape.properties) {
      if (!property.optional) object[property.name] = placeholder(property.type, false);
    }
    return object;
  }
  return undefined;
}

async function argumentsFor(
  target: Target,
  config: FuzzConfig,
  value: unknown,
): Promise<unknown[]> {
  const valid =
    (await config.validArguments?.[target.callable.id]?.()) ??
    target.signature.map((parameter) => placeholder(parameter.type, parameter.optional));
  const args = valid.slice(0, Math.max(target.index + 1, requiredCount(target.signature)));
  if (target.property === undefined) {
    args[target.index] = value;
  } else {
    const base = args[target.index];
    args[target.index] = {
      ...(typeof base === "object" && base !== null ? base : {}),
      [target.property]: value,
    };
  }
  return args;
}

function requiredCount(signature: readonly ParameterInfo[]): number {
  let count = 0;
  signature.forEach((parameter, index) => {
    if (!parameter.optional) count = index + 1;
  });
  return count;
}

/** The exported value at `path` (`lowlevel.ParkingLot`) of a module namespace. */
function lookUp(module: Record<string, unknown>, path: string): unknown {
  let value: unknown = module;
  for (const part of path.split(".")) value = (value as Record<string, unknown>)[part];
  return value;
}

/** Makes the call that `target` describes, with `args`, on `receiver` for a method or setter. */
function invoke(
  module: Record<string, unknown>,
  callable: CallableInfo,
  args: unknown[],
  receiver: unknown,
): unknown {
  const owner = lookUp(module, callable.owner);
  switch (callable.kind) {
    case "function":
      return (owner as (...args: unknown[]) => unknown)(...args);
    case "constructor":
      return Reflect.construct(owner as new (...args: unknown[]) => unknown, args);
    case "static":
      return Reflect.apply(
        Reflect.get(owner as object, callable.member) as (...args: unknown[]) => unknown,
        owner,
        args,
      );
    case "method":
      return Reflect.apply(
        Reflect.get(receiver as object, memberKey(callable.member)) as (
          ...args: unknown[]
        ) => unknown,
        receiver,
        args,
      );
    case "setter":
      (receiver as Record<string, unknown>)[callable.member] = args[0];
      return undefined;
  }
}

function memberKey(member: string): string | symbol {
  const match = /^\[Symbol\.(\w+)\]$/.exec(member);
  return match ? (Symbol as unknown as Record<string, symbol>)[match[1]!]! : member;
}

/** fast-check's parameters: the `examples` first, then the random runs. */
function parameters(examples: readonly BadValue[]): fc.Parameters<[BadValue]> {
  const replay: fc.Parameters<[BadValue]> =
    process.env.WEFT_PROPERTY_SEED === undefined
      ? {}
      : { seed: Number(process.env.WEFT_PROPERTY_SEED), path: process.env.WEFT_PROPERTY_PATH };
  return {
    // fast-check counts the examples among numRuns.
    numRuns: examples.length + Number(process.env.WEFT_FUZZ_RUNS ?? DEFAULT_RUNS),
    examples: examples.map((value): [BadValue] => [value]),
    ...replay,
  };
}

/**
 * Callables of `entry` with something to fuzz. One that an earlier entry point
 * (in `entryPoints()` order) exports too — `@weft/net` re-exports
 * `@weft/core/streams` — is fuzzed there only.
 */
function fuzzTargets(entry: string): CallableInfo[] {
  const surface = publicSurface();
  const callables = surface.get(entry);
  if (!callables) throw new Error(`${entry} is not an entry point of a weft package`);
  const earlier = new Set<string>();
  for (const [other, each] of surface) {
    if (other === entry) break;
    for (const callable of each) earlier.add(callable.declaredAt);
  }
  return callables.filter(
    (callable) =>
      !callable.hidden && !earlier.has(callable.declaredAt) && targetsOf(callable).length > 0,
  );
}

/**
 * Declares the fuzz tests of `entry`: one per callable, plus the coverage
 * checks (every callable is fuzzed or allowed with a reason, every allowance
 * is used, every method's class has a receiver).
 */
export function fuzzBadInput(entry: string, config: FuzzConfig): void {
  const callables = fuzzTargets(entry);
  const allowed = (key: string): boolean => Object.hasOwn(config.allow, key);
  const file = entryPoints().get(entry)!;

  describe(`bad input to ${entry}`, () => {
    test("every callable is fuzzed or allowed with a reason; every allowance is used", () => {
      const keys = new Set<string>();
      for (const callable of callables) {
        keys.add(callable.id);
        for (const target of targetsOf(callable)) keys.add(targetKey(target));
        const needsReceiver =
          (callable.kind === "method" || callable.kind === "setter") &&
          !allowed(callable.id) &&
          targetsOf(callable).some((target) => !allowed(targetKey(target)));
        if (needsReceiver) {
          expect(
            config.receivers[callable.owner],
            `${callable.id}: no receiver for ${callable.owner} (add one, or allow it with a reason)`,
          ).toBeTypeOf("function");
        }
      }
      for (const key of Object.keys(config.allow)) {
        expect(keys.has(key), `the allowance "${key}" matches nothing in ${entry}`).toBe(true);
      }
      for (const id of Object.keys(config.validArguments ?? {})) {
        expect(keys.has(id), `the valid arguments of "${id}" match nothing in ${entry}`).toBe(true);
      }
    });

    for (const callable of callables) {
      if (allowed(callable.id)) continue;
      const needsReceiver = callable.kind === "method" || callable.kind === "setter";
      if (needsReceiver && config.receivers[callable.owner] === undefined) continue;
      const targets = targetsOf(callable).filter((target) => !allowed(targetKey(target)));
      if (targets.length === 0) continue;
      test(`${callable.id}: ${targets.map((target) => target.name).join(", ")}`, async () => {
        listenForUncaught();
        const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
        const receiver =
          callable.kind === "method" || callable.kind === "setter"
            ? config.receivers[callable.owner]
            : undefined;
        for (const target of targets) {
          const values = badValues(
            target.shape,
            target.optional,
            target.property === undefined ? "parameter" : "property",
          );
          if (!values) continue;
          await fc.assert(
            fc.asyncProperty(values.arbitrary, async (bad) => {
              const makeArguments = () => argumentsFor(target, config, bad.value);
              const call = (instance: unknown, args: unknown[]) =>
                invoke(module, callable, args, instance);
              const problems: string[] = [];
              const outside = await outsideRun(makeArguments, call, receiver);
              const outsideProblem =
                outside &&
                violation(target.name, callable.returnsPromise, bad, outside, "outside run");
              if (outsideProblem) problems.push(`outside run(): ${outsideProblem}`);
              const inside = await insideRun(makeArguments, call, receiver);
              const insideProblem = violation(
                target.name,
                callable.returnsPromise,
                bad,
                inside,
                "inside run",
              );
              if (insideProblem) problems.push(`inside run(): ${insideProblem}`);
              await new Promise((resolve) => setImmediate(resolve));
              if (errorsOfProcess.length > 0) {
                const uncaught = errorsOfProcess.splice(0);
                problems.push(`uncaught: ${uncaught.map(describeError).join("; ")}`);
              }
              try {
                await runtimeStillWorks();
              } catch (error) {
                problems.push(`the runtime is broken afterwards: ${describeError(error)}`);
              }
              if (problems.length > 0) {
                throw new Error(
                  `${callable.id} with ${target.name} = ${bad.label}: ${problems.join("; ")}`,
                );
              }
            }),
            parameters(values.examples),
          );
        }
      });
    }
  });
}

/**
 * Every entry point with something to fuzz has its fuzz test: a call
 * `fuzzBadInput("<entry>", …)` in `test/bad-input.fuzz.test.ts` of its package.
 */
export function expectEveryEntryPointFuzzed(): void {
  test("every entry point of every package has a bad-input fuzz test", () => {
    for (const [entry, file] of entryPoints()) {
      if (fuzzTargets(entry).length === 0) continue;
      const testFile = path.join(
        file.slice(0, file.lastIndexOf("/src/")),
        "test/bad-input.fuzz.test.ts",
      );
      const source = fs.existsSync(testFile) ? fs.readFileSync(testFile, "utf8") : "";
      expect(source, `${entry}: no fuzzBadInput("${entry}", …) in ${testFile}`).toContain(
        `fuzzBadInput("${entry}",`,
      );
    }
  });
}
