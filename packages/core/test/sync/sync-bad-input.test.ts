/** Bad input to the sync primitives. (Trio's src/trio/_tests/test_sync.py is the reference.) */
import { CapacityLimiter, Condition, Lock, Semaphore } from "@weft/core";
import { seededRandom } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { runVirtual } from "../support/helpers.ts";

const _prng = seededRandom;

describe("bad input", () => {
  test("Semaphore: initialValue and maxValue must be integers >= 0, maxValue >= initialValue, options an object", () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity, -Infinity]) {
      expect(() => new Semaphore(bad)).toThrow(RangeError);
      expect(() => new Semaphore(bad)).toThrow(/^initialValue must be an integer >= 0/);
    }
    for (const bad of ["1", undefined, null, 1n, {}]) {
      expect(() => new Semaphore(bad as never)).toThrow(TypeError);
      expect(() => new Semaphore(bad as never)).toThrow(/^initialValue must be a number/);
    }
    expect(() => new Semaphore(2, { maxValue: 1 })).toThrow(RangeError);
    expect(() => new Semaphore(2, { maxValue: 1 })).toThrow(
      "options.maxValue (1) must be >= initialValue (2)",
    );
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => new Semaphore(0, { maxValue: bad })).toThrow(RangeError);
      expect(() => new Semaphore(0, { maxValue: bad })).toThrow(/options\.maxValue/);
    }
    expect(() => new Semaphore(0, { maxValue: "1" as never })).toThrow(TypeError);
    expect(() => new Semaphore(0, { maxValue: "1" as never })).toThrow(/options\.maxValue/);
    expect(() => new Semaphore(0, 5 as never)).toThrow(TypeError);
    expect(() => new Semaphore(0, null as never)).toThrow(/^options must be an object/);
    expect(new Semaphore(0, {}).maxValue).toBeUndefined();
    expect(new Semaphore(3, { maxValue: 3 }).value).toBe(3);
  });

  test("CapacityLimiter: totalTokens must be an integer >= 1 or Infinity (constructor and setter)", async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, -Infinity]) {
      expect(() => new CapacityLimiter(bad)).toThrow(RangeError);
      expect(() => new CapacityLimiter(bad)).toThrow(/^totalTokens must be an integer >= 1/);
    }
    for (const bad of ["1", undefined, null, 1n]) {
      expect(() => new CapacityLimiter(bad as never)).toThrow(TypeError);
      expect(() => new CapacityLimiter(bad as never)).toThrow(/^totalTokens must be a number/);
    }
    const c = new CapacityLimiter(2);
    for (const bad of [0, -10, Number.NaN, 2.5]) {
      expect(() => {
        c.totalTokens = bad;
      }).toThrow(RangeError);
    }
    expect(() => {
      c.totalTokens = "3" as never;
    }).toThrow(TypeError);
    expect(c.totalTokens).toBe(2);
  });

  test("Condition: the lock must be a weft Lock; notify's n a non-negative integer or Infinity", async () => {
    for (const bad of [{}, new Semaphore(1), Lock, null, "lock", new CapacityLimiter(1)]) {
      expect(() => new Condition(bad as never)).toThrow(TypeError);
      expect(() => new Condition(bad as never)).toThrow(/^lock must be a weft Lock/);
    }
    await runVirtual(async () => {
      const c = new Condition();
      await c.acquire();
      for (const bad of [-1, 1.5, Number.NaN, -Infinity]) {
        expect(() => c.notify(bad)).toThrow(RangeError);
        expect(() => c.notify(bad)).toThrow(/^n must be an integer >= 0 or Infinity/);
      }
      expect(() => c.notify("1" as never)).toThrow(TypeError);
      expect(() => c.notify("1" as never)).toThrow(/^n must be a number/);
      c.notify(Infinity);
      c.release();
    });
  });
});

// ---------------------------------------------------------------- load and properties

/** A resource under test, with its capacity and a check of its state once everyone is done. */
