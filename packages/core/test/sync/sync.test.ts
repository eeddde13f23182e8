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
  BrokenResourceError,
  Cancelled,
  CancelScope,
  CapacityLimiter,
  Condition,
  checkpoint,
  currentTime,
  DeadlockError,
  Event,
  Held,
  type Instrument,
  Lock,
  lowlevel,
  moveOnAfter,
  type Nursery,
  openNursery,
  type Scheduler,
  Semaphore,
  StrictFIFOLock,
  sleep,
  sleepForever,
  type Task,
  type TaskStatus,
  WouldBlock,
} from "@weft/core";
import { seededRandom, waitAllTasksBlocked } from "@weft/testing";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";
import { RandomOneAtATimeScheduler } from "../support/task-tree.ts";

// ---------------------------------------------------------------- helpers

/** Starts `fn` in a new task of `nursery`, lets it run until everyone is blocked, returns the task. */
async function spawn(nursery: Nursery, fn: () => Promise<unknown>): Promise<Task> {
  const task = await nursery.start(async (status: TaskStatus<Task>) => {
    status.started(lowlevel.currentTask());
    await fn();
  });
  await waitAllTasksBlocked();
  return task;
}

/** The error `fn` throws or its promise rejects with (fails if neither happens). */
async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  let promise: Promise<unknown>;
  try {
    promise = fn();
  } catch (error) {
    return error;
  }
  return rejection(promise);
}

const prng = seededRandom;

/** What every lock-like primitive offers. */
interface LockLike {
  acquire(): Promise<void>;
  acquireNowait(): void;
  release(): void;
}

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

/** Asserts that the calling task can take `x` at once (nobody holds it) and gives it back. */
function expectFree(x: LockLike): void {
  x.acquireNowait();
  x.release();
}

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

