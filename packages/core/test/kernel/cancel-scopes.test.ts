import {
  Cancelled,
  CancelScope,
  checkpoint,
  currentEffectiveDeadline,
  currentTime,
  ExceptionGroup,
  failAfter,
  isCancelled,
  lowlevel,
  moveOnAfter,
  moveOnAt,
  openNursery,
  sleep,
  sleepForever,
  sleepUntil,
  TooSlowError,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";

describe("cancel scopes: level-triggered cancellation", () => {
  test("once a scope is cancelled every checkpoint inside it throws Cancelled until the scope exits", async () => {
    await runVirtual(async () => {
      let throws = 0;
      const scope = new CancelScope();
      await scope.run(async () => {
        scope.cancel();
        for (const op of [
          () => checkpoint(),
          () => sleep(5),
          () => sleepForever(),
          () => checkpoint(),
        ]) {
          try {
            await op();
          } catch (error) {
            expect(error).toBeInstanceOf(Cancelled);
            throws++;
          }
        }
      });
      expect(throws).toBe(4);
      expect(scope.cancelledCaught).toBe(false); // the body swallowed every Cancelled
      await checkpoint(); // outside the scope: no longer cancelled
    });
  });

  test("the outermost cancelled scope visible from the checkpoint catches the Cancelled", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      const inner = new CancelScope();
      await outer.run(() =>
        inner.run(async () => {
          inner.cancel();
          outer.cancel();
          await checkpoint();
        }),
      );
      expect(outer.cancelledCaught).toBe(true);
      expect(inner.cancelledCaught).toBe(false);
    });
  });

  test("a shield stops the view: the shielded inner scope catches its own cancellation", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      const inner = new CancelScope({ shield: true });
      let afterInner = false;
      await outer.run(async () => {
        outer.cancel();
        await inner.run(async () => {
          await sleep(5); // the outer cancellation does not reach here
          inner.cancel();
          await checkpoint();
        });
        afterInner = true;
        await checkpoint(); // outer cancellation is visible again
      });
      expect(inner.cancelledCaught).toBe(true);
      expect(afterInner).toBe(true);
      expect(outer.cancelledCaught).toBe(true);
    });
  });

  test("the decision is made when the Cancelled reaches the scope's exit", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      const inner = new CancelScope();
      await outer.run(async () => {
        await inner.run(async () => {
          inner.cancel();
          try {
            await checkpoint();
          } finally {
            // the outer scope is cancelled while the inner's Cancelled is in flight
            outer.cancel();
          }
        });
      });
      expect(inner.cancelledCaught).toBe(false);
      expect(outer.cancelledCaught).toBe(true);
    });
  });
});

describe("cancel scopes: entry, exit and deadlines", () => {
  test("a nursery's scope and a created one are one type, and both are instances of CancelScope", async () => {
    await runVirtual(async () => {
      const scopes: CancelScope[] = [new CancelScope()];
      await openNursery(async (nursery) => {
        // Typed as CancelScope (the interface both share): this line must compile.
        scopes.push(nursery.cancelScope);
      });
      await moveOnAfter(1, async (scope) => {
        scopes.push(scope);
      });
      for (const scope of scopes) expect(scope).toBeInstanceOf(CancelScope);
      expect(scopes.map(String)).toEqual([
        "<CancelScope unentered>",
        "<CancelScope exited>",
        "<CancelScope exited, deadline 1>",
      ]);
    });
  });

  test("cancel() before entry works: the body is cancelled from its first checkpoint", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      scope.cancel();
      let reached = false;
      await scope.run(async () => {
        await checkpoint();
        reached = true;
      });
      expect(reached).toBe(false);
      expect(scope.cancelledCaught).toBe(true);
    });
  });

  test("cancel() after exit only sets cancelCalled", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      await scope.run(() => checkpoint());
      scope.cancel();
      expect(scope.cancelCalled).toBe(true);
      expect(scope.cancelledCaught).toBe(false);
      await checkpoint();
    });
  });

  test("a scope is used once: running it again throws", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      await scope.run(async () => {});
      await expectRejects(() => scope.run(async () => {}), /only be entered once/);
    });
  });

  test("a relative deadline becomes absolute on entry", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope({ relativeDeadline: 100 });
      expect(scope.relativeDeadline).toBe(100);
      await sleep(50);
      await scope.run(async () => {
        expect(scope.deadline).toBe(150);
        await sleep(1000);
      });
      expect(currentTime()).toBe(150);
      expect(scope.cancelledCaught).toBe(true);
    });
  });

  test("a deadline already past at entry cancels at once", async () => {
    await runVirtual(async () => {
      await sleep(10);
      const scope = new CancelScope({ deadline: 5 });
      await scope.run(async () => {
        expect(scope.cancelCalled).toBe(true);
        await checkpoint();
      });
      expect(scope.cancelledCaught).toBe(true);
    });
  });

  test("changing deadline takes effect at once, waking a blocked task", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      await openNursery(async (nursery) => {
        nursery.startSoon(() => scope.run(() => sleepForever()));
        await sleep(10);
        scope.deadline = currentTime() + 5;
      });
      expect(currentTime()).toBe(15);
      expect(scope.cancelledCaught).toBe(true);
    });
  });

  test("moving a deadline later postpones the cancellation", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope({ relativeDeadline: 10 });
      await scope.run(async () => {
        scope.deadline += 40;
        await sleep(100);
      });
      expect(currentTime()).toBe(50);
    });
  });

  test("changing shield takes effect at once, waking a blocked task", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      const shielded = new CancelScope({ shield: true });
      let woke = -1;
      await outer.run(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            try {
              await shielded.run(() => sleepForever());
            } finally {
              woke = currentTime();
            }
          });
          outer.cancel();
          await sleep(20).catch(() => {});
          expect(woke).toBe(-1); // shielded: still asleep
          await new CancelScope({ shield: true }).run(async () => {
            await sleep(20);
            shielded.shield = false;
          });
        }),
      );
      expect(woke).toBe(20);
      expect(outer.cancelledCaught).toBe(true);
      expect(shielded.cancelledCaught).toBe(false);
    });
  });

  test("cancelCalled becomes true when the deadline passes and never reverts", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope({ relativeDeadline: 10 });
      await scope.run(async () => {
        expect(scope.cancelCalled).toBe(false);
        await sleep(10).catch(() => {});
        expect(scope.cancelCalled).toBe(true);
        scope.deadline = Infinity;
        expect(scope.cancelCalled).toBe(true);
      });
      expect(scope.cancelCalled).toBe(true);
    });
  });

  test("the scope's signal aborts when the scope is cancelled, with the Cancelled as reason", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      await scope.run(async () => {
        expect(scope.signal.aborted).toBe(false);
        scope.cancel("enough");
        expect(scope.signal.aborted).toBe(true);
        expect(scope.signal.reason).toBeInstanceOf(Cancelled);
        expect(String(scope.signal.reason)).toContain("enough");
      });
    });
  });
});

