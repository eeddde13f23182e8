/**
 * DeterministicScheduler and schedules(): one task step at a time, every
 * choice recorded and replayable; fast-check schedule exploration that finds
 * races and shrinks them toward the plain FIFO order.
 */
import { checkpoint, Lock, openNursery, run, sleep } from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { DeterministicScheduler, MockClock, schedules } from "../src/index.ts";

const autojump = () => new MockClock({ autojumpThreshold: 0 });

/** Three tasks that log each step; returns the log. */
async function threeWorkers(scheduler: DeterministicScheduler): Promise<string[]> {
  const log: string[] = [];
  await run(
    async () => {
      await openNursery(async (nursery) => {
        for (const name of ["a", "b", "c"]) {
          nursery.startSoon(
            async () => {
              for (let i = 0; i < 5; i++) {
                log.push(`${name}${i}`);
                await checkpoint();
              }
              await sleep(name === "b" ? 1 : 2);
              log.push(`${name} woke`);
            },
            { name },
          );
        }
      });
    },
    { scheduler, clock: autojump() },
  );
  return log;
}

/**
 * Two tasks doing a read-checkpoint-write on a shared counter; returns the
 * counter. The second first does some other work (two checkpoints), so the
 * plain FIFO order happens to pass: only some interleavings lose an update.
 */
async function lostUpdate(scheduler: DeterministicScheduler, locked: boolean): Promise<number> {
  let counter = 0;
  const lock = new Lock();
  const increment = async () => {
    const v = counter;
    await checkpoint();
    counter = v + 1;
  };
  const update = locked ? () => lock.withLock(increment) : increment;
  await run(
    async () => {
      await openNursery(async (nursery) => {
        nursery.startSoon(update, { name: "inc1" });
        nursery.startSoon(
          async () => {
            await checkpoint();
            await checkpoint();
            await update();
          },
          { name: "inc2" },
        );
      });
    },
    { scheduler, clock: autojump() },
  );
  return counter;
}

/** A check-then-act cache: a second caller arriving during the slow fetch fetches again. */
async function cacheFetches(scheduler: DeterministicScheduler): Promise<number> {
  const cache = new Map<string, number>();
  let fetches = 0;
  const get = async (key: string) => {
    if (!cache.has(key)) {
      fetches++;
      for (let i = 0; i < 3; i++) await checkpoint(); // the slow fetch
      cache.set(key, 1);
    }
    return cache.get(key);
  };
  await run(
    async () => {
      await openNursery(async (nursery) => {
        nursery.startSoon(() => get("x"), { name: "first" });
        nursery.startSoon(
          async () => {
            for (let i = 0; i < 5; i++) await checkpoint();
            await get("x");
          },
          { name: "later" },
        );
      });
    },
    { scheduler, clock: autojump() },
  );
  return fetches;
}

/** The choices of a printed replay, `new DeterministicScheduler({ choices: [...], ... })`. */
function printedChoices(printed: string): number[] {
  return JSON.parse(/choices: (\[[0-9, ]*\])/.exec(printed)![1]!) as number[];
}

/** `n` tasks that each take two steps. */
async function nTasks(scheduler: DeterministicScheduler, n: number): Promise<void> {
  await run(
    async () => {
      await openNursery(async (nursery) => {
        for (let i = 0; i < n; i++) nursery.startSoon(() => checkpoint(), { name: `t${i}` });
      });
    },
    { scheduler, clock: autojump() },
  );
}

