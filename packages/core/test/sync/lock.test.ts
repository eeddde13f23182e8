/** Lock: ownership, handoff, breaking, guards. (Trio's src/trio/_tests/test_sync.py is the reference.) */
import {
  BrokenResourceError,
  CancelScope,
  Condition,
  checkpoint,
  Event,
  Held,
  Lock,
  lowlevel,
  openNursery,
  StrictFIFOLock,
  sleep,
  sleepForever,
  type Task,
} from "@weft/core";
import { seededRandom, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";
import { expectFree, spawn } from "../support/sync.ts";

const _prng = seededRandom;

describe("Lock", () => {
  test("locked() and statistics() report the owner and how many tasks wait", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      expect(lock.locked()).toBe(false);
      expect(lock.statistics()).toEqual({ locked: false, owner: null, tasksWaiting: 0 });
      await openNursery(async (nursery) => {
        const go = new Event();
        const holder = await spawn(nursery, async () => {
          await lock.acquire();
          await go.wait();
          lock.release();
        });
        expect(lock.locked()).toBe(true);
        expect(lock.statistics()).toEqual({ locked: true, owner: holder, tasksWaiting: 0 });
        await spawn(nursery, () => lock.withLock(async () => {}));
        await spawn(nursery, () => lock.withLock(async () => {}));
        expect(lock.statistics()).toEqual({ locked: true, owner: holder, tasksWaiting: 2 });
        go.set();
      });
      expect(lock.statistics()).toEqual({ locked: false, owner: null, tasksWaiting: 0 });
    });
  });

  test("not reentrant: acquire or acquireNowait by the owner throws an Error and it stays held", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      const me = lowlevel.currentTask();
      await lock.acquire();
      const error = await rejection(lock.acquire());
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(
        "this task already holds the Lock: a Lock is not reentrant",
      );
      expect(() => lock.acquireNowait()).toThrow(
        "this task already holds the Lock: a Lock is not reentrant",
      );
      expect(lock.statistics()).toEqual({ locked: true, owner: me, tasksWaiting: 0 });
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  test("release by a task that does not own it throws an Error and changes nothing", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      expect(() => lock.release()).toThrow(
        /^release: the calling <task .*> does not hold this Lock/,
      );
      await openNursery(async (nursery) => {
        const go = new Event();
        const holder = await spawn(nursery, async () => {
          await lock.acquire();
          await go.wait();
          lock.release();
        });
        expect(() => lock.release()).toThrow(
          `release: the calling ${String(lowlevel.currentTask())} does not hold this Lock (owner: ${String(holder)})`,
        );
        expect(lock.statistics()).toEqual({ locked: true, owner: holder, tasksWaiting: 0 });
        go.set();
      });
      expect(lock.locked()).toBe(false);
    });
  });

  test("an owner that exits holding it breaks it: its waiters and later acquires get BrokenResourceError", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      const errors: unknown[] = [];
      let ownerTask: Task | undefined;
      await openNursery(async (nursery) => {
        const scope = new CancelScope();
        ownerTask = await spawn(nursery, () =>
          scope.run(async () => {
            await lock.acquire();
            await sleepForever();
          }),
        );
        for (let i = 0; i < 2; i++) {
          await spawn(nursery, async () => {
            errors.push(await rejection(lock.acquire()));
          });
        }
        expect(lock.statistics().tasksWaiting).toBe(2);
        scope.cancel(); // the owner leaves its scope and exits, still holding the lock
      });
      expect(errors).toHaveLength(2);
      const message = `the owner of this Lock (${String(ownerTask)}) exited without releasing it`;
      for (const error of errors) {
        expect(error).toBeInstanceOf(BrokenResourceError);
        expect((error as Error).message).toBe(message);
      }
      expect(lock.statistics().tasksWaiting).toBe(0);
      const later = await rejection(lock.acquire());
      expect(later).toBeInstanceOf(BrokenResourceError);
      expect((later as Error).message).toBe(message);
      expect(() => lock.acquireNowait()).toThrow(BrokenResourceError);
      await expect(lock.withLock(async () => {})).rejects.toThrow(BrokenResourceError);
    });
  });

  test("an owner that exits by an error breaks it too", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      const boom = new Error("boom");
      const error = await rejection(
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            await lock.acquire();
            throw boom;
          });
        }),
      );
      expect((error as AggregateError).errors).toEqual([boom]);
      await expect(lock.acquire()).rejects.toThrow(BrokenResourceError);
    });
  });

  test("releasing before exiting does not break it; on hand-off the new owner becomes the one whose exit would break it", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      await openNursery(async (nursery) => {
        await spawn(nursery, async () => {
          await lock.acquire();
          lock.release();
        });
      });
      expectFree(lock);
      let second: Task | undefined;
      await openNursery(async (nursery) => {
        const go = new Event();
        await spawn(nursery, async () => {
          await lock.acquire();
          await go.wait();
          lock.release(); // hands it to `second`, then exits: nothing breaks
        });
        second = await spawn(nursery, async () => {
          await lock.acquire(); // and exits holding it
        });
        go.set();
        await waitAllTasksBlocked();
        expect(lock.statistics().owner).toBe(second);
      });
      const error = await rejection(lock.acquire());
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).message).toContain(String(second));
    });
  });

  test("withLock runs fn holding the lock, returns its value and releases it, also when fn throws", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      const me = lowlevel.currentTask();
      const value = await lock.withLock(async () => {
        expect(lock.statistics().owner).toBe(me);
        return 42;
      });
      expect(value).toBe(42);
      expect(lock.locked()).toBe(false);
      const boom = new Error("boom");
      const error = await rejection(
        lock.withLock(async () => {
          await checkpoint();
          throw boom;
        }),
      );
      expect(error).toBe(boom);
      expect(lock.locked()).toBe(false);
    });
  });

  test("withLock with a non-function rejects with a TypeError naming fn", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      await expectRejects(() => lock.withLock(42 as never), TypeError, /^fn must be a function/);
      expect(lock.locked()).toBe(false);
    });
  });

  test("await using lock.guard() releases at block exit, also when the block throws", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      {
        await using held = await lock.guard();
        expect(held).toBeInstanceOf(Held);
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
      const boom = new Error("boom");
      const error = await rejection(
        (async () => {
          await using _ = await lock.guard();
          expect(lock.locked()).toBe(true);
          await checkpoint();
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      expect(lock.locked()).toBe(false);
      {
        using _ = await lock.guard(); // plain `using` too
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
    });
  });

  test("a guard released by hand is not released again at block exit", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      await openNursery(async (nursery) => {
        {
          await using held = await lock.guard();
          held.release();
          expect(lock.locked()).toBe(false);
          // Someone else takes it; the guard's disposal must not release their lock.
          await spawn(nursery, async () => {
            await lock.acquire();
            await sleep(10);
            lock.release();
          });
          expect(lock.locked()).toBe(true);
        }
        expect(lock.locked()).toBe(true);
      });
      expect(lock.locked()).toBe(false);
    });
  });

  test("StrictFIFOLock is a Lock", async () => {
    const lock = new StrictFIFOLock();
    expect(lock).toBeInstanceOf(Lock);
    expect(new Condition(lock).lock).toBe(lock);
  });
});

// ---------------------------------------------------------------- Semaphore
