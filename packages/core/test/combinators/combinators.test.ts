import {
  Cancelled,
  CancelScope,
  capture,
  currentTime,
  ExceptionGroup,
  gather,
  isCancelled,
  mapConcurrent,
  moveOnAfter,
  openNursery,
  race,
  sleep,
  sleepForever,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";

const bad = <T>(value: unknown) => value as T;

/** Awaits inside a shielded scope: the cleanup a cancelled task can still await. */
async function cleanUp(ms: number): Promise<void> {
  await new CancelScope({ shield: true }).run(() => sleep(ms));
}

/** Sleeps `ms`, then returns `value`. */
async function after<T>(ms: number, value: T): Promise<T> {
  await sleep(ms);
  return value;
}

describe("gather", () => {
  test("resolves with the results in argument order, as a typed tuple", async () => {
    await runVirtual(async () => {
      const finished: string[] = [];
      const results: [number, string, boolean] = await gather(
        async () => {
          await sleep(30);
          finished.push("number");
          return 1;
        },
        async () => {
          await sleep(10);
          finished.push("string");
          return "two";
        },
        async () => true,
      );
      expect(results).toEqual([1, "two", true]);
      expect(finished).toEqual(["string", "number"]); // completion order is not result order
      // Compile-time check (tsc): the tuple is typed element by element, not any[].
      // @ts-expect-error the second element is a string
      const wrong: [number, number, boolean] = results;
      expect(wrong).toBe(results);
    });
  });

  test("runs the functions concurrently: it takes as long as the slowest, not the sum", async () => {
    await runVirtual(async () => {
      const start = currentTime();
      await gather(
        () => sleep(30),
        () => sleep(10),
        () => sleep(20),
      );
      expect(currentTime() - start).toBe(30);
    });
  });

  test("the first failure cancels the others and waits for them: their finally ran before gather rejects", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const boom = new Error("boom");
      const error = await rejection(
        gather(
          async () => {
            try {
              await sleepForever();
            } finally {
              await cleanUp(5);
              log.push(`a cleaned up at ${currentTime()}`);
            }
          },
          async () => {
            await sleep(10);
            throw boom;
          },
          async () => {
            try {
              return await after(100, "c");
            } catch (e) {
              log.push(`c saw ${isCancelled(e) ? "Cancelled" : String(e)} at ${currentTime()}`);
              throw e;
            }
          },
        ),
      );
      log.push(`gather rejected at ${currentTime()}`);
      expect(error).toBe(boom);
      expect(log).toEqual(["c saw Cancelled at 10", "a cleaned up at 15", "gather rejected at 15"]);
    });
  });

  test("a single failure is rethrown as itself, not wrapped in a group", async () => {
    await runVirtual(async () => {
      const boom = new TypeError("boom");
      const error = await rejection(
        gather(
          () => after(5, "fine"),
          async () => {
            await sleep(10);
            throw boom;
          },
        ),
      );
      expect(error).toBe(boom);
      expect(error).not.toBeInstanceOf(ExceptionGroup);
    });
  });

  test("several failures come out as one ExceptionGroup of exactly those errors, with no Cancelled inside", async () => {
    await runVirtual(async () => {
      const a = new Error("a");
      const b = new Error("b");
      const c = new Error("c raised while being cancelled");
      const error = await rejection(
        gather(
          async () => {
            throw a;
          },
          async () => {
            throw b;
          },
          async () => {
            try {
              await sleepForever();
            } catch {
              throw c;
            }
          },
          () => sleepForever(), // cancelled: its Cancelled must not show up
        ),
      );
      expect(error).toBeInstanceOf(ExceptionGroup);
      const leaves = (error as ExceptionGroup).leafErrors();
      expect(leaves).toHaveLength(3);
      expect(new Set(leaves)).toEqual(new Set([a, b, c]));
      expect(leaves.some((e) => e instanceof Cancelled)).toBe(false);
    });
  });

  test("gather() with no functions resolves with []", async () => {
    await runVirtual(async () => {
      const results: [] = await gather();
      expect(results).toEqual([]);
    });
  });

  test("a cancellation from outside propagates out of gather and is caught by the cancelled scope", async () => {
    await runVirtual(async () => {
      let seen: unknown;
      let after = false;
      const finallyRan: number[] = [];
      let timeout: CancelScope | undefined;
      const value = await moveOnAfter(10, async (scope) => {
        timeout = scope;
        try {
          await gather(
            async () => {
              try {
                await sleep(100);
              } finally {
                finallyRan.push(1);
              }
            },
            async () => {
              try {
                await sleep(200);
              } finally {
                finallyRan.push(2);
              }
            },
          );
          after = true;
        } catch (error) {
          seen = error;
          throw error;
        }
        return "finished";
      });
      expect(value).toBeUndefined();
      expect(timeout?.cancelledCaught).toBe(true);
      expect(after).toBe(false);
      expect(finallyRan.sort()).toEqual([1, 2]);
      // What passes through code between gather and the scope: Cancelled, or a
      // group made only of Cancelled (one per child), which isCancelled accepts.
      expect(isCancelled(seen)).toBe(true);
      expect(currentTime()).toBe(10);
    });
  });

  test("bad input: a non-function rejects with a TypeError naming fns[i]", async () => {
    await runVirtual(async () => {
      type Fn = () => Promise<unknown>;
      const ok = async () => 1;
      await expectRejects(() => gather(bad<Fn>(42)), TypeError);
      await expectRejects(() => gather(bad<Fn>(42)), /fns\[0\]/);
      await expectRejects(() => gather(ok, bad<Fn>(null)), /fns\[1\]/);
      await expectRejects(() => gather(ok, ok, bad<Fn>("f")), /fns\[2\]/);
    });
  });
});

