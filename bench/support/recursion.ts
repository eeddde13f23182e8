/**
 * effection-recursion's plain-async body, shared by raw and weft (weft's idiom
 * is native async/await, so inside `run()` the recursion is the same code):
 * depth `depth` of nested calls, the innermost awaiting `AWAITS` resolved
 * promises; `counter.count` counts levels entered and awaits done.
 */

/** effection-recursion's awaits at the bottom, and effection-events' events per run. */
export const AWAITS = 100;
export const EVENTS = 100;

export async function recurse(depth: number, counter: { count: number }): Promise<void> {
  counter.count++;
  if (depth > 1) {
    await recurse(depth - 1, counter);
  } else {
    for (let i = 0; i < AWAITS; i++) {
      await Promise.resolve();
      counter.count++;
    }
  }
}
