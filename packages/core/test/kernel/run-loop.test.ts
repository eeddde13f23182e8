import { promisify } from "node:util";
import { gzip } from "node:zlib";
import {
  Cancelled,
  CancelScope,
  cancellable,
  checkpoint,
  currentTime,
  DeadlockError,
  Err,
  ExceptionGroup,
  type Instrument,
  InternalError,
  isCancelled,
  lowlevel,
  moveOnAfter,
  Ok,
  openNursery,
  run,
  sleep,
  sleepForever,
  type Task,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { expectRejects, pendingHostTimers, rejection, runVirtual } from "../support/helpers.ts";

describe("run loop: batches", () => {
  test("order inside a batch is FIFO: tasks that checkpoint interleave in spawn order", async () => {
    const log: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        for (const name of ["a", "b", "c"]) {
          nursery.startSoon(async () => {
            for (let i = 0; i < 3; i++) {
              log.push(`${name}${i}`);
              await checkpoint();
            }
          });
        }
      }),
    );
    expect(log).toEqual(["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]);
  });

  test("a task made runnable during a batch runs in the next batch, after the rest of the current one", async () => {
    const log: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        let sleeper: Task | null = null;
        nursery.startSoon(async () => {
          sleeper = lowlevel.currentTask();
          await lowlevel.waitTaskRescheduled(() => lowlevel.Abort.SUCCEEDED);
          log.push("woken");
        });
        nursery.startSoon(async () => {
          await checkpoint(); // second batch: the sleeper is parked by now
          lowlevel.reschedule(sleeper!);
          log.push("waker");
        });
        nursery.startSoon(async () => {
          await checkpoint();
          log.push("bystander"); // same batch as the waker
        });
      }),
    );
    expect(log).toEqual(["waker", "bystander", "woken"]);
  });

  test("a task that checkpoints in a loop cannot starve the others", async () => {
    let rounds = 0;
    await runVirtual(() =>
      openNursery(async (nursery) => {
        let stop = false;
        nursery.startSoon(async () => {
          while (!stop) {
            rounds++;
            await checkpoint();
          }
        });
        nursery.startSoon(async () => {
          await checkpoint();
          await checkpoint();
          stop = true;
        });
      }),
    );
    expect(rounds).toBe(3);
  });

  test("startSoon never runs the child synchronously; it first runs in a later batch", async () => {
    const log: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          log.push("child");
        });
        log.push("after startSoon");
        await Promise.resolve(); // microtasks alone do not start it
        log.push("after a microtask");
        await checkpoint();
        log.push("after a checkpoint");
      }),
    );
    expect(log).toEqual(["after startSoon", "after a microtask", "child", "after a checkpoint"]);
  });

  test("a task awaiting a foreign promise does not hold up the batch; it rejoins when it next blocks", async () => {
    let otherSteps = 0;
    await runVirtual(() =>
      openNursery(async (nursery) => {
        let done = false;
        nursery.startSoon(async () => {
          // A host event the kernel knows nothing about.
          await new Promise<void>((resolve) => setImmediate(resolve));
          await new Promise<void>((resolve) => setImmediate(resolve));
          done = true;
          await checkpoint();
        });
        nursery.startSoon(async () => {
          while (!done) {
            otherSteps++;
            await checkpoint();
          }
        });
      }),
    );
    expect(otherSteps).toBeGreaterThan(0);
  });

  test("on a virtual clock the kernel yields to the event loop after a count of batches, not of real milliseconds: host callbacks interleave the same way however slow the steps", async () => {
    /** The rounds of a checkpointing task seen by each turn of a setImmediate chain. */
    async function interleaving(busyMs: number): Promise<number[]> {
      const seen: number[] = [];
      let rounds = 0;
      let done = false;
      const onTurn = () => {
        if (done) return;
        seen.push(rounds);
        setImmediate(onTurn);
      };
      await runVirtual(async () => {
        setImmediate(onTurn);
        for (; rounds < 300; rounds++) {
          const until = performance.now() + busyMs;
          while (performance.now() < until) {} // a slow step
          await checkpoint();
        }
        done = true;
      });
      return seen;
    }
    const fast = await interleaving(0);
    expect(fast.length).toBeGreaterThan(1);
    expect(await interleaving(0.2)).toEqual(fast);
  });
});

