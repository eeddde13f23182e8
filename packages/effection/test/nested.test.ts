/**
 * Bridges nest: weft → Effection → weft → … Values, errors and cancellation
 * cross every level, and cleanup runs innermost first, before the outer call
 * settles.
 */
import { moveOnAfter, type RunOptions, run, sleep, sleepForever } from "@weft/core";
import { runOperation, weftOperation } from "@weft/effection";
import { MockClock } from "@weft/testing";
import { run as effection, sleep as effectionSleep, type Operation, suspend } from "effection";
import fc from "fast-check";
import { describe, expect, test } from "vitest";

const virtual = (): RunOptions => ({
  clock: new MockClock({ autojumpThreshold: 0 }),
  handleSignals: false,
});

type Ending = "value" | "error" | "cancel";

/**
 * A chain of `depth` bridges below level 0 (a weft level); even levels are
 * weft code, odd ones Effection operations. Each level records its finally in
 * `order`; the innermost returns, throws `boom`, or blocks forever.
 */
function chain(depth: number, ending: Ending, order: number[], boom: Error) {
  async function weftLevel(i: number): Promise<string> {
    try {
      if (i === depth) {
        await sleep(1);
        if (ending === "error") throw boom;
        if (ending === "cancel") await sleepForever();
        return `value from level ${i}`;
      }
      return await runOperation(() => effectionLevel(i + 1));
    } finally {
      order.push(i);
    }
  }
  function* effectionLevel(i: number): Operation<string> {
    try {
      if (i === depth) {
        yield* effectionSleep(0);
        if (ending === "error") throw boom;
        if (ending === "cancel") yield* suspend();
        return `value from level ${i}`;
      }
      return yield* weftOperation(() => weftLevel(i + 1), virtual());
    } finally {
      order.push(i);
    }
  }
  return () => weftLevel(0);
}

async function runChain(depth: number, ending: Ending) {
  const order: number[] = [];
  const boom = new Error("boom");
  let outcome: unknown;
  await run(async () => {
    try {
      const main = chain(depth, ending, order, boom);
      // Only around a chain that blocks: on a MockClock with autojump, a weft task
      // waiting for Effection (real time) lets the clock jump to a pending deadline.
      outcome = await (ending === "cancel" ? moveOnAfter(10_000, main) : main());
    } catch (error) {
      outcome = error;
    }
  }, virtual());
  return { order, boom, outcome };
}

describe("nested bridges", () => {
  test("weft → Effection → weft: the value comes through", async () => {
    const value = await run(
      () =>
        runOperation(function* () {
          const inner = yield* weftOperation(async () => {
            await sleep(5);
            return "deep";
          }, virtual());
          return `${inner}!`;
        }),
      virtual(),
    );
    expect(value).toBe("deep!");
  });

  test("Effection → weft → Effection: the value comes through", async () => {
    const value = await effection(function* () {
      return yield* weftOperation(
        () =>
          runOperation(function* () {
            yield* effectionSleep(1);
            return 7;
          }),
        virtual(),
      );
    });
    expect(value).toBe(7);
  });

  test("weft → Effection → weft: an error comes back as the same object", async () => {
    const { boom, outcome, order } = await runChain(2, "error");
    expect(outcome).toBe(boom);
    expect(order).toEqual([2, 1, 0]);
  });

  test("cancelling the outer weft scope cancels the inner weft run; inner finally blocks run first", async () => {
    const { outcome, order } = await runChain(2, "cancel");
    expect(outcome).toBeUndefined(); // moveOnAfter caught its cancellation
    expect(order).toEqual([2, 1, 0]);
  });

  test("property: any depth and ending — the value or the same error, cleanup innermost first", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom<Ending>("value", "error", "cancel"),
        async (depth, ending) => {
          const { boom, outcome, order } = await runChain(depth, ending);
          expect(order).toEqual(Array.from({ length: depth + 1 }, (_, i) => depth - i));
          if (ending === "value") expect(outcome).toBe(`value from level ${depth}`);
          if (ending === "error") expect(outcome).toBe(boom);
          if (ending === "cancel") expect(outcome).toBeUndefined();
        },
      ),
      { numRuns: 40 },
    );
  });
});
