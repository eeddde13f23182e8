import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as delay } from "node:timers/promises";
import {
  checkpoint,
  DeadlockError,
  Event,
  ExceptionGroup,
  openNursery,
  run,
  sleep,
  sleepForever,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "./support/helpers.ts";

/** Settles with `promise`, or rejects if it takes longer than `ms` of real time (a hang). */
function withinRealTime<T>(promise: Promise<T>, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms: a hang`)), ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

/** Runs `main` on the real clock, without Ctrl-C handling (these tests use host timers). */
function runReal<T>(main: () => Promise<T>): Promise<T> {
  return withinRealTime(run(main, { handleSignals: false }));
}

describe("deadlock detection after foreign awaits", () => {
  test("a deadlock after a plain foreign await is detected", async () => {
    const error = await rejection(
      withinRealTime(
        runVirtual(async () => {
          await delay(10);
          await new Event().wait();
        }),
      ),
    );
    expect(error).toBeInstanceOf(DeadlockError);
  });

  test("a child's foreign await, then a deadlock of the whole tree, is detected", async () => {
    const error = await rejection(
      withinRealTime(
        runVirtual(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              await new Promise((resolve) => setImmediate(resolve));
              await sleepForever();
            });
            await new Event().wait();
          }),
        ),
      ),
    );
    expect(error).toBeInstanceOf(DeadlockError);
  });

  test("after a foreign await the virtual clock still autojumps", async () => {
    const now = await withinRealTime(
      runVirtual(async () => {
        await delay(1);
        await sleep(60_000);
        return "slept a virtual minute";
      }),
    );
    expect(now).toBe("slept a virtual minute");
  });
});

// SEMANTICS.md, "Async context": code running in a task's captured context
// while that task is not the one running never crashes the process and never
// resumes the wrong task.
describe("a weft operation where its task cannot wait", () => {
  test("a host callback in a sleeping task's context gets a rejection, not a throw, and the task's own wait goes on", async () => {
    let thrown: unknown = null;
    let rejected: unknown = null;
    const result = await runReal(async () => {
      const fired = new Event();
      setTimeout(() => {
        try {
          checkpoint().catch((error: unknown) => {
            rejected = error;
          });
        } catch (error) {
          thrown = error;
        }
        fired.set();
      }, 1);
      await fired.wait(); // main is parked here when the callback runs
      await sleep(1);
      return "main finished";
    });
    expect(result).toBe("main finished");
    expect(thrown).toBeNull();
    expect(String(rejected)).toMatch(/is already waiting for a weft operation/);
  });

  test("an unhandled rejection from such a call reaches the run like a task error", async () => {
    const error = await rejection(
      runReal(async () => {
        const fired = new Event();
        setTimeout(() => {
          void sleep(5);
          fired.set();
        }, 1);
        await fired.wait();
        await sleepForever(); // the error cancels the run
      }),
    );
    expect(error).toBeInstanceOf(ExceptionGroup);
    expect(String((error as ExceptionGroup).errors[0])).toMatch(/already waiting/);
  });

  test("a callback that outlives its task gets a rejection saying the task has exited", async () => {
    let rejected: unknown = null;
    await runReal(async () => {
      const fired = new Event();
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          setTimeout(() => {
            sleep(1).catch((error: unknown) => {
              rejected = error;
            });
            fired.set();
          }, 1);
        });
      });
      await fired.wait();
    });
    expect(String(rejected)).toMatch(/which has exited/);
  });

  test("code run in another task's captured context (AsyncLocalStorage.snapshot) is refused, and both tasks go on", async () => {
    const log: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        let inA: (<R>(fn: () => R) => R) | null = null;
        const aParked = new Event();
        const bDone = new Event();
        nursery.startSoon(async () => {
          inA = AsyncLocalStorage.snapshot();
          aParked.set();
          await bDone.wait();
          log.push("a resumed");
        });
        nursery.startSoon(async () => {
          await aParked.wait();
          await checkpoint(); // a is parked in bDone.wait() by now
          const refused = await rejection(inA!(() => checkpoint()));
          log.push(`b refused: ${String(refused).includes("already waiting")}`);
          await checkpoint();
          bDone.set();
        });
      }),
    );
    expect(log).toEqual(["b refused: true", "a resumed"]);
  });
});