describe("race", () => {
  test("the first to finish wins; the losers are cancelled and awaited (their finally ran)", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const loser = (name: string, ms: number) => async () => {
        try {
          return await after(ms, name);
        } catch (e) {
          log.push(`${name} saw ${isCancelled(e) ? "Cancelled" : String(e)}`);
          throw e;
        } finally {
          log.push(`${name} finally at ${currentTime()}`);
        }
      };
      const winner = await race(loser("slow", 30), () => after(10, "fast"), loser("mid", 20));
      log.push(`race resolved at ${currentTime()}`);
      expect(winner).toBe("fast");
      // the losers are cancelled in no particular order, but before race resolves
      expect(log.slice(0, 4).sort()).toEqual([
        "mid finally at 10",
        "mid saw Cancelled",
        "slow finally at 10",
        "slow saw Cancelled",
      ]);
      expect(log[4]).toBe("race resolved at 10");
    });
  });

  test("race waits for the losers' cleanup before it resolves", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const winner = await race(
        () => after(10, "winner"),
        // race<T> takes T from every function: a loser that never returns is Promise<never>
        async (): Promise<never> => {
          try {
            return await sleepForever();
          } finally {
            await cleanUp(7);
            log.push(`loser cleaned up at ${currentTime()}`);
          }
        },
      );
      log.push(`race resolved at ${currentTime()}`);
      expect(winner).toBe("winner");
      expect(log).toEqual(["loser cleaned up at 17", "race resolved at 17"]);
    });
  });

  test("a failure before any winner cancels the rest and is thrown as itself", async () => {
    await runVirtual(async () => {
      const boom = new Error("boom");
      const cancelled: string[] = [];
      const error = await rejection(
        race(
          async () => {
            await sleep(10);
            throw boom;
          },
          async () => {
            try {
              return await after(20, "too late");
            } catch (e) {
              if (isCancelled(e)) cancelled.push("slow");
              throw e;
            }
          },
        ),
      );
      expect(error).toBe(boom);
      expect(cancelled).toEqual(["slow"]);
      expect(currentTime()).toBe(10);
    });
  });

  test("errors the losers raise while being cancelled are not lost: race rejects with them", async () => {
    await runVirtual(async () => {
      const cleanupFailed = new Error("cleanup failed");
      const error = await rejection(
        race(
          () => after(10, "winner"),
          async (): Promise<never> => {
            try {
              return await sleepForever();
            } catch {
              throw cleanupFailed;
            }
          },
        ),
      );
      expect(error).toBe(cleanupFailed);

      const x = new Error("x");
      const y = new Error("y");
      const failing = (e: Error) => async (): Promise<never> => {
        try {
          return await sleepForever();
        } catch {
          throw e;
        }
      };
      const group = await rejection(race(() => after(10, "winner"), failing(x), failing(y)));
      expect(group).toBeInstanceOf(ExceptionGroup);
      expect(new Set((group as ExceptionGroup).leafErrors())).toEqual(new Set([x, y]));
    });
  });

  test("race() with no functions rejects with a RangeError; a non-function with a TypeError naming fns[i]", async () => {
    await runVirtual(async () => {
      await expectRejects(() => race(), RangeError);
      await expectRejects(() => race(bad(1)), TypeError);
      await expectRejects(() => race(async () => 1, bad(1)), /fns\[1\]/);
    });
  });
});