describe("CapacityLimiter", () => {
  test("tokens, borrowers and statistics follow acquire and release", async () => {
    await runVirtual(async () => {
      const me = lowlevel.currentTask();
      const c = new CapacityLimiter(2);
      expect([c.totalTokens, c.borrowedTokens, c.availableTokens]).toEqual([2, 0, 2]);
      expect(c.statistics()).toEqual({
        borrowedTokens: 0,
        totalTokens: 2,
        borrowers: [],
        tasksWaiting: 0,
      });
      c.acquireNowait();
      expect([c.borrowedTokens, c.availableTokens]).toEqual([1, 1]);
      expect(c.statistics()).toEqual({
        borrowedTokens: 1,
        totalTokens: 2,
        borrowers: [me],
        tasksWaiting: 0,
      });
      await c.acquireOnBehalfOf("someone");
      expect([c.borrowedTokens, c.availableTokens]).toEqual([2, 0]);
      expect(() => c.acquireOnBehalfOfNowait("third party")).toThrow(WouldBlock);
      expect(new Set(c.statistics().borrowers)).toEqual(new Set([me, "someone"]));
      c.releaseOnBehalfOf(me);
      expect(c.statistics().borrowers).toEqual(["someone"]);
      c.releaseOnBehalfOf("someone");
      expect(c.borrowedTokens).toBe(0);
    });
  });

  test("one token per borrower: a second acquire by the same borrower throws an Error and borrows nothing", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(5);
      const message =
        "this borrower already holds a token of this CapacityLimiter (one token per borrower)";
      await c.acquire();
      expect(() => c.acquireNowait()).toThrow(message);
      await expect(c.acquire()).rejects.toThrow(message);
      expect(c.borrowedTokens).toBe(1);
      await c.acquireOnBehalfOf("x");
      await expect(c.acquireOnBehalfOf("x")).rejects.toThrow(message);
      expect(() => c.acquireOnBehalfOfNowait("x")).toThrow(message);
      expect(c.borrowedTokens).toBe(2);
      // Even when it would have to wait, the error comes first.
      c.totalTokens = 2;
      await expect(c.acquireOnBehalfOf("x")).rejects.toThrow(message);
      expect(c.statistics().tasksWaiting).toBe(0);
    });
  });

  // Trio has the same gap: its check only looks at borrowers that hold a token.
  test("one token per borrower also when two tasks wait for the same borrower: they never both hold its token", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(2);
      c.acquireOnBehalfOfNowait("h1");
      c.acquireOnBehalfOfNowait("h2");
      const holding: string[] = [];
      const refused: unknown[] = [];
      await openNursery(async (nursery) => {
        for (const borrower of ["x", "x"]) {
          nursery.startSoon(async () => {
            try {
              await c.acquireOnBehalfOf(borrower);
            } catch (error) {
              refused.push(error); // refusing the second acquire at once is fine
              return;
            }
            holding.push(borrower);
            await sleep(10);
            holding.splice(holding.indexOf(borrower), 1);
            c.releaseOnBehalfOf(borrower);
          });
        }
        await waitAllTasksBlocked();
        c.releaseOnBehalfOf("h1");
        c.releaseOnBehalfOf("h2");
        await waitAllTasksBlocked();
        expect(holding).toEqual(["x"]);
        expect(c.borrowedTokens).toBe(1);
      });
      for (const error of refused)
        expect((error as Error).message).toMatch(/one token per borrower/);
      expect(c.borrowedTokens).toBe(0);
    });
  });

  test("Infinity tokens: never blocks", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(Infinity);
      expect([c.totalTokens, c.availableTokens]).toEqual([Infinity, Infinity]);
      for (let i = 0; i < 100; i++) c.acquireOnBehalfOfNowait(i);
      expect([c.borrowedTokens, c.availableTokens]).toEqual([100, Infinity]);
    });
  });

  test("raising totalTokens wakes waiters at once, in FIFO order", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(2);
      const order: number[] = [];
      await openNursery(async (nursery) => {
        for (let i = 0; i < 5; i++) {
          await spawn(nursery, async () => {
            await c.acquireOnBehalfOf(i);
            order.push(i);
          });
        }
        expect(new Set(c.statistics().borrowers)).toEqual(new Set([0, 1]));
        expect(c.statistics().tasksWaiting).toBe(3);
        c.totalTokens += 2;
        // At once: the tokens are theirs before they even run.
        expect(new Set(c.statistics().borrowers)).toEqual(new Set([0, 1, 2, 3]));
        expect(c.statistics().tasksWaiting).toBe(1);
        c.totalTokens = Infinity;
        expect(c.borrowedTokens).toBe(5);
        expect(c.statistics().tasksWaiting).toBe(0);
      });
      expect(order).toEqual([0, 1, 2, 3, 4]);
    });
  });

  test("lowering totalTokens lets the holders finish; waiters get tokens only once borrowers drop below it", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(4);
      await openNursery(async (nursery) => {
        for (let i = 0; i < 5; i++) nursery.startSoon(() => c.acquireOnBehalfOf(i));
        await waitAllTasksBlocked();
        expect(c.borrowedTokens).toBe(4);
        c.totalTokens = 1;
        expect([c.totalTokens, c.borrowedTokens, c.availableTokens]).toEqual([1, 4, 0]);
        expect(() => c.acquireOnBehalfOfNowait("late")).toThrow(WouldBlock);
        c.releaseOnBehalfOf(0);
        c.releaseOnBehalfOf(1);
        c.releaseOnBehalfOf(2);
        expect(c.statistics().borrowers).toEqual([3]);
        expect(c.statistics().tasksWaiting).toBe(1);
        c.releaseOnBehalfOf(3);
        expect(c.statistics().borrowers).toEqual([4]);
        expect(c.statistics().tasksWaiting).toBe(0);
      });
      c.releaseOnBehalfOf(4);
      expect(c.borrowedTokens).toBe(0);
    });
  });

  test("cancelled waiters leave nothing behind: statistics are as before, a later release wakes nobody for them", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(1);
      await c.acquireOnBehalfOf("holder");
      const before = c.statistics();
      await openNursery(async (nursery) => {
        nursery.startSoon(() => c.acquire());
        nursery.startSoon(() => c.acquireOnBehalfOf("other"));
        await waitAllTasksBlocked();
        expect(c.statistics().tasksWaiting).toBe(2);
        nursery.cancelScope.cancel();
      });
      expect(c.statistics()).toEqual(before);
      c.releaseOnBehalfOf("holder");
      expect(c.statistics()).toEqual({
        borrowedTokens: 0,
        totalTokens: 1,
        borrowers: [],
        tasksWaiting: 0,
      });
      c.totalTokens = 3;
      expect(c.borrowedTokens).toBe(0);
      // "other" never became a borrower: it can borrow now.
      c.acquireOnBehalfOfNowait("other");
      expect(c.statistics().borrowers).toEqual(["other"]);
    });
  });

  test("acquireOnBehalfOf and releaseOnBehalfOf work with any value as borrower, from any task", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(2);
      const job = { id: 1 };
      await c.acquireOnBehalfOf(job);
      await c.acquireOnBehalfOf(0);
      expect(c.statistics().borrowers).toEqual([job, 0]);
      await openNursery(async (nursery) => {
        await spawn(nursery, async () => {
          await c.acquireOnBehalfOf(null); // waits: full
        });
        expect(c.statistics().tasksWaiting).toBe(1);
        nursery.startSoon(async () => c.releaseOnBehalfOf(job)); // released by another task
      });
      expect(c.statistics().borrowers).toEqual([0, null]);
      c.releaseOnBehalfOf(0);
      c.releaseOnBehalfOf(null);
      expect(c.borrowedTokens).toBe(0);
    });
  });

  test("release by a task (or for a borrower) that holds no token throws an Error and changes nothing", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(2);
      const message = "this borrower does not hold a token of this CapacityLimiter";
      expect(() => c.release()).toThrow(message);
      c.acquireOnBehalfOfNowait("a");
      expect(() => c.release()).toThrow(message);
      expect(() => c.releaseOnBehalfOf("b")).toThrow(message);
      expect(c.statistics().borrowers).toEqual(["a"]);
      c.releaseOnBehalfOf("a");
      expect(() => c.releaseOnBehalfOf("a")).toThrow(message);
      expect(c.borrowedTokens).toBe(0);
    });
  });

  test("await using limiter.guard() releases at block exit (for the task or a given borrower), also when the block throws", async () => {
    await runVirtual(async () => {
      const c = new CapacityLimiter(3);
      const me = lowlevel.currentTask();
      {
        await using _ = await c.guard();
        await using _b = await c.guard("b");
        expect(c.statistics().borrowers).toEqual([me, "b"]);
      }
      expect(c.borrowedTokens).toBe(0);
      const boom = new Error("boom");
      const error = await rejection(
        (async () => {
          await using _ = await c.guard();
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      expect(c.borrowedTokens).toBe(0);
    });
  });
});

// ---------------------------------------------------------------- Condition

describe("Condition", () => {
  test("wait, notify and notifyAll without holding the lock throw an Error", async () => {
    await runVirtual(async () => {
      const c = new Condition();
      await expect(c.wait()).rejects.toThrow("Condition.wait: the calling task must hold the lock");
      expect(() => c.notify()).toThrow("Condition.notify: the calling task must hold the lock");
      expect(() => c.notifyAll()).toThrow(/must hold the lock/);
      await openNursery(async (nursery) => {
        const go = new Event();
        await spawn(nursery, async () => {
          await c.acquire();
          await go.wait();
          c.release();
        });
        // Held, but by another task.
        await expect(c.wait()).rejects.toThrow(/must hold the lock/);
        expect(() => c.notify()).toThrow(/must hold the lock/);
        go.set();
      });
      expect(c.locked()).toBe(false);
    });
  });

  test("the condition's lock: given or a fresh Lock; acquire, acquireNowait, release and locked() act on it", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      const c = new Condition(lock);
      expect(c.lock).toBe(lock);
      expect(c.locked()).toBe(false);
      await c.acquire();
      expect(lock.locked()).toBe(true);
      expect(c.locked()).toBe(true);
      expect(() => c.acquireNowait()).toThrow(/not reentrant/);
      c.release();
      expect(lock.locked()).toBe(false);
      const d = new Condition();
      expect(d.lock).toBeInstanceOf(Lock);
      d.acquireNowait();
      expect(d.locked()).toBe(true);
      d.release();
    });
  });

  test("notify(n) wakes n waiters in FIFO order, each holding the lock again before its wait returns", async () => {
    await runVirtual(async () => {
      const c = new Condition();
      const woken: number[] = [];
      await openNursery(async (nursery) => {
        for (let i = 0; i < 4; i++) {
          await spawn(nursery, async () => {
            await c.acquire();
            await c.wait();
            expect(c.lock.statistics().owner).toBe(lowlevel.currentTask());
            woken.push(i);
            await checkpoint(); // holds it across a checkpoint: nobody else gets in
            c.release();
          });
        }
        expect(c.statistics()).toMatchObject({
          tasksWaiting: 4,
          lockStatistics: { locked: false },
        });
        await c.acquire();
        c.notify(2);
        expect(c.statistics()).toMatchObject({ tasksWaiting: 2 });
        expect(c.lock.statistics().tasksWaiting).toBe(2);
        await waitAllTasksBlocked();
        expect(woken).toEqual([]); // they need the lock first
        c.release();
        expect(c.lock.statistics().tasksWaiting).toBe(1); // handed to the first
        await waitAllTasksBlocked();
        expect(woken).toEqual([0, 1]);
        await c.acquire();
        c.notify(); // n = 1 by default
        c.release();
        await waitAllTasksBlocked();
        expect(woken).toEqual([0, 1, 2]);
        await c.acquire();
        c.notify(0);
        c.notify(5); // more than wait: all of them
        c.release();
      });
      expect(woken).toEqual([0, 1, 2, 3]);
      expect(c.locked()).toBe(false);
    });
  });

  test("notifyAll wakes every waiter in FIFO order; notifying with nobody waiting does nothing", async () => {
    await runVirtual(async () => {
      const c = new Condition();
      const woken: number[] = [];
      await c.acquire();
      c.notify();
      c.notifyAll();
      c.release();
      await openNursery(async (nursery) => {
        for (let i = 0; i < 3; i++) {
          await spawn(nursery, async () => {
            await c.acquire();
            await c.wait();
            woken.push(i);
            c.release();
          });
        }
        await c.acquire();
        c.notifyAll();
        expect(c.statistics().tasksWaiting).toBe(0);
        expect(c.lock.statistics().tasksWaiting).toBe(3);
        c.release();
      });
      expect(woken).toEqual([0, 1, 2]);
    });
  });

  test("notified waiters queue for the lock behind the tasks already waiting for it", async () => {
    await runVirtual(async () => {
      const c = new Condition();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        await spawn(nursery, async () => {
          await c.acquire();
          await c.wait();
          record.push("notified");
          c.release();
        });
        await c.acquire();
        await spawn(nursery, async () => {
          await c.acquire();
          record.push("queued");
          c.release();
        });
        c.notify();
        c.release();
      });
      expect(record).toEqual(["queued", "notified"]);
    });
  });

  test("a cancelled wait re-acquires the lock before throwing", async () => {
    await runVirtual(async () => {
      const c = new Condition();
      const me = lowlevel.currentTask();
      let error: unknown;
      const scope = new CancelScope();
      await scope.run(async () => {
        await c.acquire();
        scope.cancel();
        try {
          await c.wait();
        } catch (e) {
          error = e;
          expect(c.lock.statistics().owner).toBe(me);
        }
      });
      expect(error).toBeInstanceOf(Cancelled);
      expect(c.lock.statistics().owner).toBe(me);
      expect(c.statistics().tasksWaiting).toBe(0);
      c.release();
    });
  });

  test("a wait cancelled while another task holds the lock throws only once it has the lock back", async () => {
    await runVirtual(async () => {
      const c = new Condition();
      let caught: { error: unknown; time: number; owner: Task | null } | undefined;
      await openNursery(async (nursery) => {
        const scope = new CancelScope();
        const waiter = await spawn(nursery, () =>
          scope.run(async () => {
            await c.acquire();
            try {
              await c.wait();
            } catch (error) {
              caught = { error, time: currentTime(), owner: c.lock.statistics().owner };
              c.release();
              throw error;
            }
          }),
        );
        await c.acquire();
        scope.cancel();
        await waitAllTasksBlocked();
        expect(caught).toBeUndefined();
        expect(c.statistics().tasksWaiting).toBe(0);
        expect(c.lock.statistics().tasksWaiting).toBe(1);
        await sleep(10);
        c.release();
        await waitAllTasksBlocked();
        expect(caught).toEqual({ error: expect.any(Cancelled), time: 10, owner: waiter });
      });
    });
  });

  test("a wait cancelled after notify, while queued for the lock, still re-acquires it before throwing", async () => {
    await runVirtual(async () => {
      const c = new Condition();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        const scope = new CancelScope();
        await spawn(nursery, () =>
          scope.run(async () => {
            await c.acquire();
            try {
              await c.wait();
            } catch (error) {
              record.push(`${(error as Error).name}, owner: ${c.lock.statistics().owner !== null}`);
              c.release();
              throw error;
            }
          }),
        );
        await c.acquire();
        c.notify();
        await spawn(nursery, async () => {
          await c.acquire();
          record.push("queued after the notify");
          c.release();
        });
        expect(c.lock.statistics().tasksWaiting).toBe(2);
        scope.cancel();
        await waitAllTasksBlocked();
        expect(record).toEqual([]);
        // It left its place in the lock's queue and queued again, at the back.
        expect(c.lock.statistics().tasksWaiting).toBe(2);
        c.release();
      });
      expect(record).toEqual(["queued after the notify", "Cancelled, owner: true"]);
      expect(c.locked()).toBe(false);
    });
  });
});

