import { checkChoice, checkCount, checkOptionsObject } from "@weft/core/validate";
import * as fc from "fast-check";
import { DeterministicScheduler, type SchedulingMode } from "./deterministic-scheduler.ts";

/** Options of `schedules()`: the size and mode of the generated schedules. */
export interface SchedulesOptions {
  /** Most choice points a generated schedule decides; later ones are FIFO (default 64). */
  maxChoices?: number;
  /** Largest generated choice, taken modulo the number of runnable tasks (default 7). */
  maxChoice?: number;
  /**
   * `"uniform"` (default): choices are drawn uniformly. `"pct"`: each schedule
   * is a PCT run (random priorities and change points, from a generated seed);
   * when it fails, fast-check shrinks toward FIFO by replacing it with the
   * choices it made (then shortening them and lowering each toward 0).
   */
  mode?: SchedulingMode;
}

/**
 * A fast-check arbitrary of fresh {@link DeterministicScheduler}s, for
 * `fc.asyncProperty`. A schedule is a list of choices (one per choice point,
 * taken modulo the number of runnable tasks; choice points past the list run
 * in FIFO order), so it shrinks toward the plain FIFO order: shorter lists and
 * smaller choices. A counterexample prints how to replay it and its trace,
 * those of the failing run: fast-check clones a scheduler before it runs it
 * again (see `DeterministicScheduler`'s `fc.cloneMethod`), as it does while it
 * shrinks the values beside it, so every run has a scheduler of its own.
 *
 * ```ts
 * await fc.assert(fc.asyncProperty(schedules(), async (scheduler) => {
 *   await run(main, { scheduler, clock: new MockClock({ autojumpThreshold: 0 }) });
 * }));
 * ```
 */
export function schedules(options: SchedulesOptions = {}): fc.Arbitrary<DeterministicScheduler> {
  checkOptionsObject("options", options);
  const { maxChoices = 64, maxChoice = 7, mode = "uniform" } = options;
  checkCount("options.maxChoices", maxChoices);
  checkCount("options.maxChoice", maxChoice, { min: 1 });
  checkChoice("options.mode", mode, ["uniform", "pct"]);
  const fromChoices = (choices: readonly number[]) =>
    new DeterministicScheduler({ choices, wrapChoices: true, afterChoices: "fifo" });
  const choiceLists = fc.array(fc.nat({ max: maxChoice }), { maxLength: maxChoices });
  if (mode === "uniform") return choiceLists.map(fromChoices);
  return new PctSchedules(choiceLists, fromChoices);
}

/** Context of a schedule shrunk from a PCT run: the choice list and its shrink context. */
interface ListContext {
  readonly list: number[];
  readonly inner: unknown;
}

function isListContext(context: unknown): context is ListContext {
  return typeof context === "object" && context !== null && "list" in context;
}

/**
 * PCT runs from generated seeds. A failing run shrinks into the choice list
 * it recorded (the same run), which then shrinks like any choice list.
 */
class PctSchedules extends fc.Arbitrary<DeterministicScheduler> {
  readonly lists: fc.Arbitrary<number[]>;
  readonly fromChoices: (choices: readonly number[]) => DeterministicScheduler;

  constructor(
    lists: fc.Arbitrary<number[]>,
    fromChoices: (choices: readonly number[]) => DeterministicScheduler,
  ) {
    super();
    this.lists = lists;
    this.fromChoices = fromChoices;
  }

  generate(mrng: fc.Random): fc.Value<DeterministicScheduler> {
    // The number of choice points of the code under test is unknown: draw
    // PCT's estimate of it (4 to 64) and its depth (2 to 4) per schedule.
    const seed = mrng.nextInt();
    const pctChoicePoints = 2 ** mrng.nextInt(2, 6);
    const pctDepth = mrng.nextInt(2, 4);
    return new fc.Value(
      new DeterministicScheduler({ seed, mode: "pct", pctChoicePoints, pctDepth }),
      undefined,
    );
  }

  canShrinkWithoutContext(_value: unknown): _value is DeterministicScheduler {
    return false;
  }

  shrink(
    value: DeterministicScheduler,
    context: unknown,
  ): fc.Stream<fc.Value<DeterministicScheduler>> {
    if (isListContext(context)) {
      return this.lists.shrink(context.list, context.inner).map(
        (shrunk) =>
          new fc.Value(this.fromChoices(shrunk.value_), {
            list: shrunk.value_,
            inner: shrunk.context,
          }),
      );
    }
    // The recorded run as a choice list (trailing FIFO choices dropped: implied).
    const list = [...value.choices];
    while (list.length > 0 && list[list.length - 1] === 0) list.pop();
    return fc.Stream.of(new fc.Value(this.fromChoices(list), { list, inner: undefined }));
  }
}
