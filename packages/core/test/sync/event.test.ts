/** Event: set, wait, statistics. (Trio's src/trio/_tests/test_sync.py is the reference.) */
import { Cancelled, CancelScope, Event, openNursery } from "@weft/core";
import { seededRandom, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { runVirtual } from "../support/helpers.ts";

const _prng = seededRandom;

describe("Event", () => {
  test("isSet, set (idempotent) and statistics", async () => {
    await runVirtual(async () => {
      const e = new Event();
      expect(e.isSet()).toBe(false);
      expect(e.statistics()).toEqual({ tasksWaiting: 0 });
      e.set();
      expect(e.isSet()).toBe(true);
      e.set();
      expect(e.isSet()).toBe(true);
      await e.wait();
    });
  });

  test("set wakes every waiter, and statistics count them until then", async () => {
    await runVirtual(async () => {
      const e = new Event();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        for (let i = 0; i < 3; i++) {
          nursery.startSoon(async () => {
            record.push("sleeping");
            await e.wait();
            record.push("woken");
          });
        }
        await waitAllTasksBlocked();
        expect(record).toEqual(["sleeping", "sleeping", "sleeping"]);
        expect(e.statistics()).toEqual({ tasksWaiting: 3 });
        e.set();
        expect(e.statistics()).toEqual({ tasksWaiting: 0 });
        await waitAllTasksBlocked();
        expect(record).toEqual([...Array(3).fill("sleeping"), ...Array(3).fill("woken")]);
      });
    });
  });

  test("wait on a set event still checkpoints: another task gets to run, and a cancelled scope throws Cancelled", async () => {
    await runVirtual(async () => {
      const e = new Event();
      e.set();
      let ran = false;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          ran = true;
        });
        await e.wait();
        expect(ran).toBe(true);
      });
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        await expect(e.wait()).rejects.toThrow(Cancelled);
      });
      expect(scope.cancelledCaught).toBe(false);
    });
  });

  test("a cancelled wait leaves the event's waiters", async () => {
    await runVirtual(async () => {
      const e = new Event();
      await openNursery(async (nursery) => {
        nursery.startSoon(() => e.wait());
        await waitAllTasksBlocked();
        expect(e.statistics().tasksWaiting).toBe(1);
        nursery.cancelScope.cancel();
      });
      expect(e.statistics().tasksWaiting).toBe(0);
      expect(e.isSet()).toBe(false);
    });
  });
});

// ---------------------------------------------------------------- deadlock reports
