/** Semaphore: values, maxValue, FIFO handoff. (Trio's src/trio/_tests/test_sync.py is the reference.) */
import {
  Cancelled,
  CancelScope,
  currentTime,
  moveOnAfter,
  openNursery,
  Semaphore,
  WouldBlock,
} from "@weft/core";
import { seededRandom } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";
import { spawn } from "../support/sync.ts";

const _prng = seededRandom;

describe("Semaphore", () => {
  test("value counts down on acquire and up on release; at 0 acquireNowait throws WouldBlock", async () => {
    await runVirtual(async () => {
      const s = new Semaphore(1);
      expect(s.value).toBe(1);
      expect(s.maxValue).toBeUndefined();
      s.release();
      expect(s.value).toBe(2);
      s.acquireNowait();
      expect(s.value).toBe(1);
      await s.acquire();
      expect(s.value).toBe(0);
      expect(() => s.acquireNowait()).toThrow(WouldBlock);
      expect(s.value).toBe(0);
      expect(new Semaphore(0).value).toBe(0);
    });
  });

  test("maxValue: a release past it throws RangeError and leaves the value unchanged", async () => {
    await runVirtual(async () => {
      const s = new Semaphore(1, { maxValue: 1 });
      expect(s.maxValue).toBe(1);
      expect(() => s.release()).toThrow(RangeError);
      expect(() => s.release()).toThrow(
        "semaphore released too many times: its value is already maxValue (1)",
      );
      expect(s.value).toBe(1);
      s.acquireNowait();
      expect(s.value).toBe(0);
      s.release();
      expect(s.value).toBe(1);
      const t = new Semaphore(0, { maxValue: 2 });
      t.release();
      t.release();
      expect(() => t.release()).toThrow(RangeError);
      expect(t.value).toBe(2);
    });
  });

  test("a release with a waiter hands the unit to it: the value stays 0 and statistics count the waiters", async () => {
    await runVirtual(async () => {
      const s = new Semaphore(0, { maxValue: 1 });
      const record: string[] = [];
      expect(s.statistics()).toEqual({ tasksWaiting: 0 });
      await openNursery(async (nursery) => {
        for (const name of ["a", "b"]) {
          await spawn(nursery, async () => {
            await s.acquire();
            record.push(name);
          });
        }
        expect(s.statistics()).toEqual({ tasksWaiting: 2 });
        s.release();
        expect(s.value).toBe(0);
        expect(s.statistics()).toEqual({ tasksWaiting: 1 });
        expect(() => s.acquireNowait()).toThrow(WouldBlock);
        s.release(); // the value is 0, below maxValue: handed to b
        expect(s.value).toBe(0);
        expect(s.statistics()).toEqual({ tasksWaiting: 0 });
      });
      expect(record).toEqual(["a", "b"]);
      expect(s.value).toBe(0);
    });
  });

  test("acquire in a cancelled scope throws Cancelled and leaves the value unchanged", async () => {
    await runVirtual(async () => {
      const s = new Semaphore(2);
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        await expect(s.acquire()).rejects.toThrow(Cancelled);
      });
      expect(s.value).toBe(2);
      const blocked = new Semaphore(0);
      const result = await moveOnAfter(5, () => blocked.acquire().then(() => "acquired"));
      expect(result).toBeUndefined();
      expect(currentTime()).toBe(5);
      expect(blocked.value).toBe(0);
      expect(blocked.statistics()).toEqual({ tasksWaiting: 0 });
      blocked.release();
      expect(blocked.value).toBe(1);
    });
  });

  test("await using semaphore.guard() releases at block exit, also when the block throws", async () => {
    await runVirtual(async () => {
      const s = new Semaphore(2);
      {
        await using _ = await s.guard();
        expect(s.value).toBe(1);
        {
          await using _inner = await s.guard();
          expect(s.value).toBe(0);
        }
        expect(s.value).toBe(1);
      }
      expect(s.value).toBe(2);
      const boom = new Error("boom");
      const error = await rejection(
        (async () => {
          await using _ = await s.guard();
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      expect(s.value).toBe(2);
    });
  });
});

// ---------------------------------------------------------------- CapacityLimiter
