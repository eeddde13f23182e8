import { type RunOptions, run } from "@weft/core";
import { MockClock } from "@weft/testing";
import { expect } from "vitest";

/** Runs `main` on a virtual clock that jumps as soon as every task is blocked. */
export function runVirtual<T>(main: () => Promise<T>, options: RunOptions = {}): Promise<T> {
  return run(main, { clock: new MockClock({ autojumpThreshold: 0 }), ...options });
}

/** Counts the host timers and immediates currently pending in this process. */
export function pendingHostTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout" || r === "Immediate")
    .length;
}

/** Captures the rejection of `promise` (fails if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

/** What a rejection is expected to match: an error class, or a pattern its message matches. */
export type RejectionMatcher = RegExp | (abstract new (...args: never[]) => unknown);

/**
 * Calls `call`, a function that returns a promise, and checks the weft
 * convention (API.md, "Conventions"): it does not throw synchronously, and the
 * promise it returns rejects with an error matching every one of `expected`.
 * Resolves with the error.
 */
export async function expectRejects(
  call: () => unknown,
  ...expected: RejectionMatcher[]
): Promise<unknown> {
  let returned: unknown;
  try {
    returned = call();
  } catch (error) {
    throw new Error(`expected a rejected promise, but the call threw synchronously: ${error}`, {
      cause: error,
    });
  }
  expect(returned).toBeInstanceOf(Promise);
  const error = await rejection(returned as Promise<unknown>);
  for (const matcher of expected) {
    if (matcher instanceof RegExp) expect((error as Error).message).toMatch(matcher);
    else expect(error).toBeInstanceOf(matcher);
  }
  return error;
}

/** Settles with `promise`, or rejects if it takes longer than `ms` of real time (a hang). */
export function withinRealTime<T>(promise: Promise<T>, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms: a hang`)), ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

/** The error `fn` throws or its promise rejects with (fails if neither happens). */
export async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  let promise: Promise<unknown>;
  try {
    promise = fn();
  } catch (error) {
    return error;
  }
  return rejection(promise);
}

/**
 * Asserts that every function export of `module` (classes aside) is either
 * listed as `synchronous` or, being promise-returning, has a case in each of
 * `tables` (cases whose label starts with `name(`): a new export must be
 * classified, so the rule "a promise-returning function never throws
 * synchronously" keeps being tested as the API grows.
 */
export function expectEveryExportClassified(
  module: Record<string, unknown>,
  synchronous: ReadonlySet<string>,
  tables: Record<string, readonly (readonly [string, ...unknown[]])[]>,
): void {
  for (const [name, value] of Object.entries(module)) {
    if (typeof value !== "function" || /^class\b/.test(Function.prototype.toString.call(value))) {
      continue;
    }
    if (synchronous.has(name)) continue;
    for (const [table, cases] of Object.entries(tables)) {
      expect(
        cases.some(([label]) => label.startsWith(`${name}(`)),
        `${name} is not in the ${table} table`,
      ).toBe(true);
    }
  }
}
