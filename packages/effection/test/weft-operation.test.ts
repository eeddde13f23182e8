/**
 * weftOperation: an Effection operation runs weft code in a weft run; halting
 * it cancels the run, and the halt completes only once the run has finished.
 */
import {
  CancelScope,
  cancellable,
  currentTime,
  isCancelled,
  type RunOptions,
  sleep,
  sleepForever,
} from "@weft/core";
import { weftOperation } from "@weft/effection";
import { MockClock } from "@weft/testing";
import { run as effection } from "effection";
import { describe, expect, test } from "vitest";

const virtual = (): RunOptions => ({ clock: new MockClock({ autojumpThreshold: 0 }) });

describe("weftOperation: results", () => {
  test("returns the weft code's value", async () => {
    const value = await effection(function* () {
      return yield* weftOperation(async () => {
        await sleep(60_000);
        return currentTime();
      }, virtual());
    });
    expect(value).toBe(60_000);
  });

  test("the weft code's error comes back as the same object", async () => {
    const boom = new Error("boom");
    const caught = await effection(function* () {
      try {
        yield* weftOperation(async () => {
          await sleep(1);
          throw boom;
        }, virtual());
      } catch (error) {
        return error;
      }
    });
    expect(caught).toBe(boom);
  });

  test("each run of the operation is a new weft run", async () => {
    let runs = 0;
    const op = weftOperation(async () => ++runs, virtual());
    const values = await effection(function* () {
      return [yield* op, yield* op];
    });
    expect(values).toEqual([1, 2]);
  });

  test("bad arguments are a TypeError at once, naming the argument", () => {
    expect(() => weftOperation(42 as unknown as () => Promise<number>)).toThrow(TypeError);
    expect(() => weftOperation(42 as unknown as () => Promise<number>)).toThrow(/fn/);
    expect(() => weftOperation(async () => 1, 42 as unknown as RunOptions)).toThrow(/options/);
  });

  test("options.signal aborting cancels the run; the operation fails with its reason", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const caught = await effection(function* () {
      try {
        yield* weftOperation(
          async () => {
            controller.abort(reason);
            await sleepForever();
          },
          { ...virtual(), signal: controller.signal },
        );
      } catch (error) {
        return error;
      }
    });
    expect(caught).toBe(reason);
  });
});

describe("weftOperation: halting", () => {
  test("halting while weft code sleeps: it sees Cancelled and its finally runs before the halt ends", async () => {
    const order: string[] = [];
    const started = Promise.withResolvers<void>();
    const task = effection(function* () {
      try {
        yield* weftOperation(async () => {
          try {
            started.resolve();
            await sleep(3_600_000);
          } catch (error) {
            order.push(isCancelled(error) ? "weft saw Cancelled" : "weft saw another error");
            throw error;
          } finally {
            await new CancelScope({ shield: true }).run(() => sleep(10));
            order.push("weft finally");
          }
        }); // the system clock: the hour-long sleep must be cut short by the halt
      } finally {
        order.push("effection finally");
      }
    });
    await started.promise;
    await task.halt();
    order.push("halted");
    expect(order).toEqual(["weft saw Cancelled", "weft finally", "effection finally", "halted"]);
  });

  test("halting before the weft code has taken a step: the halt completes, nothing leaks", async () => {
    const order: string[] = [];
    const task = effection(function* () {
      yield* weftOperation(async () => {
        try {
          order.push("weft started");
          await sleepForever();
        } finally {
          order.push("weft finally");
        }
      }, virtual());
    });
    await task.halt();
    // Either the run was cancelled before main ran, or main ran and was cancelled.
    expect([[], ["weft started", "weft finally"]]).toContainEqual(order);
    await expect(task).rejects.toThrow(/halted/);
  });

  test("halting waits for a shielded scope to finish its work", async () => {
    const order: string[] = [];
    const inShield = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    const task = effection(function* () {
      yield* weftOperation(async () => {
        try {
          await new CancelScope({ shield: true }).run(async () => {
            inShield.resolve();
            await cancellable(gate.promise);
            order.push("shield done");
          });
          await sleepForever(); // cancelled here, after the shield
        } finally {
          order.push("weft finally");
        }
      }, virtual());
    });
    await inShield.promise;
    let haltDone = false;
    const halting = task.halt().then(() => {
      haltDone = true;
    });
    // The halt cannot complete while the shield holds (a real turn or two of the event loop).
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(haltDone).toBe(false);
    expect(order).toEqual([]);
    gate.resolve();
    await halting;
    expect(order).toEqual(["shield done", "weft finally"]);
  });

  test("an error raised while the weft code is cancelled is not lost: halt() rejects with it", async () => {
    const cleanup = new Error("cleanup failed");
    const started = Promise.withResolvers<void>();
    const task = effection(function* () {
      yield* weftOperation(async () => {
        try {
          started.resolve();
          await sleepForever();
        } finally {
          // biome-ignore lint/correctness/noUnsafeFinally: the case under test
          throw cleanup;
        }
      }, virtual());
    });
    await started.promise;
    await expect(task.halt()).rejects.toBe(cleanup);
  });
});
