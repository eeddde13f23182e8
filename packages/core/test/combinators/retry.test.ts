/**
 * retry: backoff, jitter, attempts, retryIf, hooks, Cancelled and deadlines —
 * all on a MockClock that jumps when every task is blocked, so every delay is
 * exact virtual time.
 */
import {
  CancelScope,
  currentTime,
  ExceptionGroup,
  failAfter,
  isCancelled,
  moveOnAfter,
  openNursery,
  retry,
  sleep,
  TooSlowError,
} from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";
import { propertyParameters } from "../support/property-parameters.ts";

/** A function for retry() that fails `failures` times, then returns "done"; it records when it was called. */
function flaky(failures: number) {
  const calls: { attempt: number; at: number }[] = [];
  const errors: Error[] = [];
  const fn = async (attempt: number): Promise<string> => {
    calls.push({ attempt, at: currentTime() });
    if (calls.length <= failures) {
      const error = new Error(`failure ${calls.length}`);
      errors.push(error);
      throw error;
    }
    return "done";
  };
  return { fn, calls, errors };
}

/** The gaps between successive calls. */
function gaps(calls: { at: number }[]): number[] {
  return calls.slice(1).map((call, i) => call.at - calls[i]!.at);
}

describe("retry: backoff and jitter", () => {
  test('with jitter "none" the delays are initialDelay * factor^(n-1), capped by maxDelay', async () => {
    await runVirtual(async () => {
      const { fn, calls } = flaky(5);
      const value = await retry(fn, {
        attempts: 6,
        initialDelay: 100,
        factor: 3,
        maxDelay: 2000,
        jitter: "none",
      });
      expect(value).toBe("done");
      expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(gaps(calls)).toEqual([100, 300, 900, 2000, 2000]);
    });
  });

  test('jitter "full" (the default) draws each delay as random() * backoff', async () => {
    await runVirtual(async () => {
      const { fn, calls } = flaky(3);
      const draws = [0.5, 0.25, 1];
      await retry(fn, { attempts: 4, random: () => draws.shift()! });
      // Defaults: initialDelay 100, factor 2 → backoffs 100, 200, 400.
      expect(gaps(calls)).toEqual([50, 50, 400]);
    });
  });

  test("the defaults: 3 attempts, then the last error itself (the same object)", async () => {
    await runVirtual(async () => {
      const { fn, calls, errors } = flaky(10);
      const error = await rejection(retry(fn, { random: () => 1 }));
      expect(calls.length).toBe(3);
      expect(error).toBe(errors[2]);
      expect(gaps(calls)).toEqual([100, 200]);
      // Nothing is attached to the error.
      expect(Object.keys(error as object)).toEqual([]);
    });
  });

  test("success after failures resolves with the value; success at once sleeps not at all", async () => {
    await runVirtual(async () => {
      const { fn, calls } = flaky(2);
      expect(await retry(fn, { jitter: "none" })).toBe("done");
      expect(calls.length).toBe(3);
      const start = currentTime();
      expect(await retry(async () => 42)).toBe(42);
      expect(currentTime()).toBe(start);
    });
  });

  test("attempts: 1 calls once and rethrows", async () => {
    await runVirtual(async () => {
      const { fn, calls, errors } = flaky(1);
      expect(await rejection(retry(fn, { attempts: 1 }))).toBe(errors[0]);
      expect(calls.length).toBe(1);
    });
  });

  test("a synchronous throw from fn is a failed attempt too", async () => {
    await runVirtual(async () => {
      let calls = 0;
      const value = await retry(
        (attempt) => {
          calls++;
          if (attempt === 1) throw new Error("sync");
          return Promise.resolve(attempt);
        },
        { jitter: "none", initialDelay: 5 },
      );
      expect(value).toBe(2);
      expect(calls).toBe(2);
    });
  });

  test("onRetry sees each error, the attempt and the delay, before the sleep", async () => {
    await runVirtual(async () => {
      const { fn, errors } = flaky(2);
      const seen: [unknown, number, number, number][] = [];
      await retry(fn, {
        jitter: "none",
        onRetry: (error, attempt, delay) => seen.push([error, attempt, delay, currentTime()]),
      });
      expect(seen).toEqual([
        [errors[0], 1, 100, 0],
        [errors[1], 2, 200, 100],
      ]);
    });
  });

  test("delayFor overrides the delay (capped by maxDelay); undefined keeps the backoff", async () => {
    await runVirtual(async () => {
      const { fn, calls } = flaky(3);
      const backoffs: number[] = [];
      await retry(fn, {
        attempts: 4,
        jitter: "none",
        maxDelay: 1000,
        delayFor: (_error, attempt, backoff) => {
          backoffs.push(backoff);
          return attempt === 1 ? 7 : attempt === 2 ? undefined : 5000;
        },
      });
      expect(backoffs).toEqual([100, 200, 400]);
      expect(gaps(calls)).toEqual([7, 200, 1000]);
    });
  });

  test("a bad number from random() or delayFor rejects retry with a RangeError naming it", async () => {
    await runVirtual(async () => {
      const failing = async () => {
        throw new Error("no");
      };
      const fromRandom = await rejection(retry(failing, { random: () => 2 }));
      expect(fromRandom).toBeInstanceOf(RangeError);
      expect((fromRandom as Error).message).toMatch(/options\.random/);
      const fromDelayFor = await rejection(retry(failing, { delayFor: () => -1 }));
      expect(fromDelayFor).toBeInstanceOf(RangeError);
      expect((fromDelayFor as Error).message).toMatch(/options\.delayFor/);
    });
  });
});

