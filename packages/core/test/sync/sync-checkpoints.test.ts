/** Every awaited acquire/wait of the sync primitives is a full checkpoint. (Trio's src/trio/_tests/test_sync.py is the reference.) */
import {
  Cancelled,
  CancelScope,
  CapacityLimiter,
  Condition,
  Event,
  Lock,
  openNursery,
  Semaphore,
} from "@weft/core";
import { seededRandom, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";
import { spawn } from "../support/sync.ts";

const _prng = seededRandom;

interface NonBlockingOp {
  readonly name: string;
  setup(): { op(): Promise<unknown>; state(): unknown };
}

const nonBlockingOps: NonBlockingOp[] = [
  ...(["acquire", "withLock", "guard"] as const).map((how) => ({
    name: `Lock.${how}`,
    setup() {
      const lock = new Lock();
      const op = {
        acquire: () => lock.acquire(),
        withLock: () => lock.withLock(async () => {}),
        guard: () => lock.guard(),
      }[how];
      return { op, state: () => lock.statistics() };
    },
  })),
  ...(["acquire", "guard"] as const).map((how) => ({
    name: `Semaphore.${how}`,
    setup() {
      const s = new Semaphore(2);
      return {
        op: () => (how === "acquire" ? s.acquire() : s.guard()),
        state: () => [s.value, s.statistics()],
      };
    },
  })),
  ...(["acquire", "acquireOnBehalfOf", "guard"] as const).map((how) => ({
    name: `CapacityLimiter.${how}`,
    setup() {
      const c = new CapacityLimiter(2);
      const op = {
        acquire: () => c.acquire(),
        acquireOnBehalfOf: () => c.acquireOnBehalfOf("borrower"),
        guard: () => c.guard(),
      }[how];
      return { op, state: () => c.statistics() };
    },
  })),
  {
    name: "Condition.acquire",
    setup() {
      const c = new Condition();
      return { op: () => c.acquire(), state: () => c.lock.statistics() };
    },
  },
  {
    name: "Event.wait (set)",
    setup() {
      const e = new Event();
      e.set();
      return { op: () => e.wait(), state: () => [e.isSet(), e.statistics()] };
    },
  },
];

describe("checkpoints: every awaited acquire/wait is a full checkpoint, even when it does not block", () => {
  test.each(nonBlockingOps)(
    "$name in a cancelled scope throws Cancelled and changes nothing",
    async ({ setup }) => {
      await runVirtual(async () => {
        const { op, state } = setup();
        const before = structuredClone(state());
        const scope = new CancelScope();
        scope.cancel();
        let error: unknown;
        await scope.run(async () => {
          error = await rejection(op());
        });
        expect(error).toBeInstanceOf(Cancelled);
        expect(state()).toEqual(before);
      });
    },
  );

  test.each(nonBlockingOps)("$name lets another runnable task run", async ({ setup }) => {
    await runVirtual(async () => {
      const { op } = setup();
      let ran = false;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          ran = true;
        });
        await op();
        expect(ran).toBe(true);
      });
    });
  });

  test.each(nonBlockingOps)(
    "$name whose scope is cancelled during its schedule point either completes or throws Cancelled having changed nothing",
    async ({ setup }) => {
      await runVirtual(async () => {
        const { op, state } = setup();
        const before = structuredClone(state());
        const scope = new CancelScope();
        let outcome: unknown;
        await openNursery(async (nursery) => {
          await scope.run(async () => {
            // Runs in the next batch: while op is at its schedule point.
            nursery.startSoon(async () => scope.cancel());
            try {
              await op();
              outcome = "completed";
            } catch (error) {
              outcome = error;
            }
          });
        });
        expect(scope.cancelCalled).toBe(true);
        if (outcome !== "completed") {
          expect(outcome).toBeInstanceOf(Cancelled);
          expect(state()).toEqual(before);
        }
      });
    },
  );

  test("synchronous methods (acquireNowait, release, set, notify) are no checkpoints: no other task runs", async () => {
    await runVirtual(async () => {
      let ran = false;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          ran = true;
        });
        const lock = new Lock();
        lock.acquireNowait();
        lock.release();
        const s = new Semaphore(1);
        s.acquireNowait();
        s.release();
        const c = new CapacityLimiter(1);
        c.acquireNowait();
        c.release();
        c.acquireOnBehalfOfNowait("x");
        c.releaseOnBehalfOf("x");
        const cond = new Condition();
        cond.acquireNowait();
        cond.notify();
        cond.notifyAll();
        cond.release();
        new Event().set();
        expect(ran).toBe(false);
      });
      expect(ran).toBe(true);
    });
  });

  test("acquire is a cancel point before it decides: a cancelled task does not take the lock from the queue either", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      const scope = new CancelScope();
      await openNursery(async (nursery) => {
        await lock.acquire();
        await spawn(nursery, () => scope.run(() => lock.acquire()));
        scope.cancel();
        await waitAllTasksBlocked();
        expect(lock.statistics().tasksWaiting).toBe(0);
        lock.release();
        expect(lock.locked()).toBe(false);
      });
      expect(scope.cancelledCaught).toBe(true);
    });
  });
});

// ---------------------------------------------------------------- bad input