// ---------------------------------------------------------------- Event

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

describe("deadlock reports", () => {
  test("a run stuck on primitives fails with a DeadlockError naming what each task waits for", async () => {
    const error = await rejection(
      runVirtual(async () => {
        const lock = new Lock();
        await lock.acquire();
        const limiter = new CapacityLimiter(1);
        limiter.acquireOnBehalfOfNowait("someone");
        const condition = new Condition();
        await openNursery(async (nursery) => {
          nursery.startSoon(() => lock.acquire(), { name: "lock waiter" });
          nursery.startSoon(() => new Semaphore(0).acquire(), { name: "semaphore waiter" });
          nursery.startSoon(() => limiter.acquire(), { name: "limiter waiter" });
          nursery.startSoon(() => condition.acquire().then(() => condition.wait()), {
            name: "condition waiter",
          });
          nursery.startSoon(() => new lowlevel.ParkingLot().park(), { name: "parker" });
          await new Event().wait();
        });
      }),
    );
    expect(error).toBeInstanceOf(DeadlockError);
    const message = (error as Error).message;
    expect(message).toContain('task "main": blocked in Event.wait');
    expect(message).toContain(
      'task "lock waiter": blocked in Lock.acquire (held by <task "main">)',
    );
    expect(message).toContain('task "semaphore waiter": blocked in Semaphore.acquire');
    expect(message).toContain('task "limiter waiter": blocked in CapacityLimiter.acquire');
    expect(message).toContain('task "condition waiter": blocked in Condition.wait');
    expect(message).toContain('task "parker": blocked in ParkingLot.park');
  });

  test("a notified Condition waiter is reported as waiting for the lock", async () => {
    const error = await rejection(
      runVirtual(async () => {
        const condition = new Condition();
        await openNursery(async (nursery) => {
          nursery.startSoon(() => condition.acquire().then(() => condition.wait()), {
            name: "notified",
          });
          await waitAllTasksBlocked();
          await condition.acquire();
          condition.notify();
          await new Event().wait(); // holding the lock
        });
      }),
    );
    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as Error).message).toContain(
      'task "notified": blocked in Lock.acquire (held by <task "main">)',
    );
  });
});

