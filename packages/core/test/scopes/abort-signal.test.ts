import { setTimeout as delay } from "node:timers/promises";
import {
  Cancelled,
  CancelScope,
  cancellable,
  currentSignal,
  moveOnAfter,
  openNursery,
  sleep,
  sleepForever,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";

describe("currentSignal", () => {
  test("aborts when the calling task's effective cancel state becomes cancelled, with a Cancelled as reason", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      await outer.run(async () => {
        const signal = currentSignal();
        expect(signal.aborted).toBe(false);
        await new CancelScope().run(async () => {
          const inner = currentSignal();
          outer.cancel("outer reason");
          expect(inner.aborted).toBe(true);
          expect(inner.reason).toBeInstanceOf(Cancelled);
          expect((inner.reason as Cancelled).reason).toBe("outer reason");
        });
        expect(signal.aborted).toBe(true);
      });
    });
  });

  test("a shielded scope's signal does not abort for an outer cancellation", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      await outer.run(async () => {
        await new CancelScope({ shield: true }).run(async () => {
          const signal = currentSignal();
          outer.cancel();
          expect(signal.aborted).toBe(false);
        });
      });
    });
  });

  test("once the task is no longer cancelled (a shield turned on), currentSignal() is a fresh, unaborted signal; the one handed out before stays aborted", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      await outer.run(async () => {
        await new CancelScope().run(async (inner) => {
          const before = currentSignal();
          outer.cancel("outer reason");
          expect(before.aborted).toBe(true);
          expect(currentSignal()).toBe(before);
          inner.shield = true;
          const fresh = currentSignal();
          expect(fresh).not.toBe(before);
          expect(fresh.aborted).toBe(false);
          expect(before.aborted).toBe(true); // an AbortSignal cannot un-abort
          await sleep(1); // a checkpoint: not cancelled any more
          expect(currentSignal()).toBe(fresh); // one signal per stretch of not being cancelled
          expect(fresh.aborted).toBe(false);
        });
      });
    });
  });

  test("the fresh signal aborts when the shield is turned off again, with the outer cancellation's reason", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      await outer.run(async () => {
        await new CancelScope().run(async (inner) => {
          currentSignal();
          outer.cancel("outer reason");
          inner.shield = true;
          const fresh = currentSignal();
          expect(fresh.aborted).toBe(false);
          inner.shield = false;
          expect(fresh.aborted).toBe(true);
          expect(fresh.reason).toBeInstanceOf(Cancelled);
          expect((fresh.reason as Cancelled).reason).toBe("outer reason");
        });
      });
      expect(outer.cancelledCaught).toBe(false); // nothing checkpointed while cancelled
    });
  });

  test("the fresh signal aborts when the scope itself is cancelled later, with that cancellation's reason", async () => {
    await runVirtual(async () => {
      const outer = new CancelScope();
      const inner = new CancelScope({ relativeDeadline: 10 });
      const signals: AbortSignal[] = [];
      await outer.run(async () => {
        await inner.run(async () => {
          currentSignal();
          outer.cancel("outer reason");
          inner.shield = true;
          signals.push(currentSignal());
          await sleepForever(); // until the scope's own deadline
        });
      });
      const [fresh] = signals;
      expect(inner.cancelledCaught).toBe(true);
      expect(fresh?.aborted).toBe(true);
      expect(String(fresh?.reason)).toBe("Cancelled: cancelled due to deadline");
    });
  });

  test("a signal-taking API given currentSignal() stops when the scope is cancelled", async () => {
    // Real host timers: this test is about the bridge to Node's APIs.
    await runVirtual(async () => {
      const result = await moveOnAfter(10, () =>
        cancellable(delay(10_000, "late", { signal: currentSignal() })),
      );
      expect(result).toBeUndefined();
    });
  });
});

describe("cancellable", () => {
  test("awaits foreign work and returns its value, as a checkpoint", async () => {
    const log: string[] = [];
    await runVirtual(() =>
      openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          log.push(String(await cancellable(Promise.resolve("value"))));
        });
        nursery.startSoon(async () => {
          log.push("other");
        });
      }),
    );
    // even an already-resolved promise yields to the other task first
    expect(log).toEqual(["other", "value"]);
  });

  test("rejects with the foreign work's error", async () => {
    const boom = new Error("boom");
    await runVirtual(async () => {
      await expect(cancellable(Promise.reject(boom))).rejects.toBe(boom);
      await expect(
        cancellable(async () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
    });
  });

  test("on cancellation it aborts the signal it handed out and throws Cancelled at once", async () => {
    await runVirtual(async () => {
      let handed: AbortSignal | null = null;
      const scope = new CancelScope({ relativeDeadline: 5 });
      let error: unknown;
      await scope.run(async () => {
        try {
          await cancellable((signal) => {
            handed = signal;
            return new Promise(() => {}); // ignores its signal and never settles
          });
        } catch (e) {
          error = e;
          throw e;
        }
      });
      expect(error).toBeInstanceOf(Cancelled);
      expect(handed!.aborted).toBe(true);
      expect(scope.cancelledCaught).toBe(true);
    });
  });

  test("a late rejection of the abandoned promise is swallowed, never reported as unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let rejectLater: (error: Error) => void = () => {};
      await runVirtual(async () => {
        await moveOnAfter(5, () =>
          cancellable(
            new Promise((_, reject) => {
              rejectLater = reject;
            }),
          ),
        );
      });
      rejectLater(new Error("too late"));
      // unhandled rejections are reported once the microtask queue drains
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  test("already cancelled: the work function is never called", async () => {
    await runVirtual(async () => {
      let called = false;
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(async () => {
        await cancellable(async () => {
          called = true;
        });
      });
      expect(called).toBe(false);
    });
  });

  test("bad input: work must be a promise or a function returning one", async () => {
    await runVirtual(async () => {
      await expectRejects(() => cancellable(42 as unknown as Promise<number>), TypeError);
      expect(
        await rejection(cancellable((() => 42) as unknown as () => Promise<number>)),
      ).toBeInstanceOf(TypeError);
      await sleep(0);
    });
  });
});
