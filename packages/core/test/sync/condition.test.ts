/** Condition: wait / notify with its lock. (Trio's src/trio/_tests/test_sync.py is the reference.) */
import {
  Cancelled,
  CancelScope,
  Condition,
  checkpoint,
  currentTime,
  Event,
  Lock,
  lowlevel,
  openNursery,
  sleep,
  type Task,
} from "@weft/core";
import { seededRandom, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { runVirtual } from "../support/helpers.ts";
import { spawn } from "../support/sync.ts";

const _prng = seededRandom;

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