describe("mapConcurrent", () => {
  test("keeps the order of the items, whatever the order the calls finish in", async () => {
    await runVirtual(async () => {
      const finished: number[] = [];
      const results = await mapConcurrent(
        [30, 10, 20],
        async (ms) => {
          await sleep(ms);
          finished.push(ms);
          return ms * 2;
        },
        { limit: 3 },
      );
      expect(results).toEqual([60, 20, 40]);
      expect(finished).toEqual([10, 20, 30]);
      expect(currentTime()).toBe(30);
    });
  });

  test("never runs more than `limit` calls at once (and does run `limit` at once)", async () => {
    await runVirtual(async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      const items = Array.from({ length: 10 }, (_, i) => i);
      const results = await mapConcurrent(
        items,
        async (i) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            await sleep(5 + (i % 3) * 5); // uneven durations, so slots free up out of order
            return i;
          } finally {
            inFlight--;
          }
        },
        { limit: 3 },
      );
      expect(results).toEqual(items);
      expect(maxInFlight).toBe(3);
      expect(inFlight).toBe(0);
    });
  });

  test("limit: Infinity runs every call at once", async () => {
    await runVirtual(async () => {
      const start = currentTime();
      const results = await mapConcurrent([10, 20, 30, 40], (ms) => after(ms, ms), {
        limit: Infinity,
      });
      expect(results).toEqual([10, 20, 30, 40]);
      expect(currentTime() - start).toBe(40);
    });
  });

  test.each([
    ["an array", () => ["a", "b", "c"]],
    ["a Set", () => new Set(["a", "b", "c"])],
    [
      "a generator",
      function* () {
        yield "a";
        yield "b";
        yield "c";
      },
    ],
  ] as [string, () => Iterable<string>][])(
    "accepts %s, and passes each item's index",
    async (_label, makeItems) => {
      await runVirtual(async () => {
        const results = await mapConcurrent(
          makeItems(),
          async (item, index) => {
            await sleep(10 - index); // later items finish first
            return `${index}:${item}`;
          },
          { limit: 2 },
        );
        expect(results).toEqual(["0:a", "1:b", "2:c"]);
      });
    },
  );

  test("accepts an async iterable (an async generator that sleeps between items)", async () => {
    await runVirtual(async () => {
      async function* slowItems() {
        for (const word of ["x", "y", "z"]) {
          await sleep(3);
          yield word;
        }
      }
      const results = await mapConcurrent(
        slowItems(),
        async (word, index) => `${index}:${word.toUpperCase()}`,
        { limit: 2 },
      );
      expect(results).toEqual(["0:X", "1:Y", "2:Z"]);
      expect(currentTime()).toBe(9);
    });
  });

  test("reads an async iterable lazily: when the first call finishes, no more than `limit` items have been pulled", async () => {
    await runVirtual(async () => {
      const limit = 3;
      let pulled = 0;
      let pulledWhenFirstFinished = -1;
      async function* items() {
        for (let i = 0; i < 10; i++) {
          await sleep(1);
          pulled++;
          yield i;
        }
      }
      const results = await mapConcurrent(
        items(),
        async (i) => {
          await sleep(100);
          if (pulledWhenFirstFinished === -1) pulledWhenFirstFinished = pulled;
          return i;
        },
        { limit },
      );
      expect(results).toHaveLength(10);
      // `limit` calls are running; an item pulled beyond them would have no slot
      // to run in (and would be lost, taken from its source, if the map failed).
      expect(pulledWhenFirstFinished).toBeLessThanOrEqual(limit);
    });
  });

  test("the first failure cancels the running calls, stops reading items, starts no more calls, and is thrown as itself", async () => {
    await runVirtual(async () => {
      const boom = new Error("boom");
      let pulled = 0;
      let pulledAtFailure = -1;
      let sourceFinished = false;
      const started: number[] = [];
      const cancelled: number[] = [];
      async function* endless() {
        try {
          for (let i = 0; ; i++) {
            pulled++;
            yield i;
          }
        } finally {
          sourceFinished = true;
        }
      }
      const error = await rejection(
        mapConcurrent(
          endless(),
          async (i) => {
            started.push(i);
            try {
              await sleep(10 + i);
              if (i === 1) {
                pulledAtFailure = pulled;
                throw boom;
              }
              return i;
            } catch (e) {
              if (isCancelled(e)) cancelled.push(i);
              throw e;
            }
          },
          { limit: 3 },
        ),
      );
      expect(error).toBe(boom);
      // 0, 1, 2 start at 0; at 10 item 0 finishes and item 3 starts; at 11 item 1 fails
      expect(currentTime()).toBe(11);
      expect(cancelled).toContain(2);
      expect(cancelled).toContain(3);
      expect(pulled).toBe(pulledAtFailure); // nothing read after the failure
      expect(sourceFinished).toBe(true); // the iterator was closed
      // and no call begins after the failure (fn's code before its first
      // checkpoint would run for nothing: side effects of a map that already failed)
      expect(started).toEqual([0, 1, 2, 3]);
    });
  });

  test("several failures come out as an ExceptionGroup", async () => {
    await runVirtual(async () => {
      const errors = [new Error("0"), new Error("1")];
      const error = await rejection(
        mapConcurrent(
          [0, 1, 2],
          async (i) => {
            if (i < 2) throw errors[i];
            await sleepForever();
          },
          { limit: 3 },
        ),
      );
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect(new Set((error as ExceptionGroup).leafErrors())).toEqual(new Set(errors));
    });
  });

  test("items are passed to fn as they are: a promise among the items is not awaited", async () => {
    await runVirtual(async () => {
      const item = Promise.resolve(1);
      const seen: unknown[] = [];
      await mapConcurrent(
        [item],
        async (value) => {
          seen.push(value);
        },
        { limit: 1 },
      );
      expect(seen[0]).toBe(item); // typed Promise<number>: it must not arrive as 1
    });
  });

  test.each([
    ["limit 0", 0],
    ["limit -1", -1],
    ["limit 1.5", 1.5],
    ["limit NaN", Number.NaN],
  ])("bad input: %s rejects with a RangeError naming options.limit", async (_label, limit) => {
    await runVirtual(async () => {
      await expectRejects(
        () => mapConcurrent([1], async (x) => x, { limit }),
        RangeError,
        /options\.limit/,
      );
    });
  });

  test.each([
    ["options missing", undefined],
    ["limit missing", {}],
    ["limit not a number", { limit: "2" }],
  ])("bad input: %s rejects with a TypeError naming options.limit", async (_label, options) => {
    await runVirtual(async () => {
      await expectRejects(
        () => mapConcurrent([1], async (x) => x, bad(options)),
        TypeError,
        /options\.limit/,
      );
    });
  });

  test.each([
    ["a number", 42],
    ["null", null],
    ["a plain object", {}],
  ])("bad input: items that are %s reject with a TypeError naming items", async (_label, items) => {
    await runVirtual(async () => {
      await expectRejects(
        () => mapConcurrent(bad<unknown[]>(items), async (x) => x, { limit: 1 }),
        TypeError,
        /items/,
      );
    });
  });

  test("bad input: fn not a function rejects with a TypeError naming fn", async () => {
    await runVirtual(async () => {
      await expectRejects(() => mapConcurrent([1], bad("fn"), { limit: 1 }), TypeError, /fn/);
    });
  });
});

