/**
 * CancellationInjector and cancellationFaults(): faults strike the chosen
 * open scope before the chosen step, the same run replays the same faults,
 * the run's system nursery and start()'s waiting nursery are never cancelled,
 * and a failing property shrinks to a minimal fault list.
 */
import { CancelScope, currentTime, isCancelled, openNursery, run, sleep } from "@weft/core";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  type CancellationFault,
  CancellationInjector,
  cancellationFaults,
  DeterministicScheduler,
  MockClock,
  schedules,
} from "../src/index.ts";
import { Simulation } from "../src/network-simulation.ts";

/** Runs `main` with `injector` under FIFO order on an autojumping MockClock. */
function runInjected<T>(main: () => Promise<T>, injector: CancellationInjector): Promise<T> {
  return run(main, {
    clock: new MockClock({ autojumpThreshold: 0 }),
    scheduler: new DeterministicScheduler({ choices: [], afterChoices: "fifo" }),
    instruments: [injector],
    handleSignals: false,
  });
}

/** Two sibling tasks, each sleeping in its own named scope; returns which scopes caught a cancellation. */
async function twoScopes(): Promise<string[]> {
  const caught: string[] = [];
  await openNursery(async (nursery) => {
    for (const name of ["a", "b"]) {
      nursery.startSoon(async () => {
        const scope = new CancelScope();
        await scope.run(async () => {
          await sleep(100);
          await sleep(100);
        });
        if (scope.cancelledCaught) caught.push(name);
      });
    }
  });
  return caught;
}

describe("CancellationInjector", () => {
  test("with no faults it cancels nothing, counts the run's steps, and leaves no task or scope behind", async () => {
    const injector = new CancellationInjector([]);
    expect(await runInjected(twoScopes, injector)).toEqual([]);
    expect(injector.injected).toEqual([]);
    expect(injector.steps).toBeGreaterThan(0);
    expect(injector.liveTasks).toBe(0);
    expect(injector.openScopes).toBe(0);
  });

  test("a fault cancels the open scope it names (modulo how many are open), oldest first", async () => {
    // Open before step 4 (a resuming from its first sleep): main's nursery, a's scope, b's scope.
    const outcomes: string[][] = [];
    for (const scope of [0, 1, 2, 3, 4]) {
      const injector = new CancellationInjector([{ step: 4, scope }]);
      outcomes.push(await runInjected(twoScopes, injector));
      expect(injector.injected).toHaveLength(1);
      expect(injector.injected[0]).toMatchObject({ fault: 0, step: 4, open: 3, index: scope % 3 });
    }
    // Scope 0 is the nursery: cancelling it cancels both, but neither scope was cancelled itself.
    expect(outcomes).toEqual([[], ["a"], ["b"], [], ["a"]]);
  });

  test("a fault strikes before its step: the step's next checkpoint sees the cancellation", async () => {
    const injector = new CancellationInjector([{ step: 2, scope: 0 }]);
    const [caught, time] = await runInjected(async () => {
      const scope = new CancelScope();
      await scope.run(async () => {
        await sleep(5);
        await sleep(5); // cancelled: main's step 2 resumes from the first sleep
      });
      return [scope.cancelledCaught, currentTime()];
    }, injector);
    expect([caught, time]).toEqual([true, 5]);
    expect(injector.injected).toEqual([
      { fault: 0, step: 2, steppingTask: "main", scopeTask: "main", open: 1, index: 0 },
    ]);
  });

  test("faults past the end of the run, or when no scope is open, are skipped", async () => {
    const injector = new CancellationInjector([
      { step: 0, scope: 0 }, // the root task's first step: nothing open yet
      { step: 10_000, scope: 1 },
    ]);
    expect(await runInjected(twoScopes, injector)).toEqual([]);
    expect(injector.injected).toEqual([]);
  });

  test("the same faults and schedule replay the same run, and one injector serves several runs", async () => {
    const faults: CancellationFault[] = [
      { step: 6, scope: 2 },
      { step: 3, scope: 1 },
    ];
    const injector = new CancellationInjector(faults);
    const first = await runInjected(twoScopes, injector);
    const struck = [...injector.injected];
    expect(struck.map((c) => c.fault)).toEqual([1, 0]); // in order of their steps
    expect(await runInjected(twoScopes, injector)).toEqual(first);
    expect(injector.injected).toEqual(struck);
    expect(String(injector)).toContain(
      "new CancellationInjector([{ step: 6, scope: 2 }, { step: 3, scope: 1 }])",
    );
  });

  test("never cancels the run's system nursery, nor the nursery start() keeps a child in until started()", async () => {
    // Every fault possible over the first steps of a program that starts a task.
    for (let step = 0; step < 8; step++) {
      for (let scope = 0; scope < 4; scope++) {
        const injector = new CancellationInjector([{ step, scope }]);
        const value = await runInjected(async () => {
          await openNursery(async (nursery) => {
            await nursery.start(async (status) => {
              await sleep(1);
              status.started();
            });
            nursery.cancelScope.cancel();
          });
          return "done";
        }, injector);
        expect(value).toBe("done");
      }
    }
  });

  test("a filter limits the scopes that may be cancelled", async () => {
    const injector = new CancellationInjector([{ step: 4, scope: 0 }], {
      filter: (_scope, task) => task.name !== "twoScopes", // not main's nursery
    });
    expect(await runInjected(twoScopes, injector)).toEqual(["a"]);
    expect(injector.injected[0]).toMatchObject({ open: 2, index: 0 });
  });

  test("bad faults or options are a TypeError or RangeError naming them", () => {
    const bad = <T>(value: unknown) => value as T;
    expect(() => new CancellationInjector(bad(1))).toThrow(/faults/);
    expect(() => new CancellationInjector([bad(null)])).toThrow(TypeError);
    expect(() => new CancellationInjector([{ step: -1, scope: 0 }])).toThrow(RangeError);
    expect(() => new CancellationInjector([{ step: 0, scope: 0.5 }])).toThrow(/fault.scope/);
    expect(() => new CancellationInjector([], { filter: bad(1) })).toThrow(/options.filter/);
    expect(() => cancellationFaults({ maxFaults: -1 })).toThrow(/maxFaults/);
    expect(() => cancellationFaults({ maxStep: bad("1") })).toThrow(TypeError);
  });
});

