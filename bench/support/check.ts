/** Correctness checks inside runners, beyond the harness's `check` comparison. */

/** Throws when `condition` is false: a runner that did the wrong work must not be timed. */
export function assert(condition: boolean, message: string): void {
  if (!condition) throw new Error(`correctness check failed: ${message}`);
}