describe("cancel scopes: cancelledCaught", () => {
  test("cancelledCaught is true only for a Cancelled this scope owned", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      const inner = new CancelScope();
      await outer.run(() =>
        inner.run(async () => {
          outer.cancel();
          await checkpoint();
        }),
      );
      expect(inner.cancelledCaught).toBe(false);
      expect(outer.cancelledCaught).toBe(true);
    });
  });

  test("a scope removes the Cancelled it owns from a group and keeps the other errors", async () => {
    const boom = new Error("boom");
    await runVirtual(async () => {
      const scope = new CancelScope();
      const error = await rejection(
        scope.run(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(() => sleepForever());
            nursery.startSoon(async () => {
              await sleep(1);
              throw boom;
            });
          }),
        ),
      );
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect((error as ExceptionGroup).leafErrors()).toEqual([boom]);
      // The nursery's own scope owned the siblings' Cancelled; ours caught nothing.
      expect(scope.cancelledCaught).toBe(false);
    });
  });

  test("a group holding only Cancelled owned by the scope is caught whole: nothing is thrown", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      await scope.run(() =>
        openNursery(async (nursery) => {
          for (let i = 0; i < 3; i++) nursery.startSoon(() => sleepForever());
          await sleep(1);
          scope.cancel();
        }),
      );
      expect(scope.cancelledCaught).toBe(true);
    });
  });
});

