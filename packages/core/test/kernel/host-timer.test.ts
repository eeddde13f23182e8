import { CancelScope, lowlevel, moveOnAfter, openNursery, run, sleep } from "@weft/core";
import { afterEach, describe, expect, test, vi } from "vitest";
import { runVirtual } from "../support/helpers.ts";

/** Blocks in the kernel until a host callback (like I/O) wakes the task: the kernel goes idle meanwhile. */
function hostTurn(): Promise<unknown> {
  const task = lowlevel.currentTask();
  setImmediate(() => lowlevel.reschedule(task));
  return lowlevel.waitTaskRescheduled(() => lowlevel.Abort.FAILED);
}

describe("the host timer of an idle kernel (real clock)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  test("is kept, not re-armed, each time the kernel goes idle with the same deadline pending", async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, "setTimeout");
    await run(async () => {
      const scope = new CancelScope();
      await openNursery(async (nursery) => {
        // A far deadline stays pending the whole time, like a keep-alive timeout.
        nursery.startSoon(() => scope.run(() => sleep(60_000)));
        await sleep(0);
        const before = setTimeoutSpy.mock.calls.length;
        // Each round goes idle (waiting for the host) with that deadline pending.
        for (let round = 0; round < 50; round++) await hostTurn();
        expect(setTimeoutSpy.mock.calls.length - before).toBeLessThanOrEqual(1);
        scope.cancel();
      });
    });
  });

  test("is re-armed when an earlier deadline comes: a short sleep is not held up by a long one", async () => {
    const started = performance.now();
    let shortDone = 0;
    await run(async () => {
      const scope = new CancelScope();
      await openNursery(async (nursery) => {
        nursery.startSoon(() => scope.run(() => sleep(20_000)));
        await hostTurn(); // idle with the long deadline's timer armed
        await sleep(5);
        shortDone = performance.now() - started;
        scope.cancel();
      });
    });
    // Without re-arming it would wake with the 20 s timer.
    expect(shortDone).toBeLessThan(10_000);
  });
});

describe("deadlines expiring in a tick (virtual clock)", () => {
  test("a timeout over more than a thousand sleepers cancels them all (the deadline heap prunes mid-expiry)", async () => {
    for (const sleepers of [1001, 1002, 3000]) {
      let cancelled = 0;
      await runVirtual(() =>
        moveOnAfter(20, () =>
          openNursery(async (nursery) => {
            for (let i = 0; i < sleepers; i++) {
              nursery.startSoon(async () => {
                try {
                  await sleep(10_000);
                } finally {
                  cancelled++;
                }
              });
            }
          }),
        ),
      );
      expect(cancelled).toBe(sleepers);
    }
  });
});