describe("retry: what is retried", () => {
  test("retryIf false stops at once with that error", async () => {
    await runVirtual(async () => {
      const { fn, calls, errors } = flaky(10);
      const asked: number[] = [];
      const error = await rejection(
        retry(fn, {
          attempts: 10,
          retryIf: (_error, attempt) => {
            asked.push(attempt);
            return attempt < 2;
          },
        }),
      );
      expect(error).toBe(errors[1]);
      expect(calls.length).toBe(2);
      expect(asked).toEqual([1, 2]);
      expect(currentTime()).toBeLessThanOrEqual(100);
    });
  });

  test("a Cancelled from fn is never retried, and retryIf is not asked", async () => {
    await runVirtual(async () => {
      let calls = 0;
      let asked = 0;
      const scope = new CancelScope();
      await scope.run(() =>
        retry(
          async () => {
            calls++;
            scope.cancel();
            await sleep(1); // raises Cancelled
          },
          { attempts: Infinity, retryIf: () => ++asked > 0 },
        ),
      );
      expect(scope.cancelledCaught).toBe(true);
      expect(calls).toBe(1);
      expect(asked).toBe(0);
    });
  });

  test("a plain error after the scope was cancelled: the Cancelled propagates, not the error, and onRetry is not called", async () => {
    await runVirtual(async () => {
      let calls = 0;
      let retried = 0;
      const scope = new CancelScope();
      await scope.run(() =>
        retry(
          async () => {
            calls++;
            scope.cancel();
            throw new Error("failed without a checkpoint");
          },
          { attempts: 5, onRetry: () => retried++ },
        ),
      );
      expect(scope.cancelledCaught).toBe(true);
      expect(calls).toBe(1);
      expect(retried).toBe(0);
    });
  });

  test("an ExceptionGroup holding a Cancelled is never retried either", async () => {
    await runVirtual(async () => {
      let calls = 0;
      const scope = new CancelScope();
      await scope
        .run(() =>
          retry(
            () =>
              openNursery(async (nursery) => {
                calls++;
                nursery.startSoon(async () => {
                  throw new Error("child failed");
                });
                nursery.startSoon(async () => {
                  scope.cancel();
                  await sleep(10);
                });
              }),
            { attempts: 5, initialDelay: 0 },
          ),
        )
        .catch((error: unknown) => {
          expect(error).toBeInstanceOf(ExceptionGroup);
        });
      expect(calls).toBe(1);
    });
  });

  test("cancelled during the sleep between attempts: Cancelled propagates at once, fn is not called again", async () => {
    await runVirtual(async () => {
      const { fn, calls } = flaky(10);
      let caught: unknown = null;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          try {
            await retry(fn, { attempts: Infinity, jitter: "none", initialDelay: 1000 });
          } catch (error) {
            caught = error;
            throw error;
          }
        });
        await sleep(1500); // during the second sleep (1000 → 3000)
        nursery.cancelScope.cancel();
      });
      expect(isCancelled(caught)).toBe(true);
      expect(currentTime()).toBe(1500);
      expect(calls.length).toBe(2);
    });
  });
});

