/** weftProperty / weftAsyncProperty: fast-check properties run under generated schedules. */
import { checkpoint, Lock, openNursery, run } from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { DeterministicScheduler, MockClock } from "../src/index.ts";
import { weftAsyncProperty, weftProperty } from "../src/vitest.ts";

/** `tasks` tasks each add 1 to a counter by read-checkpoint-write, optionally under a lock. */
async function increments(tasks: number, locked: boolean): Promise<number> {
  let counter = 0;
  const lock = new Lock();
  const increment = async () => {
    const v = counter;
    await checkpoint();
    counter = v + 1;
  };
  await openNursery(async (nursery) => {
    for (let i = 0; i < tasks; i++)
      nursery.startSoon(
        async () => {
          for (let k = 0; k < i; k++) await checkpoint(); // later tasks start later
          await (locked ? lock.withLock(increment) : increment());
        },
        { name: `inc${i}` },
      );
  });
  return counter;
}

describe("weftProperty", () => {
  weftProperty(
    "a property that holds under every schedule passes",
    [fc.integer({ min: 1, max: 4 })],
    async (tasks, scheduler) => {
      expect(scheduler).toBeInstanceOf(DeterministicScheduler);
      expect(await increments(tasks, true)).toBe(tasks);
    },
    { fc: { numRuns: 50, seed: 1 } },
  );

  weftProperty(
    "the body runs on an autojumping MockClock",
    [],
    async () => {
      const { lowlevel } = await import("@weft/core");
      expect(lowlevel.currentClock()).toBeInstanceOf(MockClock);
    },
    { fc: { numRuns: 5 } },
  );
});

describe("weftAsyncProperty", () => {
  test("a racy property fails with the shrunk scheduler's replay and trace", async () => {
    const details = await fc.check(
      weftAsyncProperty([fc.integer({ min: 2, max: 4 })], async (tasks) => {
        expect(await increments(tasks, false)).toBe(tasks);
      }),
      { seed: 1, numRuns: 200 },
    );
    expect(details.failed).toBe(true);
    const report = fc.defaultReportMessage(details)!;
    expect(report).toContain("DeterministicScheduler({ choices:");
    expect(report).toMatch(/step +1: /);
    const [tasks, schedule] = details.counterexample!;
    expect(schedule.scheduler).toBeInstanceOf(DeterministicScheduler);
    // The printed trace is of one run only (not of reuses while shrinking `tasks`).
    expect(String(schedule).match(/<init>/g)).toHaveLength(2);
    // The printed choices replay the failure.
    const choices = JSON.parse(/choices: (\[[0-9, ]*\])/.exec(String(schedule))![1]!) as number[];
    const replayed = await run(() => increments(tasks, false), {
      scheduler: new DeterministicScheduler({ choices, afterChoices: "fifo" }),
      clock: new MockClock({ autojumpThreshold: 0 }),
    });
    expect(replayed).toBeLessThan(tasks);
  });

  test("weftProperty's assertion error carries the replay", async () => {
    await expect(
      fc.assert(
        weftAsyncProperty([], async () => {
          expect(await increments(2, false)).toBe(2);
        }),
        { seed: 2, numRuns: 200 },
      ),
    ).rejects.toThrow(/DeterministicScheduler\(\{ choices: \[/);
  });

  test("rejects bad arguments", () => {
    expect(() => weftAsyncProperty(null as never, async () => {})).toThrow(TypeError);
    expect(() => weftAsyncProperty([], async () => {}, { schedules: { maxChoice: 0 } })).toThrow(
      RangeError,
    );
  });
});

describe("weftAsyncProperty's run options", () => {
  test("closedWorld is accepted: every run of a property has a virtual clock", async () => {
    await fc.assert(
      weftAsyncProperty(
        [fc.nat(3)],
        async (n) => {
          for (let i = 0; i < n; i++) await checkpoint();
        },
        { closedWorld: true },
      ),
      { numRuns: 5 },
    );
  });
});