describe("DeterministicScheduler", () => {
  test("replaying the recorded choices gives the same event log", async () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const first = new DeterministicScheduler({ seed });
      const log = await threeWorkers(first);
      expect(first.choices.length).toBeGreaterThan(0);
      const replay = new DeterministicScheduler({ choices: first.choices });
      expect(await threeWorkers(replay)).toEqual(log);
      expect(replay.choices).toEqual(first.choices);
      expect(replay.steps).toBe(first.steps);
      // The same seed is the same run, too.
      expect(await threeWorkers(new DeterministicScheduler({ seed }))).toEqual(log);
    }
  });

  test("different seeds give different interleavings", async () => {
    const logs = new Set<string>();
    for (let seed = 1; seed <= 10; seed++)
      logs.add((await threeWorkers(new DeterministicScheduler({ seed }))).join(" "));
    expect(logs.size).toBeGreaterThan(5);
    const pct = new Set<string>();
    for (let seed = 1; seed <= 10; seed++)
      pct.add((await threeWorkers(new DeterministicScheduler({ seed, mode: "pct" }))).join(" "));
    expect(pct.size).toBeGreaterThan(3);
  });

  test("choice 0 is FIFO: all-zero choices and choices past the list in fifo mode", async () => {
    // The default scheduler's batches run the tasks in the same order as always choosing 0.
    const fifoLog: string[] = [];
    await run(
      async () => {
        await openNursery(async (nursery) => {
          for (const name of ["a", "b", "c"])
            nursery.startSoon(async () => {
              for (let i = 0; i < 5; i++) {
                fifoLog.push(`${name}${i}`);
                await checkpoint();
              }
              await sleep(name === "b" ? 1 : 2);
              fifoLog.push(`${name} woke`);
            });
        });
      },
      { clock: autojump() },
    );
    const zeros = new DeterministicScheduler({ afterChoices: "fifo" });
    expect(await threeWorkers(zeros)).toEqual(fifoLog);
    expect(zeros.choices.every((c) => c === 0)).toBe(true);
    // A short list, then FIFO: the same as the list padded with zeros.
    const short = new DeterministicScheduler({ choices: [2, 1], afterChoices: "fifo" });
    const log = await threeWorkers(short);
    expect(short.choices.slice(0, 2)).toEqual([2, 1]);
    expect(short.choices.slice(2).every((c) => c === 0)).toBe(true);
    const padded = new DeterministicScheduler({ choices: [2, 1, ...Array(40).fill(0)] });
    expect(await threeWorkers(padded)).toEqual(log);
    expect(log.slice(0, 2)).toEqual(["c0", "b0"]);
  });

  test("wrapChoices takes choices modulo the runnable count; otherwise a divergence is an Error", async () => {
    const wrapped = new DeterministicScheduler({
      choices: [5, 4],
      wrapChoices: true,
      afterChoices: "fifo",
    });
    const log = await threeWorkers(wrapped);
    expect(wrapped.choices.slice(0, 2)).toEqual([2, 1]); // 5 % 3, 4 % 3
    expect(log.slice(0, 2)).toEqual(["c0", "b0"]);
    await expect(threeWorkers(new DeterministicScheduler({ choices: [5] }))).rejects.toThrow(
      /replay diverged.*choice 0.*is 5 but only 3 tasks are runnable/s,
    );
  });

  test("trace names the task of each step and how many were runnable", async () => {
    const scheduler = new DeterministicScheduler({ choices: [1], afterChoices: "fifo" });
    await lostUpdate(scheduler, false);
    const trace = scheduler.trace();
    expect(trace).toMatch(/step +1: .* \(1 of 1 runnable\)/);
    expect(trace).toMatch(/inc2#\d+ \(2 of 2 runnable: inc1#\d+, \[inc2#\d+\]; choice 0 = 1\)/);
    expect(trace.split("\n")).toHaveLength(scheduler.steps);
    const limited = new DeterministicScheduler({ traceLimit: 2 });
    await lostUpdate(limited, false);
    expect(limited.trace().split("\n")).toHaveLength(3);
    expect(limited.trace()).toMatch(/more steps not kept/);
    expect(String(scheduler)).toMatch(
      /^new DeterministicScheduler\(\{ choices: \[1\], afterChoices: "fifo" \}\)\nstep/,
    );
  });

  test("checks its options", () => {
    expect(() => new DeterministicScheduler({ choices: [-1] })).toThrow(RangeError);
    expect(() => new DeterministicScheduler({ choices: [0.5] })).toThrow(RangeError);
    expect(() => new DeterministicScheduler({ mode: "x" as never })).toThrow(TypeError);
    expect(() => new DeterministicScheduler({ seed: Number.NaN })).toThrow(RangeError);
    expect(() => new DeterministicScheduler({ pctDepth: 0 })).toThrow(RangeError);
  });
});

