/**
 * Shared pieces of the fault-injection properties (issue 20): a ledger that
 * programs written for the test fill as they enter and finish `try` blocks
 * and raise errors, and the checks every faulted run must pass.
 */
import { ExceptionGroup, InternalError, isCancelled, run, UsageError } from "@weft/core";
import { expect } from "vitest";
import {
  type CancellationFault,
  CancellationInjector,
  type DeterministicScheduler,
  MockClock,
} from "../../src/index.ts";

/**
 * fast-check parameters of a fault property: `defaultRuns` runs, or
 * `WEFT_FAULT_RUNS` for a long run; `WEFT_FAULT_SEED` replays a reported seed.
 */
export function faultRuns(defaultRuns: number): { numRuns: number; seed?: number } {
  const runs = Number(process.env.WEFT_FAULT_RUNS ?? Number.NaN);
  const seed = Number(process.env.WEFT_FAULT_SEED ?? Number.NaN);
  return {
    numRuns: Number.isSafeInteger(runs) && runs > 0 ? runs : defaultRuns,
    ...(Number.isSafeInteger(seed) ? { seed } : {}),
  };
}

/** A fault property's timeout: vitest's default, or an hour for a long run (`WEFT_FAULT_RUNS`). */
export const faultTimeout = process.env.WEFT_FAULT_RUNS === undefined ? 20_000 : 3_600_000;

/** What a program written for the test did: try blocks entered and finished, errors raised. */
export class Ledger {
  entered = 0;
  finished = 0;
  /** Every error the program threw on purpose, in order. */
  readonly raised: Error[] = [];

  /** Runs `fn` in a try block whose `finally` is counted. */
  async guarded<T>(fn: () => Promise<T>): Promise<T> {
    this.entered++;
    try {
      return await fn();
    } finally {
      this.finished++;
    }
  }

  /** Throws a new error, recorded as raised. */
  raise(message: string): never {
    const error = new Error(message);
    this.raised.push(error);
    throw error;
  }
}

/** Every leaf of `error` (the error itself when it is no group). */
export function leavesOf(error: unknown): unknown[] {
  return error instanceof ExceptionGroup ? error.leafErrors() : [error];
}

/** How a run ended. */
export type RunResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/** Resource counts a run must leave as it found them: host timers and immediates, sockets. */
export function hostResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (!/^(Timeout|Immediate|TCP|Pipe|UDP)/.test(kind)) continue;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

/** Runs `main` under `scheduler`, a `MockClock` and a `CancellationInjector` of `faults`. */
export async function runWithFaults(
  main: () => Promise<unknown>,
  scheduler: DeterministicScheduler,
  faults: readonly CancellationFault[],
): Promise<{ result: RunResult; injector: CancellationInjector }> {
  const injector = new CancellationInjector(faults);
  const before = hostResources();
  let result: RunResult;
  try {
    const value = await run(main, {
      scheduler,
      clock: new MockClock({ autojumpThreshold: 0 }),
      instruments: [injector],
      handleSignals: false,
    });
    result = { ok: true, value };
  } catch (error) {
    result = { ok: false, error };
  }
  checkHostResources(before);
  return { result, injector };
}

/** No timer, immediate or socket of the run outlives it (others' may end meanwhile). */
export function checkHostResources(before: ReadonlyMap<string, number>): void {
  for (const [kind, count] of hostResources()) {
    expect(
      count,
      `${kind} resources after run(), of ${before.get(kind) ?? 0} before`,
    ).toBeLessThanOrEqual(before.get(kind) ?? 0);
  }
}

/**
 * The invariants of every faulted run: no task and no cancel scope outlives
 * `run()`; `run()` never rejects with a `Cancelled` (bare or in a group), a
 * `UsageError` (the "a Cancelled escaped" one among them) or an
 * `InternalError`.
 */
export function checkRunInvariants(result: RunResult, injector: CancellationInjector): void {
  expect(injector.liveTasks, "tasks living after run()").toBe(0);
  expect(injector.openScopes, "cancel scopes open after run()").toBe(0);
  if (result.ok) return;
  for (const leaf of leavesOf(result.error)) {
    expect(isCancelled(leaf), `a Cancelled escaped run(): ${String(leaf)}`).toBe(false);
    expect(leaf).not.toBeInstanceOf(UsageError);
    expect(leaf).not.toBeInstanceOf(InternalError);
  }
}

/**
 * The ledger's invariants: every `finally` entered ran, and every error the
 * program raised comes out of `run()` exactly once (nothing lost, nothing
 * duplicated), with nothing else beside it but errors of `allowed` classes.
 */
export function checkLedger(
  ledger: Ledger,
  result: RunResult,
  allowed: readonly (abstract new (...args: never[]) => unknown)[] = [],
): void {
  expect(ledger.finished, "finally blocks that ran, of those entered").toBe(ledger.entered);
  const leaves = result.ok ? [] : leavesOf(result.error);
  for (const error of ledger.raised) {
    expect(
      leaves.filter((leaf) => leaf === error),
      `how often ${error.message} came out of run()`,
    ).toHaveLength(1);
  }
  for (const leaf of leaves) {
    if (ledger.raised.includes(leaf as Error)) continue;
    expect(
      allowed.some((kind) => leaf instanceof kind),
      `an error the program did not raise: ${String(leaf)}`,
    ).toBe(true);
  }
}

/** Runs the checks; a failure's message ends with what the injector cancelled, for the report. */
export function withReport(injector: CancellationInjector, checks: () => void): void {
  try {
    checks();
  } catch (error) {
    if (error instanceof Error) error.message += `\n${String(injector)}`;
    throw error;
  }
}
