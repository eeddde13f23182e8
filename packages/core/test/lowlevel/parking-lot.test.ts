/**
 * lowlevel.ParkingLot: the FIFO queue of blocked tasks every synchronisation
 * primitive is built on, and the lot breakers that locks use. Behaviour ported
 * from Trio's src/trio/_core/_tests/test_parking_lot.py.
 */
import {
  BrokenResourceError,
  Cancelled,
  CancelScope,
  DeadlockError,
  Err,
  lowlevel,
  type Nursery,
  Ok,
  openNursery,
  sleepForever,
  type Task,
  type TaskStatus,
} from "@weft/core";
import { waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";

const { ParkingLot } = lowlevel;
type ParkingLot = lowlevel.ParkingLot;

interface Waiter {
  readonly task: Task;
  readonly scope: CancelScope;
}

/**
 * Starts a task that parks in `lot` and records `sleep NAME`, then `wake NAME`,
 * `cancelled NAME` or `broken NAME`; resolves once it is parked, so waiters
 * started one after the other queue in that order.
 */
async function parker(
  nursery: Nursery,
  lot: ParkingLot,
  name: string | number,
  record: string[],
): Promise<Waiter> {
  const waiter = await nursery.start(async (status: TaskStatus<Waiter>) => {
    const scope = new CancelScope();
    await scope.run(async () => {
      status.started({ task: lowlevel.currentTask(), scope });
      record.push(`sleep ${name}`);
      try {
        await lot.park();
        record.push(`wake ${name}`);
      } catch (error) {
        if (error instanceof Cancelled) record.push(`cancelled ${name}`);
        else if (error instanceof BrokenResourceError) record.push(`broken ${name}`);
        else throw error;
        throw error;
      }
    });
  });
  await waitAllTasksBlocked();
  return waiter;
}

/** Starts a task that only sleeps until cancelled, and returns it. */
function idleTask(nursery: Nursery): Promise<Task> {
  return nursery.start(async (status: TaskStatus<Task>) => {
    status.started(lowlevel.currentTask());
    await sleepForever();
  });
}

describe("ParkingLot", () => {
  test("unpark() wakes parked tasks one at a time in strict FIFO order", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        for (let i = 0; i < 5; i++) await parker(nursery, lot, i, record);
        expect(lot.size).toBe(5);
        for (let i = 0; i < 5; i++) {
          lot.unpark();
          expect(lot.size).toBe(4 - i);
          await waitAllTasksBlocked();
        }
      });
      expect(record).toEqual([
        ...[0, 1, 2, 3, 4].map((i) => `sleep ${i}`),
        ...[0, 1, 2, 3, 4].map((i) => `wake ${i}`),
      ]);
    });
  });

  test("a parked task stays blocked until it is unparked", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        await parker(nursery, lot, "a", record);
        for (let i = 0; i < 5; i++) await waitAllTasksBlocked();
        expect(record).toEqual(["sleep a"]);
        lot.unpark();
      });
      expect(record).toEqual(["sleep a", "wake a"]);
    });
  });

  test("unpark(count) wakes the first count tasks and returns them in FIFO order", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        const waiters: Waiter[] = [];
        for (let i = 0; i < 4; i++) waiters.push(await parker(nursery, lot, i, record));
        const woken = lot.unpark(2);
        expect(woken).toEqual([waiters[0]!.task, waiters[1]!.task]);
        expect(lot.size).toBe(2);
        await waitAllTasksBlocked();
        expect(record.slice(4).sort()).toEqual(["wake 0", "wake 1"]);
        expect(lot.unpark(0)).toEqual([]);
        expect(lot.unpark(100)).toEqual([waiters[2]!.task, waiters[3]!.task]);
      });
    });
  });

  test("unpark on an empty lot is a no-op that returns no tasks", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      expect(lot.unpark()).toEqual([]);
      expect(lot.unpark(1)).toEqual([]);
      expect(lot.unpark(100)).toEqual([]);
      expect(lot.unparkAll()).toEqual([]);
    });
  });

  test("unparkAll wakes every parked task, returns them in FIFO order and empties the lot at once", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        const waiters: Waiter[] = [];
        for (let i = 0; i < 3; i++) waiters.push(await parker(nursery, lot, i, record));
        expect(lot.statistics()).toEqual({ tasksWaiting: 3 });
        expect(lot.unparkAll()).toEqual(waiters.map((w) => w.task));
        expect(lot.statistics()).toEqual({ tasksWaiting: 0 });
        expect(lot.size).toBe(0);
      });
      expect(record.slice(3).sort()).toEqual(["wake 0", "wake 1", "wake 2"]);
    });
  });

  test("statistics().tasksWaiting and size count the parked tasks", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      expect(lot.size).toBe(0);
      expect(lot.statistics()).toEqual({ tasksWaiting: 0 });
      await openNursery(async (nursery) => {
        for (let i = 1; i <= 3; i++) {
          await parker(nursery, lot, i, []);
          expect(lot.size).toBe(i);
          expect(lot.statistics()).toEqual({ tasksWaiting: i });
        }
        lot.unparkAll();
      });
    });
  });

  test("a cancelled park leaves the queue: size and statistics drop, the others still wake in order", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        const waiters: Waiter[] = [];
        for (let i = 1; i <= 3; i++) waiters.push(await parker(nursery, lot, i, record));
        waiters[1]!.scope.cancel();
        await waitAllTasksBlocked();
        expect(record).toEqual(["sleep 1", "sleep 2", "sleep 3", "cancelled 2"]);
        expect(lot.size).toBe(2);
        expect(lot.statistics().tasksWaiting).toBe(2);
        expect(lot.unpark()).toEqual([waiters[0]!.task]);
        expect(lot.unpark()).toEqual([waiters[2]!.task]);
      });
      expect(record).toEqual(["sleep 1", "sleep 2", "sleep 3", "cancelled 2", "wake 1", "wake 3"]);
    });
  });

  test("park in an already cancelled scope throws Cancelled and leaves nothing in the lot", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const scope = new CancelScope();
      scope.cancel();
      let error: unknown;
      await scope.run(async () => {
        error = await rejection(lot.park());
      });
      expect(error).toBeInstanceOf(Cancelled);
      expect(lot.size).toBe(0);
    });
  });

  test("repark(lot, count) moves the first count tasks without waking them; they wake from the new lot after its own waiters", async () => {
    await runVirtual(async () => {
      const lot1 = new ParkingLot();
      const lot2 = new ParkingLot();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        const a = await parker(nursery, lot1, "a", record);
        const b = await parker(nursery, lot1, "b", record);
        const c = await parker(nursery, lot1, "c", record);
        const x = await parker(nursery, lot2, "x", record);
        lot1.repark(lot2, 2);
        expect(lot1.size).toBe(1);
        expect(lot2.size).toBe(3);
        await waitAllTasksBlocked();
        expect(record).toEqual(["sleep a", "sleep b", "sleep c", "sleep x"]);
        // lot2's own waiter first, then the moved tasks in their old order.
        expect(lot2.unpark()).toEqual([x.task]);
        expect(lot2.unpark()).toEqual([a.task]);
        expect(lot2.unpark()).toEqual([b.task]);
        expect(lot2.unpark()).toEqual([]);
        expect(lot1.unpark()).toEqual([c.task]);
      });
      expect(record.slice(4).sort()).toEqual(["wake a", "wake b", "wake c", "wake x"]);
    });
  });

  test("repark(lot) moves one task by default and reparkAll(lot) moves every task", async () => {
    await runVirtual(async () => {
      const lot1 = new ParkingLot();
      const lot2 = new ParkingLot();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        const waiters: Waiter[] = [];
        for (let i = 1; i <= 3; i++) waiters.push(await parker(nursery, lot1, i, record));
        lot1.repark(lot2);
        expect([lot1.size, lot2.size]).toEqual([2, 1]);
        expect(lot2.unparkAll()).toEqual([waiters[0]!.task]);
        await waitAllTasksBlocked();
        expect(record).toEqual(["sleep 1", "sleep 2", "sleep 3", "wake 1"]);
        lot1.reparkAll(lot2);
        expect([lot1.size, lot2.size]).toEqual([0, 2]);
        await waitAllTasksBlocked();
        expect(record).toEqual(["sleep 1", "sleep 2", "sleep 3", "wake 1"]);
        expect(lot1.unparkAll()).toEqual([]);
        expect(lot2.unparkAll()).toEqual([waiters[1]!.task, waiters[2]!.task]);
      });
    });
  });

  test("a reparked task that is cancelled leaves its new lot", async () => {
    await runVirtual(async () => {
      const lot1 = new ParkingLot();
      const lot2 = new ParkingLot();
      const record: string[] = [];
      await openNursery(async (nursery) => {
        const w1 = await parker(nursery, lot1, 1, record);
        const w2 = await parker(nursery, lot1, 2, record);
        lot1.reparkAll(lot2);
        w1.scope.cancel();
        await waitAllTasksBlocked();
        expect(record).toEqual(["sleep 1", "sleep 2", "cancelled 1"]);
        expect(lot1.size).toBe(0);
        expect(lot2.size).toBe(1);
        expect(lot2.unparkAll()).toEqual([w2.task]);
      });
      expect(record).toEqual(["sleep 1", "sleep 2", "cancelled 1", "wake 2"]);
    });
  });

  test("breakLot wakes every parked task with BrokenResourceError, and later parks fail at once", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const record: string[] = [];
      const errors: unknown[] = [];
      await openNursery(async (nursery) => {
        for (let i = 1; i <= 3; i++) {
          nursery.startSoon(async () => {
            record.push(`sleep ${i}`);
            errors.push(await rejection(lot.park()));
          });
          await waitAllTasksBlocked();
        }
        expect(lot.broken).toBe(false);
        lot.breakLot();
        expect(lot.broken).toBe(true);
        expect(lot.size).toBe(0);
        expect(lot.statistics()).toEqual({ tasksWaiting: 0 });
      });
      expect(errors).toHaveLength(3);
      for (const error of errors) {
        expect(error).toBeInstanceOf(BrokenResourceError);
        expect((error as Error).message).toMatch(/parking lot broken/);
      }
      const later = await rejection(lot.park());
      expect(later).toBeInstanceOf(BrokenResourceError);
      expect(lot.size).toBe(0);
      lot.breakLot(); // idempotent
      expect(lot.broken).toBe(true);
    });
  });

  test("breakLot(task) names the task that broke the lot in the error", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      lot.breakLot(lowlevel.currentTask());
      const error = await rejection(lot.park());
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).message).toBe(
        `parking lot broken by ${String(lowlevel.currentTask())}`,
      );
    });
  });

  test("a task parked in a lot can be named as the one that broke it", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const record: string[] = [];
      const error = await rejection(
        openNursery(async (nursery) => {
          const w = await parker(nursery, lot, "self", record);
          lot.breakLot(w.task);
        }),
      );
      expect(record).toEqual(["sleep self", "broken self"]);
      expect((error as AggregateError).errors[0]).toBeInstanceOf(BrokenResourceError);
    });
  });

  test("repark into a broken lot wakes the moved tasks with BrokenResourceError", async () => {
    await runVirtual(async () => {
      const lot1 = new ParkingLot();
      const lot2 = new ParkingLot();
      lot2.breakLot();
      const record: string[] = [];
      await rejection(
        openNursery(async (nursery) => {
          await parker(nursery, lot1, 1, record);
          await parker(nursery, lot1, 2, record);
          lot1.repark(lot2);
          expect(lot1.size).toBe(1);
          expect(lot2.size).toBe(0);
          // Wake the other one before the broken one's error cancels the nursery.
          lot1.unparkAll();
        }),
      );
      expect(record).toEqual(["sleep 1", "sleep 2", "broken 1", "wake 2"]);
    });
  });

  test("addParkingLotBreaker: the lot is broken when the registered task exits", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const record: string[] = [];
      const scope = new CancelScope();
      const error = await rejection(
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            lowlevel.addParkingLotBreaker(lowlevel.currentTask(), lot);
            await scope.run(() => sleepForever());
          });
          await waitAllTasksBlocked();
          await parker(nursery, lot, "p", record);
          expect(lot.broken).toBe(false);
          scope.cancel(); // the breaker exits without deregistering
        }),
      );
      expect(lot.broken).toBe(true);
      expect(record).toEqual(["sleep p", "broken p"]);
      const broken = (error as AggregateError).errors;
      expect(broken).toHaveLength(1);
      expect(broken[0]).toBeInstanceOf(BrokenResourceError);
      expect((broken[0] as Error).message).toMatch(/^parking lot broken by <task /);
    });
  });

  test("a breaker that exits by an error breaks the lot too", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const boom = new Error("boom");
      const error = await rejection(
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            lowlevel.addParkingLotBreaker(lowlevel.currentTask(), lot);
            throw boom;
          });
        }),
      );
      expect((error as AggregateError).errors).toEqual([boom]);
      expect(lot.broken).toBe(true);
    });
  });

  test("several breakers of one lot: the first to exit breaks it", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      await openNursery(async (nursery) => {
        const t1 = await idleTask(nursery);
        const t2 = await idleTask(nursery);
        lowlevel.addParkingLotBreaker(t1, lot);
        lowlevel.addParkingLotBreaker(t2, lot);
        nursery.cancelScope.cancel();
      });
      expect(lot.broken).toBe(true);
    });
  });

  test("removeParkingLotBreaker: a deregistered task exits without breaking the lot", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          const me = lowlevel.currentTask();
          lowlevel.addParkingLotBreaker(me, lot);
          lowlevel.removeParkingLotBreaker(me, lot);
        });
      });
      expect(lot.broken).toBe(false);
      await openNursery(async (nursery) => {
        nursery.startSoon(() => lot.park());
        await waitAllTasksBlocked();
        lot.unpark();
      });
    });
  });

  test("removeParkingLotBreaker for a task that is not registered throws an Error", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const me = lowlevel.currentTask();
      expect(() => lowlevel.removeParkingLotBreaker(me, lot)).toThrow(
        "removeParkingLotBreaker: this task is not registered as a breaker of this lot",
      );
      lowlevel.addParkingLotBreaker(me, lot);
      lowlevel.removeParkingLotBreaker(me, lot);
      expect(() => lowlevel.removeParkingLotBreaker(me, lot)).toThrow(Error);
    });
  });

  // Trio (test_parking_lot_breaker_registration): registrations are counted,
  // each add is undone by one remove.
  test("a task may be registered as a breaker of the same lot several times; each add pairs with one remove", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const me = lowlevel.currentTask();
      lowlevel.addParkingLotBreaker(me, lot);
      lowlevel.addParkingLotBreaker(me, lot);
      lowlevel.removeParkingLotBreaker(me, lot);
      lowlevel.removeParkingLotBreaker(me, lot);
      expect(() => lowlevel.removeParkingLotBreaker(me, lot)).toThrow(Error);
    });
  });

  // Trio (test_parking_lot_breaker_register_exited_task): registering a task
  // that already exited fails, instead of a lot that is silently never broken.
  test("registering a task that already exited as a breaker throws BrokenResourceError", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      let exited: Task | undefined;
      await openNursery(async (nursery) => {
        exited = await idleTask(nursery);
        nursery.cancelScope.cancel();
      });
      expect(() => lowlevel.addParkingLotBreaker(exited!, lot)).toThrow(BrokenResourceError);
    });
  });

  test("bad input: count must be a non-negative integer or Infinity, newLot a ParkingLot", async () => {
    await runVirtual(async () => {
      const lot = new ParkingLot();
      const other = new ParkingLot();
      for (const count of [-1, Number.NaN, 1.5, -Infinity]) {
        expect(() => lot.unpark(count)).toThrow(RangeError);
        expect(() => lot.unpark(count)).toThrow(/count/);
        expect(() => lot.repark(other, count)).toThrow(RangeError);
        expect(() => lot.repark(other, count)).toThrow(/count/);
      }
      for (const count of ["1", null, 1n, {}]) {
        expect(() => lot.unpark(count as never)).toThrow(TypeError);
        expect(() => lot.unpark(count as never)).toThrow(/count/);
        expect(() => lot.repark(other, count as never)).toThrow(TypeError);
      }
      for (const notALot of [{}, [], null, undefined, "lot", { park() {}, unpark() {} }]) {
        expect(() => lot.repark(notALot as never)).toThrow(TypeError);
        expect(() => lot.repark(notALot as never)).toThrow(/newLot/);
        expect(() => lot.reparkAll(notALot as never)).toThrow(TypeError);
      }
      expect(() => new ParkingLot(42 as never)).toThrow(TypeError);
      expect(() => new ParkingLot(42 as never)).toThrow(/waitingFor/);
      expect(() => lowlevel.addParkingLotBreaker({} as never, lot)).toThrow(TypeError);
      expect(() => lowlevel.removeParkingLotBreaker("task" as never, lot)).toThrow(TypeError);
    });
  });

  test("park outside run() throws an Error that says so", async () => {
    const lot = new ParkingLot();
    await expectRejects(() => lot.park(), /outside|run\(\)/);
  });
});