describe("cancel scopes: effective deadline and Cancelled messages", () => {
  test("currentEffectiveDeadline is the earliest enclosing deadline up to the nearest shield", async () => {
    await runVirtual(async () => {
      expect(currentEffectiveDeadline()).toBe(Infinity);
      await moveOnAt(100, async () => {
        expect(currentEffectiveDeadline()).toBe(100);
        await moveOnAt(200, async () => {
          expect(currentEffectiveDeadline()).toBe(100);
          await moveOnAt(300, async () => expect(currentEffectiveDeadline()).toBe(300), {
            shield: true,
          });
          await new CancelScope({ shield: true }).run(async () =>
            expect(currentEffectiveDeadline()).toBe(Infinity),
          );
        });
      });
    });
  });

  test("currentEffectiveDeadline is -Infinity when already cancelled", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      await scope.run(async () => {
        scope.cancel();
        expect(currentEffectiveDeadline()).toBe(-Infinity);
      });
    });
  });

  test("Cancelled says 'cancelled due to SOURCE' and adds the reason when one was given", async () => {
    await runVirtual(async () => {
      const messages: string[] = [];
      const record = async (scope: CancelScope) => {
        await scope.run(async () => {
          try {
            await sleepForever();
          } catch (error) {
            messages.push((error as Error).message);
            throw error;
          }
        });
      };
      const explicit = new CancelScope();
      explicit.cancel();
      await record(explicit);
      const withReason = new CancelScope();
      withReason.cancel("user pressed stop");
      await record(withReason);
      await record(new CancelScope({ relativeDeadline: 5 }));
      expect(messages).toEqual([
        "cancelled due to explicit",
        "cancelled due to explicit with reason 'user pressed stop'",
        "cancelled due to deadline",
      ]);
    });
  });

  test("explicit-then-deadline keeps explicit; deadline-then-explicit keeps deadline", async () => {
    await runVirtual(async () => {
      const sources: string[] = [];
      const explicitFirst = new CancelScope({ relativeDeadline: 5 });
      await explicitFirst.run(async () => {
        explicitFirst.cancel();
        await sleep(10).catch((e: Cancelled) => sources.push(e.source));
        await checkpoint().catch((e: Cancelled) => sources.push(e.source));
      });
      const deadlineFirst = new CancelScope({ relativeDeadline: 5 });
      await deadlineFirst.run(async () => {
        await sleep(10).catch((e: Cancelled) => sources.push(e.source));
        deadlineFirst.cancel("too late");
        await checkpoint().catch((e: Cancelled) => sources.push(`${e.source}:${e.reason}`));
      });
      expect(sources).toEqual(["explicit", "explicit", "deadline", "deadline:undefined"]);
    });
  });

  test("a child failure cancels its siblings with source 'nursery'", async () => {
    await runVirtual(async () => {
      let seen: Cancelled | null = null;
      await rejection(
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            try {
              await sleepForever();
            } catch (error) {
              seen = error as Cancelled;
              throw error;
            }
          });
          nursery.startSoon(
            async () => {
              await sleep(1);
              throw new Error("boom");
            },
            { name: "failing" },
          );
        }),
      );
      expect(seen!.source).toBe("nursery");
      expect(seen!.message).toMatch(
        /^cancelled due to nursery with reason 'task "failing" raised Error: boom'$/,
      );
    });
  });

  test("a cancellation inherited from an outer scope carries the outer scope's source", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope({ relativeDeadline: 5 });
      let source = "";
      await outer.run(() =>
        new CancelScope().run(async () => {
          await sleepForever().catch((e: Cancelled) => {
            source = e.source;
            throw e;
          });
        }),
      );
      expect(source).toBe("deadline");
    });
  });

  test("a scope that a shield took out of an outer cancellation keeps none of its reason: its own later cancellation says why", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      const inner = new CancelScope({ relativeDeadline: 10 });
      let message = "";
      await outer.run(() =>
        inner.run(async () => {
          outer.cancel("outer reason");
          await checkpoint().catch(() => {}); // cancelled, with the outer reason
          inner.shield = true;
          await sleepForever().catch((e: Cancelled) => {
            message = e.message;
            throw e;
          });
        }),
      );
      expect(message).toBe("cancelled due to deadline");
      expect(inner.cancelledCaught).toBe(true);
      expect(inner.signal.aborted).toBe(true);
      expect(String(inner.signal.reason)).toBe("Cancelled: cancelled due to deadline");
    });
  });
});

describe("timeouts", () => {
  test("failAfter with shield in a cancelled outer scope runs for ms, then throws TooSlowError", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      let error: unknown;
      await outer.run(async () => {
        outer.cancel();
        const start = currentTime();
        try {
          await failAfter(50, () => sleepForever(), { shield: true });
        } catch (e) {
          error = e;
        }
        expect(currentTime() - start).toBe(50);
      });
      expect(error).toBeInstanceOf(TooSlowError);
    });
  });

  test("moveOnAt(now) around sleep(0): the sleep throws and the scope catches it", async () => {
    await runVirtual(async () => {
      let thrown: unknown;
      const result = await moveOnAt(currentTime(), async () => {
        try {
          await sleep(0);
        } catch (e) {
          thrown = e;
          throw e;
        }
        return "finished";
      });
      expect(result).toBeUndefined();
      expect(isCancelled(thrown)).toBe(true);
    });
  });

  test("moveOnAfter resolves with the body's value when it finishes in time", async () => {
    await runVirtual(async () => {
      expect(await moveOnAfter(10, async () => "fast")).toBe("fast");
      expect(await failAfter(10, async () => "fast")).toBe("fast");
      expect(await moveOnAfter(10, () => sleep(20).then(() => "slow"))).toBeUndefined();
    });
  });

  test("sleepUntil sleeps to an absolute time; a past time is just a checkpoint", async () => {
    await runVirtual(async () => {
      await sleepUntil(30);
      expect(currentTime()).toBe(30);
      await sleepUntil(10);
      expect(currentTime()).toBe(30);
    });
  });

  test("argument checks: negative or NaN times and contradictory options are RangeErrors", async () => {
    await runVirtual(async () => {
      await expectRejects(() => sleep(-1), RangeError);
      await expectRejects(() => sleep(Number.NaN), RangeError);
      await expectRejects(() => sleepUntil(Number.NaN), RangeError);
      await expectRejects(() => moveOnAfter(-1, async () => {}), RangeError);
      await expectRejects(() => failAfter(Number.NaN, async () => {}), RangeError);
      expect(() => new CancelScope({ deadline: Number.NaN })).toThrow(RangeError);
      expect(() => new CancelScope({ deadline: 1, relativeDeadline: 1 })).toThrow(RangeError);
      await expectRejects(() => sleep(-1), /ms/);
      expect(() => new CancelScope({ deadline: Number.NaN })).toThrow(/deadline/);
      await expect(lowlevel.waitAllTasksBlocked(-1)).rejects.toThrow(RangeError);
    });
  });
});
