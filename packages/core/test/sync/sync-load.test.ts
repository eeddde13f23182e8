/** The sync primitives under load (random schedules). (Trio's src/trio/_tests/test_sync.py is the reference.) */
import {
  CapacityLimiter,
  checkpoint,
  type Instrument,
  Lock,
  lowlevel,
  moveOnAfter,
  openNursery,
  type Scheduler,
  Semaphore,
  sleep,
  type Task,
} from "@weft/core";
import { seededRandom } from "@weft/testing";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { runVirtual } from "../support/helpers.ts";
import type { LockLike } from "../support/sync.ts";
import { RandomOneAtATimeScheduler } from "../support/task-tree.ts";

const prng = seededRandom;

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