describe("schedules()", () => {
  test("each generated scheduler is fresh", () => {
    const samples = fc.sample(schedules(), 20);
    expect(new Set(samples).size).toBe(20);
    for (const s of samples) expect(s.steps).toBe(0);
  });

  test("a counterexample prints its own run when another value shrinks beside the schedule", async () => {
    // Fails from 3 tasks up: n shrinks to 3, then fast-check tries 2, 1 and 0
    // (which pass) with the schedule value of the counterexample.
    for (const mode of ["uniform", "pct"] as const) {
      for (const seed of [1, 2, 3]) {
        const details = await fc.check(
          fc.asyncProperty(schedules({ mode }), fc.nat({ max: 8 }), async (scheduler, n) => {
            await nTasks(scheduler, n);
            return n < 3;
          }),
          { seed },
        );
        const [scheduler, n] = details.counterexample!;
        expect(n).toBe(3);
        const printed = String(scheduler);
        const replay = new DeterministicScheduler({
          choices: printedChoices(printed),
          afterChoices: "fifo",
        });
        await nTasks(replay, n);
        // The replay line and the trace are those of the run of exactly these values.
        expect(printed).toBe(String(replay));
        expect(scheduler.steps).toBe(2 + 2 * n + 2);
        expect(fc.defaultReportMessage(details)).toContain(String(replay));
      }
    }
  });

  test("fast-check clones a scheduler into a fresh one with the same options", async () => {
    const scheduler = new DeterministicScheduler({ seed: 5, mode: "pct", pctDepth: 2 });
    await nTasks(scheduler, 3);
    expect(fc.hasCloneMethod(scheduler)).toBe(true);
    const clone = fc.cloneIfNeeded(scheduler);
    expect(clone).not.toBe(scheduler);
    expect(clone.steps).toBe(0);
    expect(String(clone)).toBe(
      'new DeterministicScheduler({"seed":5,"mode":"pct","pctDepth":2,"choices":[]})',
    );
    await nTasks(clone, 3);
    expect(String(clone)).toBe(String(scheduler));
  });

  test("finds the lost update and shrinks it to a minimal replayable schedule", async () => {
    const details = await fc.check(
      fc.asyncProperty(schedules(), async (scheduler) => {
        expect(await lostUpdate(scheduler, false)).toBe(2);
      }),
      { seed: 1, numRuns: 200 },
    );
    expect(details.failed).toBe(true);
    const [scheduler] = details.counterexample!;
    expect(await lostUpdate(new DeterministicScheduler({ afterChoices: "fifo" }), false)).toBe(2); // FIFO passes
    const replay = String(scheduler);
    expect(replay).toMatch(/^new DeterministicScheduler\(\{ choices: \[[0-9, ]*\], afterChoices/);
    const choices = JSON.parse(/choices: (\[[0-9, ]*\])/.exec(replay)![1]!) as number[];
    expect(choices.length).toBeLessThanOrEqual(3);
    console.log(`lost update counterexample:\n${replay}`);
    // The printed replay reproduces the failure.
    expect(
      await lostUpdate(new DeterministicScheduler({ choices, afterChoices: "fifo" }), false),
    ).toBe(1);
    // fast-check's report contains the replay too.
    expect(fc.defaultReportMessage(details)).toContain("new DeterministicScheduler({ choices: [");
  });

  test("pct schedules find the lost update and shrink to a choice list", async () => {
    const details = await fc.check(
      fc.asyncProperty(schedules({ mode: "pct" }), async (scheduler) => {
        expect(await lostUpdate(scheduler, false)).toBe(2);
      }),
      { seed: 7, numRuns: 200 },
    );
    expect(details.failed).toBe(true);
    const replay = String(details.counterexample![0]);
    const choices = JSON.parse(/choices: (\[[0-9, ]*\])/.exec(replay)![1]!) as number[];
    expect(choices.length).toBeLessThanOrEqual(3);
  });

  test("the locked version passes under every explored schedule", async () => {
    await fc.assert(
      fc.asyncProperty(schedules(), async (scheduler) => {
        expect(await lostUpdate(scheduler, true)).toBe(2);
      }),
      { seed: 1, numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(schedules({ mode: "pct" }), async (scheduler) => {
        expect(await lostUpdate(scheduler, true)).toBe(2);
      }),
      { seed: 1, numRuns: 200 },
    );
  });

  test("finds the check-then-act cache bug in both modes; the printed replay reproduces it", async () => {
    expect(await cacheFetches(new DeterministicScheduler({ afterChoices: "fifo" }))).toBe(1);
    for (const mode of ["uniform", "pct"] as const) {
      const details = await fc.check(
        fc.asyncProperty(schedules({ mode }), async (scheduler) => {
          expect(await cacheFetches(scheduler)).toBe(1);
        }),
        { seed: 3, numRuns: 500 },
      );
      expect(details.failed).toBe(true);
      const replay = String(details.counterexample![0]);
      const choices = JSON.parse(/choices: (\[[0-9, ]*\])/.exec(replay)![1]!) as number[];
      expect(
        await cacheFetches(new DeterministicScheduler({ choices, afterChoices: "fifo" })),
      ).toBe(2);
    }
  });
});
