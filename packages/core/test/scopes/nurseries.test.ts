import {
  Cancelled,
  CancelScope,
  checkpoint,
  currentTime,
  ExceptionGroup,
  lowlevel,
  type Nursery,
  openNursery,
  sleep,
  sleepForever,
  TASK_STATUS_IGNORED,
  type Task,
  type TaskStatus,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";

describe("nurseries", () => {
  test("openNursery resolves with the body's value once the body and every child have finished", async () => {
    await runVirtual(async () => {
      const finished: number[] = [];
      const value = await openNursery(async (nursery) => {
        for (const ms of [30, 10, 20])
          nursery.startSoon(() => sleep(ms).then(() => void finished.push(ms)));
        return "body value";
      });
      expect(value).toBe("body value");
      expect(finished).toEqual([10, 20, 30]);
      expect(currentTime()).toBe(30);
    });
  });

  test("errors are grouped (strict, even for one) and the first error cancels the nursery's scope", async () => {
    await runVirtual(async () => {
      const boom = new Error("boom");
      let siblingCancelled = false;
      const error = await rejection(
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            try {
              await sleepForever();
            } catch (e) {
              siblingCancelled = e instanceof Cancelled;
              throw e;
            }
          });
          nursery.startSoon(async () => {
            await sleep(5);
            throw boom;
          });
        }),
      );
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect((error as ExceptionGroup).errors).toEqual([boom]);
      expect(siblingCancelled).toBe(true);
    });
  });

  test("several errors, from children and the body, all come out in one group", async () => {
    await runVirtual(async () => {
      const errors = [new Error("a"), new Error("b"), new Error("body")];
      const error = await rejection(
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            throw errors[0];
          });
          nursery.startSoon(async () => {
            throw errors[1];
          });
          await checkpoint().catch(() => {});
          throw errors[2];
        }),
      );
      expect(new Set((error as ExceptionGroup).leafErrors())).toEqual(new Set(errors));
    });
  });

  test("strictErrors: false throws a lone error unwrapped (per nursery or per run)", async () => {
    const boom = new Error("boom");
    const failing = (nursery: Nursery) =>
      nursery.startSoon(async () => {
        throw boom;
      });
    await runVirtual(async () => {
      await expect(openNursery(async (n) => failing(n), { strictErrors: false })).rejects.toBe(
        boom,
      );
    });
    await runVirtual(
      async () => {
        await expect(openNursery(async (n) => failing(n))).rejects.toBe(boom);
        await expect(
          openNursery(async (n) => failing(n), { strictErrors: true }),
        ).rejects.toBeInstanceOf(ExceptionGroup);
      },
      { strictErrors: false },
    );
  });

  test("scopes strip the Cancelled they own from groups, and an empty group is not thrown", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        for (let i = 0; i < 3; i++) nursery.startSoon(() => sleepForever());
        await sleep(1);
        nursery.cancelScope.cancel();
      });
      expect(currentTime()).toBe(1);
    });
  });

  test("nursery exit is a schedule point, never a cancel point: an empty nursery in a cancelled scope exits without throwing", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const scope = new CancelScope();
      await openNursery(async (outer) => {
        outer.startSoon(async () => {
          log.push("other task ran");
        });
        await scope.run(async () => {
          scope.cancel();
          await openNursery(async () => {}); // must not throw Cancelled
          log.push("after empty nursery");
        });
      });
      expect(scope.cancelledCaught).toBe(false);
      // the schedule point let the other task run before the body went on
      expect(log).toEqual(["other task ran", "after empty nursery"]);
    });
  });

  test("cancelling a nursery reaches grandchildren", async () => {
    await runVirtual(async () => {
      const cancelled: string[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          openNursery(async (child) => {
            child.startSoon(async () => {
              try {
                await sleepForever();
              } finally {
                cancelled.push("grandchild");
              }
            });
          }),
        );
        await sleep(5);
        nursery.cancelScope.cancel();
      });
      expect(cancelled).toEqual(["grandchild"]);
    });
  });

  test("a pre-cancelled nursery still starts children; they see Cancelled at their first checkpoint", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      await openNursery(async (nursery) => {
        nursery.cancelScope.cancel();
        nursery.startSoon(async () => {
          log.push("started");
          try {
            await checkpoint();
            log.push("not reached");
          } catch (e) {
            log.push(e instanceof Cancelled ? "cancelled" : "other");
            throw e;
          }
        });
      });
      expect(log).toEqual(["started", "cancelled"]);
    });
  });

  test("startSoon after the nursery has closed throws 'nursery is closed'", async () => {
    await runVirtual(async () => {
      let saved: Nursery | null = null;
      await openNursery(async (nursery) => {
        saved = nursery;
      });
      expect(() => saved!.startSoon(async () => {})).toThrow(/nursery is closed/);
    });
  });

  test("a child may call startSoon on its nursery while the parent waits at the end of the body", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleep(10);
          nursery.startSoon(async () => {
            await sleep(10);
            log.push("late child");
          });
        });
      });
      expect(log).toEqual(["late child"]);
      expect(currentTime()).toBe(20);
    });
  });

  test("childTasks lists the running children; parentTask is the opener", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        expect(nursery.parentTask).toBe(lowlevel.currentTask());
        nursery.startSoon(() => sleep(5), { name: "a" });
        nursery.startSoon(() => sleep(10), { name: "b" });
        expect([...nursery.childTasks].map((t) => t.name)).toEqual(["a", "b"]);
        await sleep(7);
        expect([...nursery.childTasks].map((t) => t.name)).toEqual(["b"]);
      });
    });
  });
});