// ---------------------------------------------------------------- checkpoints

/** An awaited operation that would not block, with a snapshot of the state it may change. */
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
interface LoadKind {
  readonly name: string;
  readonly capacity: number;
  make(): { resource: LockLike; expectIdle(): void };
}

const loadKinds: LoadKind[] = [
  {
    name: "Lock",
    capacity: 1,
    make() {
      const lock = new Lock();
      return {
        resource: lock,
        expectIdle: () =>
          expect(lock.statistics()).toEqual({ locked: false, owner: null, tasksWaiting: 0 }),
      };
    },
  },
  {
    name: "Semaphore(3)",
    capacity: 3,
    make() {
      const s = new Semaphore(3, { maxValue: 3 });
      return {
        resource: s,
        expectIdle: () => expect([s.value, s.statistics().tasksWaiting]).toEqual([3, 0]),
      };
    },
  },
  {
    name: "CapacityLimiter(3)",
    capacity: 3,
    make() {
      const c = new CapacityLimiter(3);
      return {
        resource: c,
        expectIdle: () =>
          expect(c.statistics()).toEqual({
            borrowedTokens: 0,
            totalTokens: 3,
            borrowers: [],
            tasksWaiting: 0,
          }),
      };
    },
  },
];

interface LoadOptions {
  readonly tasks: number;
  readonly rounds: number;
  readonly seed: number;
  readonly scheduler?: Scheduler;
  /** Chance that an acquire is given a random timeout (0–3 ms) instead of none. */
  readonly timeoutRate?: number;
}

