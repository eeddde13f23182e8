/**
 * runOperation: a weft task awaits an Effection operation; weft cancellation
 * halts it, and its cleanup is over before the weft call settles.
 */
import {
  CancelScope,
  cancellable,
  currentTime,
  failAfter,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
  TooSlowError,
} from "@weft/core";
import { runOperation } from "@weft/effection";
import { assertCheckpoints, MockClock } from "@weft/testing";
import { call, type Operation, sleep, spawn, suspend } from "effection";
import { describe, expect, test } from "vitest";

const virtual = () => ({ clock: new MockClock({ autojumpThreshold: 0 }), handleSignals: false });

/** An operation that says it started, then suspends forever, recording its finally. */
function* suspended(order: string[], started: () => void): Operation<never> {
  try {
    started();
    yield* suspend();
    throw new Error("unreachable");
  } finally {
    order.push("effection finally");
  }
}

describe("runOperation: results", () => {
  test("resolves with the operation's value", async () => {
    const value = await run(
      () =>
        runOperation(function* () {
          yield* sleep(1);
          return 42;
        }),
      virtual(),
    );
    expect(value).toBe(42);
  });

  test("an operation that returns at once (call of a plain value) resolves too", async () => {
    expect(await run(() => runOperation(() => call(() => "now")), virtual())).toBe("now");
  });

  test("the operation's error comes back as the same object", async () => {
    const boom = new Error("boom");
    const caught = await run(async () => {
      try {
        await runOperation(function* () {
          yield* sleep(0);
          throw boom;
        });
      } catch (error) {
        return error;
      }
    }, virtual());
    expect(caught).toBe(boom);
  });

  test("a spawned child's error comes back as the same object", async () => {
    const boom = new Error("child");
    const caught = await run(async () => {
      try {
        await runOperation(function* () {
          yield* spawn(function* () {
            yield* sleep(0);
            throw boom;
          });
          yield* suspend();
        });
      } catch (error) {
        return error;
      }
    }, virtual());
    expect(caught).toBe(boom);
  });

  test("runOperation is a checkpoint", async () => {
    await run(() => assertCheckpoints(() => runOperation(() => call(() => 1))), virtual());
  });

  test("Effection code runs outside weft's task context: weft calls there are refused", async () => {
    const message = await run(
      () =>
        runOperation(function* () {
          yield* sleep(0);
          try {
            currentTime();
            return "not refused";
          } catch (error) {
            return (error as Error).message;
          }
        }),
      virtual(),
    );
    expect(message).toMatch(/must be called inside weft's run\(\)/);
  });
});

describe("runOperation: bad arguments", () => {
  test("a non-function operation is a TypeError naming it, as a rejection", async () => {
    await run(async () => {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = runOperation(42 as unknown as () => Operation<number>);
      }).not.toThrow();
      await expect(promise).rejects.toThrow(TypeError);
      await expect(runOperation(null as unknown as () => Operation<number>)).rejects.toThrow(
        /operation/,
      );
    }, virtual());
  });

  test("a function that returns no operation is a TypeError naming operation", async () => {
    await run(async () => {
      const promise = runOperation((() => 42) as unknown as () => Operation<number>);
      await expect(promise).rejects.toThrow(TypeError);
      await expect(runOperation((() => 42) as unknown as () => Operation<number>)).rejects.toThrow(
        /operation must return an Effection operation/,
      );
    }, virtual());
  });

  test("outside run() it rejects with the Error saying so", async () => {
    await expect(runOperation(() => call(() => 1))).rejects.toThrow(/inside weft's run\(\)/);
  });
});

