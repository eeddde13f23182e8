/**
 * The determinism check (madsim's CHECK_DETERMINISM): a scenario run twice
 * with the same seed must leave the same trace, line for line. Anything that
 * escapes the simulation's control — a real timer, real I/O, `Math.random` —
 * shows up as a divergence, reported with the first line where the runs part.
 */
import {
  checkArray,
  checkFinite,
  checkFunction,
  checkOptionsObject,
  describeValue,
} from "@weft/core/validate";
import { Simulation } from "./simulation.ts";

/** Options of {@link checkDeterminism}. */
export interface CheckDeterminismOptions {
  /** The seeds to try (default: 1 to 10). */
  seeds?: readonly number[];
}

/** A scenario was not deterministic: two runs with one seed left different traces. */
export class NondeterminismError extends Error {
  /** The seed whose two runs differed. */
  readonly seed: number;
  /** The index of the first trace line that differs. */
  readonly line: number;

  constructor(seed: number, line: number, first: string | undefined, second: string | undefined) {
    super(
      `seed ${seed}: the runs diverge at trace line ${line}: first run ${JSON.stringify(first ?? "(end)")}, second run ${JSON.stringify(second ?? "(end)")}`,
    );
    this.name = "NondeterminismError";
    this.seed = seed;
    this.line = line;
  }
}

/**
 * Builds and runs the scenario twice for each seed (`build(seed)` must return
 * a fresh, unrun `Simulation`) and rejects with {@link NondeterminismError} at
 * the first divergence of their traces; resolves with the number of seeds
 * checked.
 */
export async function checkDeterminism(
  build: (seed: number) => Simulation,
  options: CheckDeterminismOptions = {},
): Promise<number> {
  checkFunction("build", build);
  checkOptionsObject("options", options);
  const seeds = options?.seeds ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  checkArray("options.seeds", seeds);
  if (seeds.length === 0) throw new RangeError("options.seeds must name at least one seed");
  for (const [i, seed] of seeds.entries()) checkFinite(`options.seeds[${i}]`, seed);
  const built = (seed: number): Simulation => {
    const sim = build(seed);
    if (!(sim instanceof Simulation)) {
      throw new TypeError(`build(${seed}) must return a new Simulation, got ${describeValue(sim)}`);
    }
    return sim;
  };
  for (const seed of seeds) {
    const first = built(seed);
    await first.run();
    const second = built(seed);
    // The same object twice would compare a run with itself.
    if (second === first)
      throw new TypeError(`build(${seed}) must return a new Simulation each time`);
    await second.run();
    const [a, b] = [first.trace, second.trace];
    const length = Math.max(a.length, b.length);
    for (let line = 0; line < length; line++) {
      if (a[line] !== b[line]) throw new NondeterminismError(seed, line, a[line], b[line]);
    }
  }
  return seeds.length;
}
