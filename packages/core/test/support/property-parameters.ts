import type fc from "fast-check";

/**
 * fast-check parameters shared by the property tests. `WEFT_PROPERTY_RUNS`
 * overrides the number of runs; `WEFT_PROPERTY_SEED` / `WEFT_PROPERTY_PATH`
 * replay a reported failure. A run that hangs costs its watchdog at every
 * shrinking step, so shrinking stops (reporting what was found) after a minute.
 */
export function propertyParameters(defaultRuns: number): {
  numRuns: number;
  parameters: fc.Parameters<unknown>;
  timeout: { timeout: number };
} {
  const replay: fc.Parameters<unknown> =
    process.env.WEFT_PROPERTY_SEED === undefined
      ? {}
      : {
          seed: Number(process.env.WEFT_PROPERTY_SEED),
          path: process.env.WEFT_PROPERTY_PATH,
          endOnFailure: true,
        };
  return {
    numRuns: Number(process.env.WEFT_PROPERTY_RUNS ?? defaultRuns),
    parameters: { interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true, ...replay },
    timeout: { timeout: 120_000 },
  };
}