describe("capture", () => {
  test("captures a value as Ok(value)", async () => {
    await runVirtual(async () => {
      const result = await capture(() => after(5, 42));
      expect(result.isOk()).toBe(true);
      expect(result.isErr()).toBe(false);
      if (result.isOk()) expect(result.value).toBe(42);
    });
  });

  test("captures an error as Err(error), including non-Error throws", async () => {
    await runVirtual(async () => {
      const boom = new Error("boom");
      const result = await capture(async () => {
        await sleep(5);
        throw boom;
      });
      expect(result.isErr()).toBe(true);
      if (result.isErr()) expect(result.error).toBe(boom);

      const thrownString = await capture(async () => {
        throw "plain string";
      });
      expect(thrownString.isErr() && thrownString.error).toBe("plain string");
    });
  });

  test("a Cancelled is not captured: it propagates and the cancelled scope catches it", async () => {
    await runVirtual(async () => {
      let captured: unknown = "nothing";
      let after = false;
      const scope = new CancelScope({ relativeDeadline: 10 });
      await scope.run(async () => {
        captured = await capture(() => sleep(100));
        after = true;
      });
      expect(scope.cancelledCaught).toBe(true);
      expect(captured).toBe("nothing");
      expect(after).toBe(false);
      expect(currentTime()).toBe(10);
    });
  });

  test("bad input: fn not a function rejects with a TypeError naming fn", async () => {
    await runVirtual(async () => {
      await expectRejects(() => capture(bad(1)), TypeError, /fn/);
    });
  });
});

