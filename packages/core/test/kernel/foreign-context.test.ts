import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as delay } from "node:timers/promises";
import {
  CancelScope,
  CapacityLimiter,
  cancellable,
  checkpoint,
  currentTime,
  DeadlockError,
  Event,
  ExceptionGroup,
  isCancelled,
  Lock,
  lowlevel,
  moveOnAfter,
  openMemoryChannel,
  openNursery,
  run,
  Semaphore,
  sleep,
  sleepForever,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual, withinRealTime } from "../support/helpers.ts";

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

type InContext = <R>(fn: () => R) => R;

/**
 * Runs `misuse(inA)` in a task while task "a" is parked in `sleepForever()`;
 * `inA` runs code in a's captured async context. Returns how a's own wait
 * stood once `misuse` was done (and one more checkpoint had passed).
 */
async function whileParkedElsewhere(misuse: (inA: InContext) => Promise<void>): Promise<string> {
  let aWait = "parked";
  let seen = "";
  await withinRealTime(
    runVirtual(() =>
      openNursery(async (nursery) => {
        let inA: InContext | null = null;
        const aParked = new Event();
        nursery.startSoon(
          async () => {
            inA = AsyncLocalStorage.snapshot();
            aParked.set();
            try {
              await sleepForever();
              aWait = "resolved";
            } catch (error) {
              aWait = isCancelled(error) ? "cancelled" : `failed: ${String(error)}`;
            }
          },
          { name: "a" },
        );
        nursery.startSoon(async () => {
          await aParked.wait();
          await checkpoint(); // a is parked in sleepForever() by now
          await misuse(inA!);
          await sleep(1);
          seen = aWait;
          nursery.cancelScope.cancel();
        });
      }),
    ),
  );
  return seen;
}

// SEMANTICS.md, "Async context": a runtime operation called where the captured
// task is not the one running rejects, and never resumes the wrong task. A
// refused operation must therefore do nothing at all: take nothing, queue
// nothing that could later wake the captured task, touch none of its scopes.
describe("a refused operation has no effect", () => {
  test("a refused Event.wait() leaves nothing behind: set() does not wake the task's own wait", async () => {
    const aWait = await whileParkedElsewhere(async (inA) => {
      const event = new Event();
      await rejection(inA(() => event.wait()));
      event.set();
    });
    expect(aWait).toBe("parked");
  });

  test("a refused receive() leaves nothing behind: a later send() is buffered, not handed to the task", async () => {
    let buffered = -1;
    const aWait = await whileParkedElsewhere(async (inA) => {
      const [send, receive] = openMemoryChannel<number>(1);
      await rejection(inA(() => receive.receive()));
      await send.send(1);
      buffered = receive.statistics().currentBufferUsed;
    });
    expect(aWait).toBe("parked");
    expect(buffered).toBe(1);
  });

  test("a refused cancellable() never wakes the task when its promise settles", async () => {
    const aWait = await whileParkedElsewhere(async (inA) => {
      await rejection(inA(() => cancellable(Promise.resolve(5))));
    });
    expect(aWait).toBe("parked");
  });

  test("a work function that starts a weft operation of its own task: cancellable() is refused, the operation goes on, nothing is woken twice", async () => {
    const outcomes: string[] = [];
    await runVirtual(async () => {
      let inner: Promise<void> | null = null;
      const refused = await rejection(
        cancellable(() => {
          // Like a body generator pulled inside reader.read(): the task sleeps here.
          inner = sleep(5);
          return Promise.resolve("work done");
        }),
      );
      outcomes.push(`cancellable: ${(refused as Error).name}`);
      await inner;
      outcomes.push(`the inner sleep ended at ${currentTime()}`);
      await sleep(1);
      outcomes.push("the task goes on");
    });
    expect(outcomes).toEqual([
      "cancellable: UsageError",
      "the inner sleep ended at 5",
      "the task goes on",
    ]);
  });

  const acquisitions: [string, () => { attempt: () => Promise<unknown>; taken: () => boolean }][] =
    [
      [
        "Semaphore.acquire()",
        () => {
          const semaphore = new Semaphore(1);
          return { attempt: () => semaphore.acquire(), taken: () => semaphore.value !== 1 };
        },
      ],
      [
        "Lock.acquire()",
        () => {
          const lock = new Lock();
          return { attempt: () => lock.acquire(), taken: () => lock.locked() };
        },
      ],
      [
        "CapacityLimiter.acquire()",
        () => {
          const limiter = new CapacityLimiter(1);
          return { attempt: () => limiter.acquire(), taken: () => limiter.borrowedTokens !== 0 };
        },
      ],
      [
        "MemorySendChannel.send()",
        () => {
          const [send, receive] = openMemoryChannel<number>(1);
          return {
            attempt: () => send.send(1),
            taken: () => receive.statistics().currentBufferUsed !== 0,
          };
        },
      ],
    ];
  for (const [operation, make] of acquisitions) {
    test(`a refused ${operation} takes nothing`, async () => {
      let taken: boolean | null = null;
      await whileParkedElsewhere(async (inA) => {
        const { attempt, taken: wasTaken } = make();
        await rejection(inA(attempt));
        taken = wasTaken();
      });
      expect(taken).toBe(false);
    });
  }

  test("a refused openNursery() never wakes the task when its children finish", async () => {
    const aWait = await whileParkedElsewhere(async (inA) => {
      await rejection(
        inA(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(() => checkpoint());
          }),
        ),
      );
    });
    expect(aWait).toBe("parked");
  });

  test("a refused CancelScope.run() does not cancel the task's own wait", async () => {
    const aWait = await whileParkedElsewhere(async (inA) => {
      const scope = new CancelScope();
      scope.cancel();
      await rejection(inA(() => scope.run(() => checkpoint())));
    });
    expect(aWait).toBe("parked");
  });
});

