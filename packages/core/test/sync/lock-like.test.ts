/**
 * Synchronisation primitives: Event, Lock, StrictFIFOLock, Semaphore,
 * CapacityLimiter, Condition. Each test is named after the rule of
 * SEMANTICS.md ("Synchronisation", and the Run loop's blocking-primitive
 * pattern) it proves; behaviour ported from Trio's src/trio/_tests/test_sync.py.
 *
 * Load and property tests at the end record, through an instrument, the exact
 * moment each acquire is granted (the task becomes runnable), so the order of
 * grants can be compared with the order of the acquire calls.
 */
import {
  Cancelled,
  CancelScope,
  CapacityLimiter,
  Condition,
  checkpoint,
  Event,
  Lock,
  openNursery,
  Semaphore,
  StrictFIFOLock,
  WouldBlock,
} from "@weft/core";
import { seededRandom, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { errorOf, rejection, runVirtual } from "../support/helpers.ts";
import { expectFree, type LockLike, spawn } from "../support/sync.ts";

const _prng = seededRandom;

interface LockLikeKind {
  readonly name: string;
  make(): LockLike;
  /** How many tasks wait to acquire it. */
  waiting(x: LockLike): number;
}

const lockLikes: LockLikeKind[] = [
  { name: "Lock", make: () => new Lock(), waiting: (x) => (x as Lock).statistics().tasksWaiting },
  {
    name: "StrictFIFOLock",
    make: () => new StrictFIFOLock(),
    waiting: (x) => (x as Lock).statistics().tasksWaiting,
  },
  {
    name: "Semaphore(1)",
    make: () => new Semaphore(1),
    waiting: (x) => (x as Semaphore).statistics().tasksWaiting,
  },
  {
    name: "CapacityLimiter(1)",
    make: () => new CapacityLimiter(1),
    waiting: (x) => (x as CapacityLimiter).statistics().tasksWaiting,
  },
  {
    name: "Condition",
    make: () => new Condition(),
    waiting: (x) => (x as Condition).lock.statistics().tasksWaiting,
  },
];

// ---------------------------------------------------------------- rules shared by every lock-like

describe.each(lockLikes)("$name", (kind) => {
  test("mutual exclusion: never two tasks inside at once", async () => {
    await runVirtual(async () => {
      const x = kind.make();
      let inside = false;
      let acquires = 0;
      await openNursery(async (nursery) => {
        for (let w = 0; w < 5; w++) {
          nursery.startSoon(async () => {
            for (let i = 0; i < 10; i++) {
              await x.acquire();
              acquires++;
              expect(inside).toBe(false);
              inside = true;
              await checkpoint();
              await checkpoint();
              inside = false;
              x.release();
            }
          });
        }
      });
      expect(acquires).toBe(50);
    });
  });

  test("waiters are strictly FIFO: after the first round, tasks hold it in the order they first queued", async () => {
    await runVirtual(async () => {
      const x = kind.make();
      const initialOrder: number[] = [];
      const record: number[] = [];
      await openNursery(async (nursery) => {
        for (const name of [1, 2, 3, 4]) {
          nursery.startSoon(async () => {
            initialOrder.push(name);
            for (let i = 0; i < 5; i++) {
              await x.acquire();
              record.push(name);
              x.release();
            }
          });
        }
      });
      for (let i = 0; i < 5; i++) expect(record.slice(4 * i, 4 * (i + 1))).toEqual(initialOrder);
    });
  });

  test("release hands it straight to the first waiter: the releasing task cannot take it back, acquireNowait throws WouldBlock while anyone waits", async () => {
    await runVirtual(async () => {
      const x = kind.make();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        x.acquireNowait();
        await spawn(nursery, async () => {
          await x.acquire();
          record.push("waiter");
          x.release();
        });
        expect(kind.waiting(x)).toBe(1);
        x.release();
        expect(kind.waiting(x)).toBe(0);
        // Handed over: neither a nowait nor an awaited acquire takes it back.
        expect(() => x.acquireNowait()).toThrow(WouldBlock);
        await x.acquire();
        record.push("releaser");
        x.release();
      });
      expect(record).toEqual(["waiter", "releaser"]);
      expectFree(x);
    });
  });

  test("acquireNowait throws WouldBlock for a third task while a waiter is queued", async () => {
    await runVirtual(async () => {
      const x = kind.make();
      await openNursery(async (nursery) => {
        const go = new Event();
        await spawn(nursery, async () => {
          await x.acquire();
          await go.wait();
          x.release();
        });
        await spawn(nursery, async () => {
          await x.acquire();
          x.release();
        });
        let thrown: unknown;
        await spawn(nursery, async () => {
          try {
            x.acquireNowait();
          } catch (error) {
            thrown = error;
          }
        });
        expect(thrown).toBeInstanceOf(WouldBlock);
        expect(kind.waiting(x)).toBe(1);
        go.set();
      });
      expectFree(x);
    });
  });

  test("an uncontended acquire is a full checkpoint: another runnable task runs during it", async () => {
    await runVirtual(async () => {
      const x = kind.make();
      let ran = false;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          ran = true;
        });
        await x.acquire();
        expect(ran).toBe(true);
        x.release();
      });
    });
  });

  test("acquire of a free one in a cancelled scope throws Cancelled and holds nothing", async () => {
    await runVirtual(async () => {
      const x = kind.make();
      const scope = new CancelScope();
      scope.cancel();
      let error: unknown;
      await scope.run(async () => {
        error = await rejection(x.acquire());
      });
      expect(error).toBeInstanceOf(Cancelled);
      expect(kind.waiting(x)).toBe(0);
      expectFree(x);
    });
  });

  test("a cancelled waiting acquire holds nothing and leaves the queue; the next release goes to the next waiter", async () => {
    await runVirtual(async () => {
      const x = kind.make();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        x.acquireNowait();
        const scope = new CancelScope();
        for (const name of ["w1", "w2", "w3"]) {
          await spawn(nursery, async () => {
            const body = async () => {
              await x.acquire();
              record.push(name);
              x.release();
            };
            if (name !== "w2") return body();
            try {
              await scope.run(body);
            } finally {
              if (scope.cancelledCaught) record.push("w2 cancelled");
            }
          });
        }
        expect(kind.waiting(x)).toBe(3);
        scope.cancel();
        await waitAllTasksBlocked();
        expect(record).toEqual(["w2 cancelled"]);
        expect(kind.waiting(x)).toBe(2);
        x.release();
      });
      expect(record).toEqual(["w2 cancelled", "w1", "w3"]);
      expect(kind.waiting(x)).toBe(0);
      expectFree(x);
    });
  });

  test("a waiter handed it in the same step as its scope is cancelled keeps it: the acquire returns (it happened)", async () => {
    await runVirtual(async () => {
      const x = kind.make();
      const record: string[] = [];
      const scope = new CancelScope();
      await openNursery(async (nursery) => {
        x.acquireNowait();
        await spawn(nursery, () =>
          scope.run(async () => {
            await x.acquire();
            record.push("acquired");
            try {
              await checkpoint();
              record.push("not cancelled");
            } catch (error) {
              record.push(error instanceof Cancelled ? "cancelled at the next checkpoint" : "?");
              throw error;
            } finally {
              x.release();
            }
          }),
        );
        x.release();
        scope.cancel();
      });
      expect(record).toEqual(["acquired", "cancelled at the next checkpoint"]);
      expect(scope.cancelledCaught).toBe(true);
      expectFree(x);
    });
  });

  test("acquire outside run() throws an Error that says so", async () => {
    const x = kind.make();
    const error = await errorOf(() => x.acquire());
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/must be called inside weft's run\(\)/);
  });
});

// ---------------------------------------------------------------- Lock
