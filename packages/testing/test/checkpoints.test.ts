/**
 * assertCheckpoints / assertNoCheckpoints. Behaviour ported from Trio's
 * src/trio/testing/_checkpoints.py and its tests.
 */
import { AssertionError } from "node:assert";
import {
  cancelShieldedCheckpoint,
  checkpoint,
  checkpointIfCancelled,
  Event,
  Lock,
  openNursery,
  run,
  sleep,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { assertCheckpoints, assertNoCheckpoints, MockClock } from "../src/index.ts";

const autojump = () => new MockClock({ autojumpThreshold: 0 });
const inRun = <T>(body: () => Promise<T>) => run(body, { clock: autojump() });

describe("assertCheckpoints", () => {
  test("passes for checkpoint() and sleep(0), and resolves with fn's value", async () => {
    await inRun(async () => {
      expect(await assertCheckpoints(() => checkpoint().then(() => 1))).toBe(1);
      await assertCheckpoints(() => sleep(0));
      await assertCheckpoints(() => sleep(100));
      // Event.wait() on a set event does not block, but is still a checkpoint
      const event = new Event();
      event.set();
      await assertCheckpoints(() => event.wait());
    });
  });

  test("passes for a wait that blocked and was woken", async () => {
    await inRun(() =>
      openNursery(async (nursery) => {
        const event = new Event();
        nursery.startSoon(async () => {
          await sleep(10);
          event.set();
        });
        await assertCheckpoints(() => event.wait());
      }),
    );
  });

  test("fails for a sync function, Event.set() and checkpointIfCancelled() outside a cancelled scope", async () => {
    await inRun(async () => {
      await expect(assertCheckpoints(async () => 1 + 1)).rejects.toThrow(AssertionError);
      await expect(assertCheckpoints(async () => new Event().set())).rejects.toThrow(
        /did not execute a checkpoint/,
      );
      await expect(assertCheckpoints(() => checkpointIfCancelled())).rejects.toThrow(
        AssertionError,
      );
      // a free lock is taken without blocking; Lock.acquire is still a checkpoint
      const lock = new Lock();
      await assertCheckpoints(() => lock.acquire());
      lock.release();
    });
  });

  test("an error thrown by fn is passed on unchecked", async () => {
    await inRun(async () => {
      await expect(
        assertCheckpoints(async () => {
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
    });
  });

  test("cancelShieldedCheckpoint() counts as a schedule point (a known limitation)", async () => {
    await inRun(async () => {
      await assertCheckpoints(() => cancelShieldedCheckpoint());
    });
  });
});

describe("assertNoCheckpoints", () => {
  test("passes for a sync function and Event.set(), and resolves with fn's value", async () => {
    await inRun(async () => {
      expect(await assertNoCheckpoints(async () => "value")).toBe("value");
      const event = new Event();
      await assertNoCheckpoints(async () => event.set());
      expect(event.isSet()).toBe(true);
      await assertNoCheckpoints(() => checkpointIfCancelled());
    });
  });

  test("fails for checkpoint() and sleep(0)", async () => {
    await inRun(async () => {
      await expect(assertNoCheckpoints(() => checkpoint())).rejects.toThrow(AssertionError);
      await expect(assertNoCheckpoints(() => sleep(0))).rejects.toThrow(
        /executed 1 schedule point/,
      );
    });
  });

  test("fails even when fn throws after a checkpoint", async () => {
    await inRun(async () => {
      await expect(
        assertNoCheckpoints(async () => {
          await checkpoint();
          throw new Error("boom");
        }),
      ).rejects.toThrow(AssertionError);
    });
  });

  test("another task's checkpoints do not count", async () => {
    await inRun(() =>
      openNursery(async (nursery) => {
        const event = new Event();
        nursery.startSoon(async () => {
          for (let i = 0; i < 3; i++) await checkpoint();
          await event.wait();
        });
        await assertNoCheckpoints(async () => event.set());
      }),
    );
  });

  test("outside run() both reject", async () => {
    await expect(assertNoCheckpoints(async () => {})).rejects.toThrow();
    await expect(assertCheckpoints(async () => {})).rejects.toThrow();
  });
});
