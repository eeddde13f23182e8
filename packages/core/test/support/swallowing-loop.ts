import { CancelScope, checkpoint, Event, isCancelled, openNursery } from "@weft/core";

/**
 * Calls `operation` `iterations` times in a cancelled scope, swallowing each
 * `Cancelled`, while a sibling task counts its own steps; returns how many
 * steps the sibling had taken when the loop ended. Every operation that raises
 * `Cancelled` is a schedule point first (SEMANTICS.md, "Run loop"), so the
 * sibling gets a step per iteration; otherwise the loop starves it. Call it
 * inside a task.
 */
export async function siblingStepsDuringSwallowingLoop(
  operation: () => Promise<unknown>,
  iterations: number,
): Promise<number> {
  let siblingSteps = 0;
  let stepsWhenLoopEnded = -1;
  await openNursery(async (nursery) => {
    const loopDone = new Event();
    nursery.startSoon(async () => {
      while (!loopDone.isSet()) {
        siblingSteps++;
        await checkpoint();
      }
    });
    await new CancelScope().run(async (scope) => {
      scope.cancel();
      for (let i = 0; i < iterations; i++) {
        try {
          await operation();
        } catch (error) {
          if (!isCancelled(error)) throw error;
        }
      }
    });
    stepsWhenLoopEnded = siblingSteps;
    loopDone.set();
  });
  return stepsWhenLoopEnded;
}