describe("nursery.start", () => {
  async function sleepThenStart(ms: number, status: TaskStatus<number>): Promise<void> {
    await sleep(ms);
    status.started(ms);
    await sleep(ms);
  }

  test("start waits for started(value), returns the value, and the nursery then waits for the task", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        expect(
          await nursery.start((status: TaskStatus<number>) => sleepThenStart(10, status)),
        ).toBe(10);
        expect(currentTime()).toBe(10);
        expect(nursery.childTasks.size).toBe(1);
      });
      expect(currentTime()).toBe(20);
      // TASK_STATUS_IGNORED lets the function be called directly
      await sleepThenStart(5, TASK_STATUS_IGNORED);
      expect(currentTime()).toBe(30);
    });
  });

  test("an error before started() rejects start, unwrapped, and does not reach the nursery", async () => {
    await runVirtual(async () => {
      const boom = new Error("boom");
      await openNursery(async (nursery) => {
        await expect(
          nursery.start(async () => {
            await sleep(1);
            throw boom;
          }),
        ).rejects.toBe(boom);
      });
    });
  });

  test("returning without started() rejects with 'without calling started'", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        await expect(nursery.start(async () => {})).rejects.toThrow(/without calling started/);
      });
    });
  });

  test("started() twice throws", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        await nursery.start(async (status) => {
          status.started();
          expect(() => status.started()).toThrow(/twice/);
        });
      });
    });
  });

  test("until started(), cancelling the caller cancels the child", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      await openNursery(async (nursery) => {
        await new CancelScope({ relativeDeadline: 5 }).run(() =>
          nursery.start(async (status) => {
            try {
              await sleep(100);
              status.started();
            } finally {
              log.push(`child cleaned up at ${currentTime()}`);
            }
          }),
        );
      });
      expect(log).toEqual(["child cleaned up at 5"]);
    });
  });

  test("after started(), the task belongs to the target nursery: cancelling the caller no longer reaches it", async () => {
    await runVirtual(async () => {
      let finishedAt = -1;
      await openNursery(async (nursery) => {
        const callerScope = new CancelScope();
        await callerScope.run(async () => {
          await nursery.start(async (status) => {
            status.started();
            await sleep(50);
            finishedAt = currentTime();
          });
          callerScope.cancel();
        });
      });
      expect(finishedAt).toBe(50);
    });
  });

  test("after started(), a cancelled target nursery cancels the task and its children", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      await openNursery(async (target) => {
        target.cancelScope.cancel();
        // start from outside the target's scope so start itself is not cancelled
        await openNursery(async (callerSide) => {
          callerSide.startSoon(async () => {
            await new CancelScope({ shield: true }).run(() =>
              target.start(async (status) => {
                await openNursery(async (inner) => {
                  inner.startSoon(async () => {
                    try {
                      await sleepForever();
                    } finally {
                      log.push("grandchild cancelled");
                    }
                  });
                  await checkpoint();
                  status.started();
                  try {
                    await sleepForever();
                  } finally {
                    log.push("child cancelled");
                  }
                });
              }),
            );
          });
        });
      }).catch(() => {});
      expect(log.sort()).toEqual(["child cancelled", "grandchild cancelled"]);
    });
  });

  test("if the scope around start() is cancelled, started() does nothing and start throws Cancelled", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        const scope = new CancelScope();
        let error: unknown;
        await scope.run(async () => {
          scope.cancel();
          try {
            await nursery.start(async (status) => {
              status.started();
              await checkpoint();
            });
          } catch (e) {
            error = e;
            throw e;
          }
        });
        expect(error).toBeInstanceOf(Cancelled);
        expect(nursery.childTasks.size).toBe(0);
      });
    });
  });

  test("...unless the child never checkpointed: then start returns normally", async () => {
    await runVirtual(async () => {
      await openNursery(async (nursery) => {
        const scope = new CancelScope();
        await scope.run(async () => {
          scope.cancel();
          await nursery.start(async (status) => {
            status.started();
          });
        });
        expect(scope.cancelledCaught).toBe(false);
      });
    });
  });

  test("start on a closed nursery throws at once", async () => {
    await runVirtual(async () => {
      let closed: Nursery | null = null;
      await openNursery(async (nursery) => {
        closed = nursery;
      });
      const before = currentTime();
      await expect(closed!.start(async (status) => status.started())).rejects.toThrow(
        /nursery is closed/,
      );
      expect(currentTime()).toBe(before);
    });
  });

  test("a pending start keeps the nursery open", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      await openNursery(async (outer) => {
        await openNursery(async (target) => {
          // another task starts into `target`; the start is still pending when the body ends
          outer.startSoon(() =>
            target.start(async (status) => {
              await sleep(10);
              status.started();
              await sleep(10);
              log.push("started child done");
            }),
          );
          await checkpoint();
        });
        log.push(`target closed at ${currentTime()}`);
      });
      expect(log).toEqual(["started child done", "target closed at 20"]);
    });
  });
});

describe("the task tree", () => {
  test("parentNursery, eventualParentNursery and childNurseries (outer first) make the tree walkable to the root", async () => {
    await runVirtual(async () => {
      const root = lowlevel.currentRootTask();
      const main = lowlevel.currentTask();
      expect(main.parentNursery?.parentTask).toBe(root);
      expect(root.parentNursery).toBeNull();
      await openNursery(async (outer) => {
        await openNursery(async (inner) => {
          expect(main.childNurseries).toEqual([outer, inner]);
          await outer.start(async (status: TaskStatus) => {
            const child = lowlevel.currentTask();
            expect(child.eventualParentNursery).toBe(outer);
            expect(child.parentNursery?.parentTask).toBe(main); // lives under start() for now
            status.started();
            expect(child.eventualParentNursery).toBeNull();
            expect(child.parentNursery).toBe(outer);
            // walk to the root
            const chain: string[] = [];
            for (let t: Task | null = child; t !== null; t = t.parentNursery?.parentTask ?? null)
              chain.push(t.name);
            expect(chain.at(-1)).toBe(root.name);
          });
        });
        expect(main.childNurseries).toEqual([outer]);
      });
      expect(main.childNurseries).toEqual([]);
    });
  });
});