describe("runOperation: cancellation", () => {
  test("in an already cancelled scope it starts nothing and raises Cancelled", async () => {
    let called = false;
    const scope = new CancelScope();
    await run(async () => {
      await scope.run(async () => {
        scope.cancel();
        await runOperation(() => {
          called = true;
          return call(() => 1);
        });
      });
    }, virtual());
    expect(called).toBe(false);
    expect(scope.cancelledCaught).toBe(true);
  });

  test("cancelled while suspended: every finally, children's too, runs before it settles", async () => {
    const order: string[] = [];
    await run(async () => {
      const started = Promise.withResolvers<void>();
      await openNursery(async (nursery) => {
        const scope = new CancelScope();
        nursery.startSoon(async () => {
          try {
            await scope.run(() =>
              runOperation(function* () {
                yield* spawn(function* () {
                  try {
                    yield* suspend();
                  } finally {
                    yield* sleep(1);
                    order.push("child finally");
                  }
                });
                return yield* suspended(order, started.resolve);
              }),
            );
          } finally {
            order.push("settled");
          }
        });
        await cancellable(started.promise);
        scope.cancel();
      });
    }, virtual());
    expect(order).toHaveLength(3);
    expect(order).toContain("child finally");
    expect(order).toContain("effection finally");
    expect(order.at(-1)).toBe("settled");
  });

  test("it raises weft's Cancelled, caught by the cancelled scope", async () => {
    const scope = new CancelScope();
    let error: unknown;
    await run(async () => {
      await scope.run(async () => {
        try {
          await runOperation(function* () {
            scope.cancel();
            yield* suspend();
          });
        } catch (e) {
          error = e;
          throw e;
        }
      });
    }, virtual());
    expect(isCancelled(error)).toBe(true);
    expect(scope.cancelledCaught).toBe(true);
  });

  test("a finally that itself waits has finished before the call settles", async () => {
    const order: string[] = [];
    await run(async () => {
      await moveOnAfter(1000, async () => {
        try {
          await runOperation(function* () {
            try {
              yield* suspend();
            } finally {
              order.push("cleanup started");
              yield* sleep(3);
              yield* call(() => Promise.resolve());
              order.push("cleanup done");
            }
          });
        } finally {
          order.push("settled");
        }
      });
    }, virtual());
    expect(order).toEqual(["cleanup started", "cleanup done", "settled"]);
  });

  test("moveOnAfter around it: the deadline halts it and the scope moves on", async () => {
    const order: string[] = [];
    const result = await run(async () => {
      const outcome = await moveOnAfter(5_000, async (scope) => {
        await runOperation(() => suspended(order, () => order.push("started")));
        return scope;
      });
      order.push(`after at ${currentTime()}`);
      return outcome;
    }, virtual());
    expect(result).toBeUndefined();
    expect(order).toEqual(["started", "effection finally", "after at 5000"]);
  });

  test("failAfter around it: TooSlowError, after the Effection cleanup", async () => {
    const order: string[] = [];
    const error = await run(async () => {
      try {
        await failAfter(250, () => runOperation(() => suspended(order, () => {})));
      } catch (e) {
        order.push("caught");
        return e;
      }
    }, virtual());
    expect(error).toBeInstanceOf(TooSlowError);
    expect(order).toEqual(["effection finally", "caught"]);
  });

  test("an error thrown by a finally while halting replaces Cancelled (same object)", async () => {
    const cleanup = new Error("cleanup failed");
    const caught = await run(async () => {
      try {
        await moveOnAfter(10, () =>
          runOperation(function* () {
            try {
              yield* suspend();
            } finally {
              yield* sleep(0);
              // biome-ignore lint/correctness/noUnsafeFinally: the case under test
              throw cleanup;
            }
          }),
        );
      } catch (error) {
        return error;
      }
    }, virtual());
    expect(caught).toBe(cleanup);
  });

  test("a shielded scope is not cancelled: the operation runs to the end", async () => {
    const value = await run(async () => {
      const outer = new CancelScope();
      return outer.run(async () => {
        outer.cancel();
        return new CancelScope({ shield: true }).run(() =>
          runOperation(function* () {
            yield* sleep(2);
            return "finished";
          }),
        );
      });
    }, virtual());
    expect(value).toBe("finished");
  });
});
