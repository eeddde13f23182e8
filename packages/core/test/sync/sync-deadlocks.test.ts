/** Deadlock reports name what each blocked task waits on. (Trio's src/trio/_tests/test_sync.py is the reference.) */
import {
  CapacityLimiter,
  Condition,
  DeadlockError,
  Event,
  Lock,
  lowlevel,
  openNursery,
  Semaphore,
} from "@weft/core";
import { seededRandom, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";

const _prng = seededRandom;

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