describe("non-strict nurseries", () => {
  test("one failing child whose siblings get cancelled: the nursery rejects with the lone error itself", async () => {
    await runVirtual(async () => {
      const boom = new Error("boom");
      const cleanedUp: string[] = [];
      const sibling = (name: string) => async () => {
        try {
          await sleepForever();
        } finally {
          await cleanUp(1);
          cleanedUp.push(name);
        }
      };
      const error = await rejection(
        openNursery(
          async (nursery) => {
            nursery.startSoon(sibling("a"));
            nursery.startSoon(async () => {
              await sleep(5);
              throw boom;
            });
            nursery.startSoon(sibling("b"));
            await sleepForever(); // the body is cancelled too
          },
          { strictErrors: false },
        ),
      );
      expect(error).toBe(boom);
      expect(cleanedUp.sort()).toEqual(["a", "b"]);
      expect(currentTime()).toBe(6);
    });
  });

  test("inside an outer scope that is cancelled, a lone error raised by a cancelled child still comes out as itself", async () => {
    await runVirtual(async () => {
      const cleanupFailed = new Error("cleanup failed");
      let seen: unknown;
      await moveOnAfter(10, async () => {
        try {
          await openNursery(
            async (nursery) => {
              nursery.startSoon(async () => {
                try {
                  await sleepForever();
                } catch {
                  throw cleanupFailed; // instead of the Cancelled
                }
              });
            },
            { strictErrors: false },
          );
        } catch (e) {
          seen = e;
        }
      });
      expect(seen).toBe(cleanupFailed);
    });
  });
});