describe("run loop: deadlines and checkpoints", () => {
  test("a checkpoint first yields, then checks: a deadline that passed while the task ran is seen at its next checkpoint", async () => {
    const clock = new MockClock();
    const steps: string[] = [];
    await run(
      async () => {
        const scope = new CancelScope({ deadline: 10 });
        await scope.run(async () => {
          clock.jump(20); // time passes while we run; nothing preempts us
          steps.push("still running");
          await checkpoint();
          steps.push("not reached");
        });
        expect(scope.cancelledCaught).toBe(true);
      },
      { clock },
    );
    expect(steps).toEqual(["still running"]);
  });

  test("deadlines are processed between batches, in deadline order", async () => {
    const log: number[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        for (const ms of [30, 10, 20, 10]) {
          nursery.startSoon(async () => {
            await sleep(ms);
            log.push(ms);
            expect(currentTime()).toBe(ms);
          });
        }
      }),
    );
    expect(log).toEqual([10, 10, 20, 30]);
  });

  test("every blocking operation is a cancel point first: in a cancelled scope it has no effect", async () => {
    let workStarted = false;
    await runVirtual(async () => {
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        await cancellable(async () => {
          workStarted = true;
        });
      });
      expect(scope.cancelledCaught).toBe(true);
    });
    expect(workStarted).toBe(false);
  });
});

describe("run loop: waitTaskRescheduled and reschedule", () => {
  test("Abort.SUCCEEDED means the task is rescheduled with Cancelled", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      let error: unknown;
      await scope.run(async () => {
        scope.cancel("stop");
        try {
          await lowlevel.waitTaskRescheduled(() => lowlevel.Abort.SUCCEEDED);
        } catch (e) {
          error = e;
          throw e;
        }
      });
      expect(error).toBeInstanceOf(Cancelled);
      expect((error as Cancelled).reason).toBe("stop");
    });
  });

  test("Abort.FAILED means the primitive reschedules later, with the outcome it chooses", async () => {
    await runVirtual(async () => {
      let waiter: Task | null = null;
      let aborts = 0;
      const result = await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleep(5);
          nursery.cancelScope.cancel();
          await checkpoint().catch(() => {});
          lowlevel.reschedule(waiter!, Ok("late value"));
        });
        waiter = lowlevel.currentTask();
        return lowlevel.waitTaskRescheduled(() => {
          aborts++;
          return lowlevel.Abort.FAILED;
        });
      });
      expect(aborts).toBe(1);
      expect(result).toBe("late value");
    });
  });

  test("the abort callback runs at most once per wait, even if the task is cancelled again", async () => {
    await runVirtual(async () => {
      let aborts = 0;
      const outer = new CancelScope();
      const inner = new CancelScope();
      let waiter: Task | null = null;
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          outer.run(() =>
            inner.run(async () => {
              waiter = lowlevel.currentTask();
              await lowlevel.waitTaskRescheduled(() => {
                aborts++;
                return lowlevel.Abort.FAILED;
              });
            }),
          ),
        );
        await sleep(1);
        outer.cancel();
        expect(aborts).toBe(1);
        inner.shield = true; // the waiter is no longer cancelled...
        inner.shield = false; // ...and now it is again: a second delivery attempt
        await sleep(1);
        lowlevel.reschedule(waiter!);
      });
      expect(aborts).toBe(1);
    });
  });

  test("reschedule is called exactly once per wait: a second reschedule throws", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        let waiter: Task | null = null;
        nursery.startSoon(async () => {
          waiter = lowlevel.currentTask();
          await lowlevel.waitTaskRescheduled(() => lowlevel.Abort.SUCCEEDED);
        });
        await sleep(1);
        lowlevel.reschedule(waiter!);
        expect(() => lowlevel.reschedule(waiter!)).toThrow(/not blocked/);
      });
    });
  });

  test("reschedule with Err makes the wait reject with that error; raiseCancel gives the Cancelled to deliver", async () => {
    await runVirtual(async () => {
      const boom = new Error("boom");
      await openNursery(async (nursery) => {
        let waiter: Task | null = null;
        nursery.startSoon(async () => {
          waiter = lowlevel.currentTask();
          await expect(lowlevel.waitTaskRescheduled(() => lowlevel.Abort.SUCCEEDED)).rejects.toBe(
            boom,
          );
        });
        await sleep(1);
        lowlevel.reschedule(waiter!, Err(boom));
      });
      const scope = new CancelScope();
      await scope.run(async () => {
        const task = lowlevel.currentTask();
        scope.cancel("why");
        await lowlevel.waitTaskRescheduled((raiseCancel) => {
          let cancelled: unknown;
          try {
            raiseCancel();
          } catch (e) {
            cancelled = e;
          }
          queueMicrotask(() => lowlevel.reschedule(task, Err(cancelled)));
          return lowlevel.Abort.FAILED;
        });
      });
      expect(scope.cancelledCaught).toBe(true);
    });
  });
});

