/** CapacityLimiter: borrowers, tokens, total changes. (Trio's src/trio/_tests/test_sync.py is the reference.) */
import { CapacityLimiter, lowlevel, openNursery, sleep, WouldBlock } from "@weft/core";
import { seededRandom, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";
import { spawn } from "../support/sync.ts";

const _prng = seededRandom;

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