describe("a refusal nobody handles reaches the run", () => {
  // A weft operation written as an async function awaits the refusal itself,
  // so its own promise is the one nobody handles: it must reach the run like
  // the refusal of sleep() does, not end up as a process-wide unhandled
  // rejection (which ends the process).
  const asyncOperations: [string, () => Promise<unknown>][] = [
    ["Lock.guard()", () => new Lock().guard()],
    ["Semaphore.guard()", () => new Semaphore(1).guard()],
    ["lowlevel.waitAllTasksBlocked()", () => lowlevel.waitAllTasksBlocked()],
    ["moveOnAfter()", () => moveOnAfter(10, () => checkpoint())],
    ["MemorySendChannel.aclose()", () => openMemoryChannel(0)[0].aclose()],
  ];
  for (const [operation, call] of asyncOperations) {
    test(`an unhandled refusal of ${operation} fails the run like a task error`, async () => {
      const error = await rejection(
        whileParkedElsewhere(async (inA) => {
          void inA(call);
        }),
      );
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect(String((error as ExceptionGroup).errors[0])).toMatch(/already waiting/);
    });
  }
});

describe("misuse never hangs the run or escapes it", () => {
  test("a callback that outlives the run gets a rejection, not a synchronous throw", async () => {
    const inMain = await runReal(async () => AsyncLocalStorage.snapshot());
    let thrown: unknown = null;
    let rejected: unknown = null;
    try {
      await inMain(() => sleep(1)).catch((error: unknown) => {
        rejected = error;
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeNull();
    expect(rejected).toBeInstanceOf(Error);
  });

  // The task's code goes on while its sleep is pending, and cancels it: the
  // dangling wait must not be resumed as if it were the task's step (its
  // Cancelled then escapes as a process-wide unhandled rejection, and the
  // task's exit passes for a normal one).
  test("a task that returns with an un-awaited sleep() it cancelled itself fails with 'still pending'", async () => {
    const error = await rejection(
      withinRealTime(
        runVirtual(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                void sleep(10);
                nursery.cancelScope.cancel();
              },
              { name: "a" },
            );
          }),
        ),
      ),
    );
    expect(error).toBeInstanceOf(ExceptionGroup);
    expect(String((error as ExceptionGroup).errors[0])).toMatch(/still pending/);
  });

  test("a main task that returns with an un-awaited sleep() fails the run with 'still pending'", async () => {
    const error = await rejection(
      withinRealTime(
        runVirtual(async () => {
          void sleep(10);
        }),
      ),
    );
    expect(String(error)).toMatch(/still pending/);
  });

  test("a task that returns while a nursery it opened is still open fails the run instead of hanging", async () => {
    const error = await rejection(
      withinRealTime(
        runVirtual(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                // Not awaited: the task returns with the nursery still open.
                void openNursery(async (inner) => {
                  inner.startSoon(() => sleep(10));
                });
              },
              { name: "a" },
            );
          }),
        ),
      ),
    );
    expect(String(error)).not.toMatch(/a hang/);
    expect(error).toBeInstanceOf(ExceptionGroup);
  });
});