describe("cancellationFaults()", () => {
  test("draws at most maxFaults faults within maxStep and maxScope", () => {
    const lists = fc.sample(cancellationFaults({ maxFaults: 2, maxStep: 9, maxScope: 3 }), {
      seed: 1,
      numRuns: 200,
    });
    for (const faults of lists) {
      expect(faults.length).toBeLessThanOrEqual(2);
      for (const { step, scope } of faults) {
        expect(step).toBeGreaterThanOrEqual(0);
        expect(step).toBeLessThanOrEqual(9);
        expect(scope).toBeLessThanOrEqual(3);
      }
    }
    expect(lists.some((faults) => faults.length === 2)).toBe(true);
  });

  test("a property that a cancelled scope breaks fails, shrinks to one fault, and the counterexample replays", async () => {
    // The "bug": a task that swallows Cancelled and then does not clean up.
    let cleanedUp = 0;
    const program = async () => {
      await openNursery(async (nursery) => {
        for (let i = 0; i < 3; i++) {
          nursery.startSoon(async () => {
            try {
              await sleep(10 + i);
            } catch (error) {
              if (!isCancelled(error)) throw error;
              return; // leaves without cleaning up
            }
            cleanedUp++;
          });
        }
      });
    };
    const property = fc.asyncProperty(cancellationFaults({ maxStep: 20 }), async (faults) => {
      cleanedUp = 0;
      await runInjected(program, new CancellationInjector(faults));
      expect(cleanedUp).toBe(3);
    });
    const details = await fc.check(property, { seed: 42, numRuns: 200 });
    expect(details.failed).toBe(true);
    const [faults] = details.counterexample!;
    expect(faults).toHaveLength(1);
    // Shrunk toward the earliest step and the outermost scope that still fail.
    const injector = new CancellationInjector(faults);
    cleanedUp = 0;
    await runInjected(program, injector);
    expect(cleanedUp).toBeLessThan(3);
    expect(injector.injected).toHaveLength(1);
  });
});

describe("schedules() with cancellationFaults()", () => {
  test("the counterexample prints the trace of the run of exactly the reported schedule and faults", async () => {
    // The testing guide's worker pool: a cancelled worker skips its close.
    let open = 0;
    const worker = async (jobs: number) => {
      open++;
      for (let i = 0; i < jobs; i++) await sleep(10);
      open--;
    };
    const main = async () => {
      await openNursery(async (nursery) => {
        for (let i = 1; i <= 3; i++) nursery.startSoon(() => worker(i), { name: `worker ${i}` });
      });
    };
    const runWith = async (scheduler: DeterministicScheduler, injector: CancellationInjector) => {
      open = 0;
      await run(main, {
        scheduler,
        instruments: [injector],
        clock: new MockClock({ autojumpThreshold: 0 }),
        handleSignals: false,
      });
    };
    // Seed 7 was reported: a 13-step trace (the run without faults that
    // shrinking tried last, on the same scheduler) for a 10-step replay.
    for (const seed of [7, 1, 2, 3]) {
      const details = await fc.check(
        fc.asyncProperty(schedules(), cancellationFaults(), async (scheduler, faults) => {
          await runWith(scheduler, new CancellationInjector(faults));
          return open === 0;
        }),
        { seed },
      );
      expect(details.failed).toBe(true);
      const [found, faults] = details.counterexample!;
      const printed = String(found);
      const choices = JSON.parse(/choices: (\[[0-9, ]*\])/.exec(printed)![1]!) as number[];
      const replay = new DeterministicScheduler({ choices, afterChoices: "fifo" });
      await runWith(replay, new CancellationInjector(faults));
      expect(open).toBeGreaterThan(0);
      expect(printed).toBe(String(replay));
      expect(fc.defaultReportMessage(details)).toContain(String(replay));
    }
  });
});

describe("Simulation options.instruments", () => {
  test("the simulation's run calls them (an injector counts its steps); anything but objects is a TypeError", async () => {
    const injector = new CancellationInjector([]);
    const sim = new Simulation({ instruments: [injector] });
    sim.client("c", () => sleep(1));
    await sim.run();
    expect(injector.steps).toBeGreaterThan(0);
    expect(injector.liveTasks).toBe(0);
    expect(sim.resourcesLeft).toEqual({ connections: 0, links: 0, connectionPorts: 0 });
    expect(() => new Simulation({ instruments: [1 as unknown as CancellationInjector] })).toThrow(
      TypeError,
    );
    expect(() => new Simulation({ instruments: {} as unknown as [] })).toThrow(/instruments/);
  });
});
