/**
 * periodic(): the three missed-tick policies with a slow consumer (exact
 * virtual times), checkpoints, cancellation, clean-up and argument checks,
 * all on a MockClock.
 */
import {
  BusyResourceError,
  CancelScope,
  checkpoint,
  currentTime,
  isCancelled,
  lowlevel,
  moveOnAfter,
  openNursery,
  run,
  sleep,
  sleepUntil,
} from "@weft/core";
import { assertCheckpoints, MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { type MissedTickPolicy, periodic, type Tick, Ticker } from "../../src/timers/periodic.ts";

function runVirtual<T>(fn: () => Promise<T>): Promise<T> {
  return run(fn, { clock: new MockClock({ autojumpThreshold: 0 }) });
}

/** Compact form of a tick for exact comparisons: "scheduled@actual" plus "/missed" when some were. */
function show(tick: Tick): string {
  return `${tick.scheduled}@${tick.actual}${tick.missed > 0 ? `/${tick.missed}` : ""}`;
}

/**
 * Collects `count` ticks of a 100 ms ticker; the consumer spends until 450 on
 * the tick due at 100 (so the ticks due at 200, 300 and 400 pass meanwhile)
 * and no time on the others.
 */
async function slowConsumer(policy: MissedTickPolicy, count: number): Promise<string[]> {
  const seen: string[] = [];
  for await (const tick of periodic(100, { missedTicks: policy })) {
    seen.push(show(tick));
    if (tick.scheduled === 100) await sleepUntil(450);
    if (seen.length === count) break;
  }
  return seen;
}

describe("periodic: missed-tick policies with a slow consumer", () => {
  test("skip delivers the latest due tick at once, counts the dropped ones, and keeps the grid", async () => {
    const seen = await runVirtual(() => slowConsumer("skip", 4));
    expect(seen).toEqual(["100@100", "400@450/2", "500@500", "600@600"]);
  });

  test("burst delivers every missed tick without waiting, then resumes the grid", async () => {
    const seen = await runVirtual(() => slowConsumer("burst", 6));
    expect(seen).toEqual(["100@100", "200@450", "300@450", "400@450", "500@500", "600@600"]);
  });

  test("delay delivers the late tick at once and restarts the schedule from it", async () => {
    const seen = await runVirtual(() => slowConsumer("delay", 4));
    expect(seen).toEqual(["100@100", "200@450", "550@550", "650@650"]);
  });

  test("skip is the default policy", async () => {
    await runVirtual(async () => {
      const ticker = periodic(100);
      expect(ticker.missedTicks).toBe("skip");
      expect(ticker.intervalMs).toBe(100);
      expect(show((await ticker.next()).value as Tick)).toBe("100@100");
      await sleepUntil(350);
      expect(show((await ticker.next()).value as Tick)).toBe("300@350/1");
      expect(ticker.nextTickAt).toBe(400);
    });
  });

  test("a consumer that asks exactly when a tick is due is on time under every policy", async () => {
    for (const policy of ["skip", "burst", "delay"] as const) {
      const seen = await runVirtual(async () => {
        const out: string[] = [];
        for await (const tick of periodic(100, { missedTicks: policy })) {
          out.push(show(tick));
          await sleep(100); // ask for the next one exactly when it is due
          if (out.length === 3) break;
        }
        return out;
      });
      expect(seen).toEqual(["100@100", "200@200", "300@300"]);
    }
  });

  test("a consumer slower than the interval on every tick", async () => {
    const collect = (policy: MissedTickPolicy) =>
      runVirtual(async () => {
        const out: string[] = [];
        for await (const tick of periodic(100, { missedTicks: policy })) {
          out.push(show(tick));
          if (out.length === 4) break;
          await sleep(250);
        }
        return out;
      });
    expect(await collect("skip")).toEqual(["100@100", "300@350/1", "600@600/2", "800@850/1"]);
    expect(await collect("burst")).toEqual(["100@100", "200@350", "300@600", "400@850"]);
    expect(await collect("delay")).toEqual(["100@100", "200@350", "450@600", "700@850"]);
  });
});

describe("periodic: the first tick", () => {
  test("one interval after creation by default, at creation with immediate", async () => {
    await runVirtual(async () => {
      await sleepUntil(30);
      const late = periodic(100);
      expect(late.nextTickAt).toBe(130);
      const now = periodic(100, { immediate: true });
      expect(now.nextTickAt).toBe(30);
      expect(show((await now.next()).value as Tick)).toBe("30@30");
      expect(show((await now.next()).value as Tick)).toBe("130@130");
    });
  });

  test("startAt in the future", async () => {
    await runVirtual(async () => {
      const ticker = periodic(100, { startAt: 1000 });
      expect(show((await ticker.next()).value as Tick)).toBe("1000@1000");
      expect(show((await ticker.next()).value as Tick)).toBe("1100@1100");
    });
  });

  test("startAt in the past aligns a skip ticker to the grid", async () => {
    await runVirtual(async () => {
      await sleepUntil(1050);
      const ticker = periodic(100, { startAt: 0 });
      // Due at 0, 100, …, 1000: the latest (1000) is delivered, 0..900 dropped.
      expect(show((await ticker.next()).value as Tick)).toBe("1000@1050/10");
      expect(show((await ticker.next()).value as Tick)).toBe("1100@1100");
    });
  });

  test("a fractional interval stays on its grid", async () => {
    await runVirtual(async () => {
      const ticker = periodic(0.1, { immediate: true });
      let last: Tick | undefined;
      for (let i = 0; i <= 30; i++) last = (await ticker.next()).value as Tick;
      expect(last!.scheduled).toBe(30 * 0.1);
      expect(last!.missed).toBe(0);
    });
  });
});

describe("periodic: checkpoints, cancellation and clean-up", () => {
  test("every next() is a checkpoint, including a burst catch-up", async () => {
    await runVirtual(async () => {
      const ticker = periodic(100, { missedTicks: "burst" });
      await assertCheckpoints(() => ticker.next());
      await sleepUntil(500); // the ticks due at 200..500 are all due now
      await assertCheckpoints(() => ticker.next());
      // A catch-up in a cancelled scope raises Cancelled and consumes nothing.
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => ticker.next());
      expect(scope.cancelledCaught).toBe(true);
      expect(show((await ticker.next()).value as Tick)).toBe("300@500");
    });
  });

  test("a burst catch-up lets other tasks run between ticks", async () => {
    await runVirtual(async () => {
      const order: string[] = [];
      const ticker = periodic(100, { missedTicks: "burst", startAt: 0 });
      await sleepUntil(300);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (let i = 0; i < 3; i++) {
            order.push(`other ${i}`);
            await checkpoint();
          }
        });
        for (let i = 0; i < 3; i++)
          order.push(`tick ${((await ticker.next()).value as Tick).scheduled}`);
      });
      // Interleaved, not three ticks in one step.
      expect(order.indexOf("other 1")).toBeLessThan(order.indexOf("tick 200"));
    });
  });

  test("cancelling a waiting next() leaves no timer and consumes no tick", async () => {
    await runVirtual(async () => {
      const ticker = periodic(100);
      const result = await moveOnAfter(50, () => ticker.next());
      expect(result).toBeUndefined();
      expect(currentTime()).toBe(50);
      expect(lowlevel.currentStatistics().msToNextDeadline).toBe(Infinity);
      expect(show((await ticker.next()).value as Tick)).toBe("100@100");
    });
  });

  test("breaking out of for await leaves no timer behind, and none is held between ticks", async () => {
    await runVirtual(async () => {
      const ticker = periodic(100);
      let ticks = 0;
      for await (const _tick of ticker) {
        // The consumer's body runs with no timer of the ticker pending.
        expect(lowlevel.currentStatistics().msToNextDeadline).toBe(Infinity);
        if (++ticks === 3) break;
      }
      expect(currentTime()).toBe(300);
      expect(lowlevel.currentStatistics().msToNextDeadline).toBe(Infinity);
      expect(ticker.nextTickAt).toBe(Infinity);
      expect(await ticker.next()).toEqual({ done: true, value: undefined });
    });
  });

  test("return() from another task ends a waiting next() at once", async () => {
    await runVirtual(async () => {
      const ticker = periodic(1000);
      let result: IteratorResult<Tick, undefined> | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          result = await ticker.next();
        });
        await sleep(10);
        await ticker.return();
      });
      expect(result).toEqual({ done: true, value: undefined });
      expect(currentTime()).toBe(10);
      expect(lowlevel.currentStatistics().msToNextDeadline).toBe(Infinity);
    });
  });

  test("Symbol.asyncDispose stops the ticker", async () => {
    await runVirtual(async () => {
      const ticker = periodic(100);
      await ticker[Symbol.asyncDispose]();
      expect((await ticker.next()).done).toBe(true);
    });
  });

  test("outer cancellation propagates out of a for await", async () => {
    await runVirtual(async () => {
      const seen: number[] = [];
      const scope = new CancelScope({ deadline: 250 });
      await scope.run(async () => {
        for await (const tick of periodic(100)) seen.push(tick.scheduled);
      });
      expect(scope.cancelledCaught).toBe(true);
      expect(seen).toEqual([100, 200]);
      expect(lowlevel.currentStatistics().msToNextDeadline).toBe(Infinity);
    });
  });

  test("two tasks waiting on one ticker: BusyResourceError", async () => {
    await runVirtual(async () => {
      const ticker = periodic(100);
      let caught: unknown = null;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await ticker.next();
        });
        await sleep(10);
        try {
          await ticker.next();
        } catch (error) {
          caught = error;
        }
      });
      expect(caught).toBeInstanceOf(BusyResourceError);
    });
  });

  test("it is a Ticker and its own async iterator", async () => {
    await runVirtual(async () => {
      const ticker = periodic(100);
      expect(ticker).toBeInstanceOf(Ticker);
      expect(ticker[Symbol.asyncIterator]()).toBe(ticker);
    });
  });
});