describe("ParkingLot: outcomes and external waits", () => {
  test("unpark(count, outcome) hands the value to park(), or its error", async () => {
    const got: unknown[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        const lot = new lowlevel.ParkingLot();
        nursery.startSoon(async () => {
          got.push(await lot.park<string>());
        });
        nursery.startSoon(async () => {
          try {
            await lot.park();
          } catch (error) {
            got.push(error);
          }
        });
        await waitAllTasksBlocked();
        lot.unpark(1, Ok("a value"));
        const boom = new Error("boom");
        lot.unparkAll(Err(boom));
      }),
    );
    expect(got[0]).toBe("a value");
    expect(String(got[1])).toMatch(/boom/);
  });

  test("unpark with something that is not a Result is a TypeError, and wakes nobody", async () => {
    await runVirtual(() =>
      openNursery(async (nursery) => {
        const lot = new lowlevel.ParkingLot();
        nursery.startSoon(() => lot.park());
        await waitAllTasksBlocked();
        expect(() => lot.unpark(1, { ok: true } as never)).toThrow(/outcome/);
        expect(lot.size).toBe(1);
        lot.unpark();
      }),
    );
  });

  test("a task parked in an external lot is not a deadlock; in a plain lot it is", async () => {
    const external = new lowlevel.ParkingLot("I/O", { external: true });
    let woken = false;
    await runVirtual(async () => {
      setTimeout(() => external.unpark(), 5); // an I/O callback
      await external.park();
      woken = true;
    });
    expect(woken).toBe(true);
    const plain = await rejection(runVirtual(() => new lowlevel.ParkingLot("nothing").park()));
    expect(plain).toBeInstanceOf(DeadlockError);
  });

  test("options must be an object with a boolean external", () => {
    expect(() => new lowlevel.ParkingLot("x", null as never)).toThrow(TypeError);
    expect(() => new lowlevel.ParkingLot("x", { external: 1 as never })).toThrow(/external/);
  });
});
