import { type RunOptions, run } from "@weft/core";
import { test } from "vitest";
import { MockClock } from "./mock-clock.ts";

export interface WeftTestOptions extends RunOptions {
  /** Real milliseconds before vitest fails the test (default: vitest's testTimeout). */
  timeout?: number;
}

/**
 * Runs `body` as the main task of a run on a `MockClock` with
 * `autojumpThreshold: 0` (virtual time jumps as soon as every task is blocked),
 * unless `options.clock` says otherwise.
 */
export function weftRun<T>(body: () => Promise<T>, options: RunOptions = {}): Promise<T> {
  return run(body, { ...options, clock: options.clock ?? new MockClock({ autojumpThreshold: 0 }) });
}

/**
 * A vitest test whose body runs inside `weftRun`:
 *
 * ```ts
 * weftTest("times out after an hour", async () => {
 *   await expect(failAfter(3_600_000, sleepForever)).rejects.toThrow(TooSlowError);
 * });
 * ```
 */
export function weftTest(
  name: string,
  body: () => Promise<unknown>,
  options: WeftTestOptions = {},
): void {
  const { timeout, ...runOptions } = options;
  test(name, () => weftRun(body, runOptions).then(() => undefined), timeout);
}