describe("periodic: bad input", () => {
  test("intervalMs not a finite number: TypeError; <= 0: RangeError", async () => {
    await runVirtual(async () => {
      for (const bad of [Number.NaN, Infinity, -Infinity, "100", undefined, null]) {
        expect(() => periodic(bad as number)).toThrow(TypeError);
      }
      expect(() => periodic(Number.NaN)).toThrow(/intervalMs/);
      for (const bad of [0, -1, -0.5]) {
        expect(() => periodic(bad)).toThrow(RangeError);
      }
      expect(() => periodic(0)).toThrow(/intervalMs must be greater than 0/);
    });
  });

  test("bad options: TypeError (RangeError for immediate with startAt), naming the option", async () => {
    await runVirtual(async () => {
      const policy = (p: unknown) => periodic(100, { missedTicks: p as MissedTickPolicy });
      expect(() => policy("bogus")).toThrow(TypeError);
      expect(() => policy("bogus")).toThrow(/options\.missedTicks/);
      expect(() => policy(1)).toThrow(/options\.missedTicks/);
      expect(() => periodic(100, null as never)).toThrow(TypeError);
      expect(() => periodic(100, { immediate: "yes" as never })).toThrow(/options\.immediate/);
      expect(() => periodic(100, { startAt: Number.NaN })).toThrow(/options\.startAt/);
      expect(() => periodic(100, { startAt: Infinity })).toThrow(TypeError);
      expect(() => periodic(100, { startAt: 5, immediate: false })).toThrow(RangeError);
    });
  });

  test("outside a run it throws instead of guessing a clock", () => {
    let caught: unknown = null;
    try {
      periodic(100);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(isCancelled(caught)).toBe(false);
  });
});