interface LoadReport {
  /** Ticket of each acquire call, in call order (cancelled ones removed). */
  readonly calls: number[];
  /** Ticket of each acquire, in the order they were granted. */
  readonly grants: number[];
  readonly maxHolders: number;
  readonly completed: number;
  readonly cancelled: number;
}

/**
 * `tasks` tasks each do `rounds` rounds of: random pause → acquire → random
 * pause holding it → release. A grant is the moment the acquiring task becomes
 * runnable with the resource (an instrument sees it); a cancelled acquire's
 * ticket is dropped from both lists.
 */
async function hammer(kind: LoadKind, options: LoadOptions): Promise<LoadReport> {
  const random = prng(options.seed);
  const { resource, expectIdle } = kind.make();
  const calls: number[] = [];
  const grants: number[] = [];
  const pending = new Map<Task, number>();
  let nextTicket = 0;
  let holders = 0;
  let maxHolders = 0;
  let completed = 0;
  let cancelled = 0;
  const instrument: Instrument = {
    taskScheduled(task) {
      const ticket = pending.get(task);
      if (ticket === undefined) return;
      pending.delete(task);
      grants.push(ticket);
    },
  };
  const pause = async (): Promise<void> => {
    const r = random();
    if (r < 0.3) return;
    if (r < 0.7) {
      for (let i = Math.floor(random() * 3); i >= 0; i--) await checkpoint();
    } else {
      await sleep(1 + Math.floor(random() * 3));
    }
  };
  const drop = (list: number[], ticket: number) => {
    const index = list.lastIndexOf(ticket);
    if (index >= 0) list.splice(index, 1);
  };
  const worker = async (): Promise<void> => {
    const me = lowlevel.currentTask();
    for (let round = 0; round < options.rounds; round++) {
      await pause();
      const timeout = random() < (options.timeoutRate ?? 0) ? Math.floor(random() * 4) : Infinity;
      const ticket = nextTicket++;
      calls.push(ticket);
      pending.set(me, ticket);
      let acquired = false;
      if (timeout === Infinity) {
        await resource.acquire();
        acquired = true;
      } else {
        await moveOnAfter(timeout, async () => {
          await resource.acquire();
          acquired = true;
        });
      }
      if (!acquired) {
        pending.delete(me);
        drop(calls, ticket);
        drop(grants, ticket);
        cancelled++;
        continue;
      }
      if (pending.has(me)) throw new Error(`acquire ${ticket} returned without being scheduled`);
      holders++;
      maxHolders = Math.max(maxHolders, holders);
      if (holders > kind.capacity) throw new Error(`${holders} holders of ${kind.name}`);
      await pause();
      holders--;
      resource.release();
      completed++;
    }
  };
  await runVirtual(
    async () => {
      lowlevel.addInstrument(instrument);
      await openNursery(async (nursery) => {
        for (let i = 0; i < options.tasks; i++) nursery.startSoon(worker, { name: `worker ${i}` });
      });
      lowlevel.removeInstrument(instrument);
      expectIdle();
    },
    options.scheduler === undefined ? {} : { scheduler: options.scheduler },
  );
  return { calls, grants, maxHolders, completed, cancelled };
}