describe("run()", () => {
  test("resolves with main's value", async () => {
    await expect(runVirtual(async () => 42)).resolves.toBe(42);
  });

  test("rejects with main's error unwrapped", async () => {
    const boom = new Error("boom");
    await expect(
      runVirtual(async () => {
        await sleep(1);
        throw boom;
      }),
    ).rejects.toBe(boom);
  });

  test("several independent runs may be active at once, each with its own clock and tasks", async () => {
    const [a, b] = await Promise.all([
      runVirtual(async () => {
        await sleep(100);
        return currentTime();
      }),
      runVirtual(async () => {
        await sleep(5);
        return currentTime();
      }),
    ]);
    expect([a, b]).toEqual([100, 5]);
  });

  test("run() inside a task of a run rejects: nested runs are not allowed", async () => {
    await runVirtual(async () => {
      await expect(run(async () => 1)).rejects.toThrow(/nested runs are not allowed/);
    });
  });

  test("calling the runtime outside run() says so", async () => {
    await expectRejects(() => sleep(1), /sleep\(\) must be called inside weft's run\(\)/);
    await expectRejects(() => checkpoint(), /inside weft's run\(\)/);
    expect(() => currentTime()).toThrow(/inside weft's run\(\)/);
    await expectRejects(() => openNursery(async () => {}), /inside weft's run\(\)/);
    expect(() => lowlevel.currentTask()).toThrow(/inside weft's run\(\)/);
    await expectRejects(() => new CancelScope().run(async () => {}), /inside weft's run\(\)/);
  });

  test("aborting the run's signal cancels every task, runs every finally, and rejects with signal.reason", async () => {
    const controller = new AbortController();
    const reason = new Error("shut down");
    const cleaned: string[] = [];
    const error = await rejection(
      runVirtual(
        () =>
          openNursery(async (nursery) => {
            for (const name of ["a", "b"]) {
              nursery.startSoon(async () => {
                try {
                  await sleepForever();
                } finally {
                  cleaned.push(name);
                }
              });
            }
            await sleep(10);
            controller.abort(reason);
            await sleepForever();
          }),
        { signal: controller.signal },
      ),
    );
    expect(error).toBe(reason);
    expect(cleaned.sort()).toEqual(["a", "b"]);
  });

  test("an error main raises while the run is being aborted reaches the caller without the run's Cancelled", async () => {
    const controller = new AbortController();
    const boom = new Error("boom");
    const error = await rejection(
      runVirtual(
        () =>
          openNursery(async (nursery) => {
            nursery.startSoon(() => sleep(0)); // raises the run's Cancelled
            controller.abort();
            throw boom;
          }),
        { signal: controller.signal },
      ),
    );
    expect(error).toBeInstanceOf(ExceptionGroup);
    expect((error as ExceptionGroup).leafErrors()).toEqual([boom]);
  });

  test("a run whose signal is already aborted rejects at once without running main", async () => {
    let ran = false;
    const error = await rejection(
      run(
        async () => {
          ran = true;
        },
        { signal: AbortSignal.abort("early") },
      ),
    );
    expect(error).toBe("early");
    expect(ran).toBe(false);
  });

  test("a signal aborted right after run() is called, before the run's first step, cancels the run", async () => {
    const controller = new AbortController();
    let cleanedUp = false;
    const running = runVirtual(
      async () => {
        try {
          await sleepForever();
        } finally {
          cleanedUp = true;
        }
      },
      { signal: controller.signal },
    );
    controller.abort("right away");
    expect(await rejection(running)).toBe("right away");
    expect(cleanedUp).toBe(true);
  });

  test("no host timer or immediate is left pending after run settles", async () => {
    const before = pendingHostTimers();
    await run(async () => {
      // While idle the kernel arms a host timer for the 10 s deadline; the
      // foreign promise wakes the run first, and main returns with it still armed.
      await moveOnAfter(10_000, () =>
        cancellable(new Promise((resolve) => setTimeout(resolve, 2))),
      );
    });
    // Other code in this process may have finished timers meanwhile, never started new ones.
    expect(pendingHostTimers()).toBeLessThanOrEqual(before);
  });

  test("instruments see the run, every task's spawn, steps and exit", async () => {
    const events: string[] = [];
    const steps = new Map<Task, number>();
    const instrument: Instrument = {
      beforeRun: () => events.push("beforeRun"),
      afterRun: () => events.push("afterRun"),
      taskSpawned: (t) => events.push(`spawned ${t.name}`),
      taskExited: (t) => events.push(`exited ${t.name}`),
      beforeTaskStep: (t) => steps.set(t, (steps.get(t) ?? 0) + 1),
      afterTaskStep: (t) => steps.set(t, (steps.get(t) ?? 0) - 1),
    };
    await runVirtual(
      async function main() {
        await openNursery(async (nursery) => {
          nursery.startSoon(() => sleep(1), { name: "sleeper" });
        });
      },
      { instruments: [instrument] },
    );
    expect(events[0]).toBe("beforeRun");
    expect(events.at(-1)).toBe("afterRun");
    expect(events).toContain("spawned sleeper");
    expect(events).toContain("exited sleeper");
    expect(events).toContain("spawned main");
    expect(events.indexOf("spawned sleeper")).toBeLessThan(events.indexOf("exited sleeper"));
    for (const balance of steps.values()) expect(balance).toBe(0);
  });

  test("an instrument that throws is removed and the run goes on", async () => {
    let calls = 0;
    const broken: Instrument = {
      taskScheduled: () => {
        calls++;
        throw new Error("broken instrument");
      },
    };
    const originalError = console.error;
    console.error = () => {};
    try {
      await expect(
        runVirtual(async () => checkpoint().then(() => "ok"), { instruments: [broken] }),
      ).resolves.toBe("ok");
    } finally {
      console.error = originalError;
    }
    expect(calls).toBe(1);
  });

  test("spawnSystemTask: system tasks are cancelled when main finishes", async () => {
    const log: string[] = [];
    await runVirtual(async () => {
      lowlevel.spawnSystemTask(async () => {
        try {
          await sleepForever();
        } finally {
          log.push("system task cleaned up");
        }
      });
      await sleep(10);
      log.push("main done");
    });
    expect(log).toEqual(["main done", "system task cleaned up"]);
  });

  test("spawnSystemTask: an error in a system task crashes the run", async () => {
    const boom = new Error("system boom");
    const error = await rejection(
      runVirtual(async () => {
        lowlevel.spawnSystemTask(async () => {
          await sleep(1);
          throw boom;
        });
        await sleepForever();
      }),
    );
    expect(error).toBeInstanceOf(Error);
    expect(JSON.stringify((error as AggregateError).errors?.map(String))).toContain("system boom");
  });

  test("currentStatistics counts living and runnable tasks and the time to the next deadline", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        nursery.startSoon(() => sleep(25));
        nursery.startSoon(() => checkpoint());
        const stats = lowlevel.currentStatistics();
        expect(stats.tasksRunnable).toBe(2);
        // root, main, and the two children
        expect(stats.tasksLiving).toBe(4);
        await checkpoint();
        expect(lowlevel.currentStatistics().msToNextDeadline).toBe(25);
      });
    });
  });
});

describe("run loop: deadlocks and misuse", () => {
  test("a virtual-clock run that can never progress rejects with DeadlockError naming each task and what it waits on", async () => {
    const cleaned: string[] = [];
    const error = await rejection(
      runVirtual(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(
            async () => {
              try {
                await lowlevel.waitTaskRescheduled(() => lowlevel.Abort.SUCCEEDED, {
                  waitingFor: "a reply that never comes",
                });
              } finally {
                cleaned.push("waiter");
              }
            },
            { name: "waiter" },
          );
          await sleep(5);
        }),
      ),
    );
    expect(error).toBeInstanceOf(DeadlockError);
    const message = (error as Error).message;
    expect(message).toContain('task "waiter": blocked in a reply that never comes');
    expect(message).toMatch(/nursery exit, waiting for 1 child task/);
    expect(cleaned).toEqual(["waiter"]);
  });

  test("a deadlock whose cleanup deadlocks too still rejects instead of hanging", async () => {
    const error = await rejection(
      runVirtual(async () => {
        await new CancelScope({ shield: true }).run(() =>
          lowlevel.waitTaskRescheduled(() => lowlevel.Abort.SUCCEEDED, { waitingFor: "nothing" }),
        );
      }),
    );
    expect(error).toBeInstanceOf(DeadlockError);
  });

  test("a pending external wait (a foreign promise) is not a deadlock", async () => {
    const value = await runVirtual(() =>
      cancellable(new Promise((resolve) => setTimeout(() => resolve("io"), 5))),
    );
    expect(value).toBe("io");
  });

  test("a task awaiting a non-weft promise is waited for; settled from outside (a real timer) the run goes on", async () => {
    const value = await run(
      async () => {
        await sleep(3); // virtual time passes while nothing else is pending
        return new Promise((resolve) => setTimeout(() => resolve("settled outside"), 5));
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
    expect(value).toBe("settled outside");
  });

  test("closedWorld: a task awaiting a non-weft promise that no task can settle is a deadlock naming it, not a hang", async () => {
    const cleaned: string[] = [];
    const error = await rejection(
      run(
        () =>
          openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                try {
                  await new Promise(() => {}); // a foreign promise nobody settles
                } finally {
                  cleaned.push("stuck");
                }
              },
              { name: "stuck" },
            );
            await sleep(5);
          }),
        { clock: new MockClock({ autojumpThreshold: 0 }), closedWorld: true },
      ),
    );
    expect(error).toBeInstanceOf(DeadlockError);
    const message = (error as Error).message;
    expect(message).toContain("closed world");
    expect(message).toContain('task "stuck": awaiting a non-weft promise');
    // A foreign await cannot be cancelled: its finally never runs, and the report says so by naming it.
    expect(cleaned).toEqual([]);
  });

  test("closedWorld: host work that finishes off the main thread (zlib, a short real timer) within the grace period is not a deadlock", async () => {
    const value = await run(
      async () => {
        const packed = await promisify(gzip)(Buffer.alloc(100_000, 1)); // the thread pool
        await new Promise((resolve) => setTimeout(resolve, 20)); // a foreign promise, real time
        return packed.length;
      },
      { clock: new MockClock({ autojumpThreshold: 0 }), closedWorld: true },
    );
    expect(value).toBeGreaterThan(0);
  });

  test("closedWorld: an external wait nothing settles is a deadlock after the grace period, naming the task", async () => {
    const started = performance.now();
    const error = await rejection(
      run(
        () =>
          openNursery(async (nursery) => {
            nursery.startSoon(() => cancellable(() => new Promise(() => {})), { name: "io" });
          }),
        { clock: new MockClock({ autojumpThreshold: 0 }), closedWorld: true },
      ),
    );
    expect(error).toBeInstanceOf(DeadlockError);
    expect(String(error)).toMatch(
      /nothing settled the I\/O or non-weft promises tasks await for 1000 ms/,
    );
    expect(String(error)).toContain('task "io"');
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
  });

  test("closedWorld: a foreign promise settled by a task (microtasks, nextTick) is not a deadlock", async () => {
    const value = await run(
      async () => {
        let settle!: (value: string) => void;
        const foreign = new Promise<string>((resolve) => {
          settle = resolve;
        });
        return openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            await sleep(10);
            process.nextTick(() => settle("settled by a task"));
          });
          return foreign;
        });
      },
      { clock: new MockClock({ autojumpThreshold: 0 }), closedWorld: true },
    );
    expect(value).toBe("settled by a task");
  });

  test("closedWorld is checked: a boolean, and only with a clock that autojumps", async () => {
    await expectRejects(
      () => run(async () => {}, { closedWorld: "yes" as unknown as boolean }),
      TypeError,
      /options\.closedWorld/,
    );
    await expectRejects(
      () => run(async () => {}, { closedWorld: true }),
      TypeError,
      /closedWorld needs a clock with autojump/,
    );
  });

  test("two weft operations at once in one task is refused with an explanation, and the first is forgotten cleanly", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const error = await rejection(
        runVirtual(async () => {
          await Promise.all([sleep(1), sleep(2)]);
        }),
      );
      expect(String(error)).toMatch(/await one operation at a time/);
      await new Promise((resolve) => setImmediate(resolve)); // let unhandled rejections surface
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  test("a failure in weft's handling of a task's exit rejects run() with InternalError, not an uncaught exception", async () => {
    const boom = new Error("a breaker that throws");
    const error = await rejection(
      runVirtual(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            lowlevel.addParkingLotBreaker(lowlevel.currentTask(), {
              breakLot: () => {
                throw boom;
              },
            });
          });
        }),
      ),
    );
    expect(error).toBeInstanceOf(InternalError);
    expect((error as Error).cause).toBe(boom);
  });

  test("a task that returns while a weft operation it started is still pending fails", async () => {
    const error = await rejection(
      runVirtual(
        () =>
          openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              void sleep(10);
            });
          }),
        { strictErrors: false },
      ),
    );
    expect(String(error)).toMatch(/still pending; await every weft operation/);
  });

  test("a Cancelled never escapes run, even when main rethrows one from an exited scope", async () => {
    let stale: unknown;
    const error = await rejection(
      runVirtual(async () => {
        await moveOn(0, async () => {
          try {
            await checkpoint();
          } catch (e) {
            stale = e;
            throw e;
          }
        });
        throw stale;
      }),
    );
    expect(isCancelled(error)).toBe(false);
    expect((error as Error).cause).toBe(stale);
  });
});

async function moveOn(ms: number, body: () => Promise<void> = () => sleep(1_000)): Promise<void> {
  await new CancelScope({ relativeDeadline: ms }).run(body);
}