describe("retry: deadlines", () => {
  test("gives up with the last error when the next sleep would pass a moveOnAfter deadline", async () => {
    await runVirtual(async () => {
      const { fn, calls, errors } = flaky(10);
      let caught: unknown = null;
      const result = await moveOnAfter(1000, async () => {
        caught = await rejection(retry(fn, { attempts: 10, jitter: "none", initialDelay: 200 }));
        return "gave up";
      });
      // Calls at 0, 200, 600; the next sleep (800) would end at 1400 > 1000.
      expect(result).toBe("gave up");
      expect(calls.map((c) => c.at)).toEqual([0, 200, 600]);
      expect(caught).toBe(errors[2]);
      expect(currentTime()).toBe(600);
    });
  });

  test("under failAfter the last error comes out, not TooSlowError", async () => {
    await runVirtual(async () => {
      const { fn, errors } = flaky(10);
      const error = await rejection(
        failAfter(500, () => retry(fn, { attempts: 10, jitter: "none", initialDelay: 200 })),
      );
      expect(error).not.toBeInstanceOf(TooSlowError);
      expect(error).toBe(errors[1]); // calls at 0 and 200; 200 + 400 > 500
      expect(currentTime()).toBe(200);
    });
  });

  test("a sleep that would end exactly at the deadline is not taken", async () => {
    await runVirtual(async () => {
      const { fn, calls } = flaky(10);
      await moveOnAfter(100, () =>
        rejection(retry(fn, { attempts: 10, jitter: "none", initialDelay: 100 })),
      );
      expect(calls.length).toBe(1);
    });
  });

  test("attempts: Infinity ends at the deadline, with the last error", async () => {
    await runVirtual(async () => {
      const { fn, calls, errors } = flaky(Infinity);
      const error = await rejection(
        failAfter(10_000, () =>
          retry(fn, { attempts: Infinity, jitter: "none", initialDelay: 10, maxDelay: 500 }),
        ),
      );
      expect(error).toBe(errors.at(-1));
      expect(currentTime()).toBeLessThan(10_000);
      expect(calls.length).toBeGreaterThan(20);
    });
  });

  test("a shield hides the outer deadline (currentEffectiveDeadline)", async () => {
    await runVirtual(async () => {
      const { fn, calls } = flaky(3);
      await moveOnAfter(100, async () => {
        const value = await new CancelScope({ shield: true }).run(() =>
          retry(fn, { attempts: 4, jitter: "none" }),
        );
        expect(value).toBe("done");
      });
      expect(calls.length).toBe(4);
    });
  });
});

describe("retry: property", () => {
  const { numRuns, parameters, timeout } = propertyParameters(100);
  test(
    "delays stay within [0, min(maxDelay, initialDelay * factor^(n-1))] and never pass the deadline",
    timeout,
    async () => {
      const options = fc.record({
        attempts: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constant(Infinity)),
        initialDelay: fc.integer({ min: 0, max: 1000 }),
        maxDelay: fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.constant(Infinity)),
        factor: fc.double({ min: 1, max: 5, noNaN: true }),
        jitter: fc.constantFrom("full" as const, "none" as const),
        seed: fc.integer(),
      });
      const deadline = fc.oneof(fc.integer({ min: 0, max: 50_000 }), fc.constant(Infinity));
      await fc.assert(
        fc.asyncProperty(options, deadline, async ({ seed, ...generated }, timeout) => {
          const o = { ...generated };
          let limit = timeout;
          if (o.attempts === Infinity) {
            // Endless attempts need a deadline to end, and time must move.
            limit = Math.min(limit, 20_000);
            o.initialDelay = Math.max(o.initialDelay, 1);
            o.maxDelay = Math.max(o.maxDelay, 100);
          }
          let state = seed >>> 0;
          const random = () => {
            state = (state * 1103515245 + 12345) % 2147483648;
            return state / 2147483648;
          };
          await runVirtual(async () => {
            const delays: [number, number][] = [];
            const { fn, calls } = flaky(Infinity);
            await moveOnAfter(limit, () =>
              rejection(
                retry(fn, {
                  ...o,
                  random,
                  onRetry: (_error, attempt, delay) => delays.push([attempt, delay]),
                }),
              ),
            );
            // Every sleep ended before the deadline: no call happened at or after it.
            if (limit > 0) expect(currentTime()).toBeLessThan(limit);
            else expect(currentTime()).toBe(0);
            for (const [attempt, delay] of delays) {
              const bound =
                o.initialDelay === 0
                  ? 0
                  : Math.min(o.maxDelay, o.initialDelay * o.factor ** (attempt - 1));
              expect(delay).toBeGreaterThanOrEqual(0);
              expect(delay).toBeLessThanOrEqual(bound);
              if (o.jitter === "none") expect(delay).toBe(bound);
            }
            if (o.attempts !== Infinity) expect(calls.length).toBeLessThanOrEqual(o.attempts);
            expect(delays.length).toBe(calls.length - 1);
          });
        }),
        { numRuns, ...parameters },
      );
    },
  );
});