describe.each(loadKinds)("$name under load", (kind) => {
  test(`mutual exclusion and FIFO grants: 50 tasks x 20 rounds, never more than ${kind.capacity} holders, granted in the order of the acquire calls`, async () => {
    const report = await hammer(kind, { tasks: 50, rounds: 20, seed: 1234 });
    expect(report.completed).toBe(1000);
    expect(report.maxHolders).toBe(kind.capacity); // contended, and never over
    expect(report.grants).toEqual(report.calls);
  });

  test("the same with waiters giving up at random timeouts: the others are still granted in call order", async () => {
    const report = await hammer(kind, {
      tasks: 30,
      rounds: 10,
      seed: 99,
      timeoutRate: 0.3,
      // One task per batch: no interleaving between a task's call and its queueing.
      scheduler: { selectBatch: (runnable) => [runnable[0]!] },
    });
    expect(report.cancelled).toBeGreaterThan(0);
    expect(report.completed + report.cancelled).toBe(300);
    expect(report.maxHolders).toBeLessThanOrEqual(kind.capacity);
    expect(report.grants).toEqual(report.calls);
  });

  test("property: under random schedules (and random timeouts), exclusive, FIFO, and idle at the end", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          schedulerSeed: fc.integer(),
          seed: fc.integer(),
          tasks: fc.integer({ min: 2, max: 8 }),
          rounds: fc.integer({ min: 1, max: 5 }),
          timeoutRate: fc.constantFrom(0, 0, 0.3),
        }),
        async ({ schedulerSeed, ...options }) => {
          const report = await hammer(kind, {
            ...options,
            scheduler: new RandomOneAtATimeScheduler(schedulerSeed),
          });
          expect(report.completed + report.cancelled).toBe(options.tasks * options.rounds);
          expect(report.maxHolders).toBeLessThanOrEqual(kind.capacity);
          expect(report.grants).toEqual(report.calls);
        },
      ),
      { numRuns: 60 },
    );
  });
});
