import {
  CancelScope,
  checkpoint,
  currentTime,
  ExceptionGroup,
  generatorChannel,
  isCancelled,
  moveOnAfter,
  type Nursery,
  openNursery,
  sleep,
  sleepForever,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";

const bad = <T>(value: unknown) => value as T;

/** Awaits inside a shielded scope: the cleanup a cancelled task can still await. */
async function cleanUp(ms: number): Promise<void> {
  await new CancelScope({ shield: true }).run(() => sleep(ms));
}

async function* count(n: number, periodMs: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    await sleep(periodMs);
    yield i;
  }
}

/** Ticks every 10 ms; its cleanup fails with `cleanupError`. */
async function* ticksWithFailingCleanup(cleanupError: Error): AsyncGenerator<number> {
  const closeConnection = async () => {
    await checkpoint();
    throw cleanupError;
  };
  try {
    for (let i = 0; ; i++) {
      await sleep(10);
      yield i;
    }
  } finally {
    await new CancelScope({ shield: true }).run(closeConnection);
  }
}

// ---------------------------------------------------------------------------
// Generators that hold a cancel scope or a nursery open across their yields.
//
// A `yield` cannot appear inside the callback of `moveOnAfter` or
// `openNursery`, so in weft such a generator needs the scope split into enter
// and exit, the way Python's `with move_on_after(...):` or `async with
// open_nursery():` spans the generator's yields. These helpers do that with
// the public API: the scope's body waits for `exit`, which hands it the error
// that ended the generator's block (so the scope can catch its Cancelled).

const NO_ERROR = Symbol("no error");

function enterScope(scope: CancelScope): { exit(error?: unknown): Promise<void> } {
  let leave!: (error: unknown) => void;
  const left = new Promise<void>((resolve, reject) => {
    leave = (error) => (error === NO_ERROR ? resolve() : reject(error));
  });
  const done = scope.run(() => left);
  return {
    async exit(error: unknown = NO_ERROR) {
      leave(error);
      await done;
    },
  };
}

function enterNursery(): { nursery: Nursery; exit(error?: unknown): Promise<void> } {
  let leave!: (error: unknown) => void;
  const left = new Promise<void>((resolve, reject) => {
    leave = (error) => (error === NO_ERROR ? resolve() : reject(error));
  });
  let nursery!: Nursery;
  const done = openNursery(
    async (n) => {
      nursery = n;
      await left;
    },
    { strictErrors: false },
  );
  return {
    nursery,
    async exit(error: unknown = NO_ERROR) {
      leave(error);
      await done;
    },
  };
}

/**
 * Ticks every `periodMs` until its own timeout of `forMs` ends it — in Python:
 * `with trio.move_on_after(for_s): while True: await sleep(period); yield i`.
 */
async function* ticker(periodMs: number, forMs: number, log: string[]): AsyncGenerator<number> {
  const timeout = enterScope(new CancelScope({ relativeDeadline: forMs }));
  let error: unknown = NO_ERROR;
  try {
    for (let i = 0; ; i++) {
      await sleep(periodMs);
      yield i;
    }
  } catch (e) {
    error = e;
  } finally {
    log.push(`ticker finished at ${currentTime()}`);
    await timeout.exit(error);
  }
}

/** Ticks every 10 ms, with a helper task in its own nursery that fails at 25 ms. */
async function* tickerWithHelper(log: string[]): AsyncGenerator<number> {
  const scope = enterNursery();
  scope.nursery.startSoon(async () => {
    await sleep(25);
    throw new Error("helper failed");
  });
  let error: unknown = NO_ERROR;
  try {
    for (let i = 0; ; i++) {
      await sleep(10);
      yield i;
    }
  } catch (e) {
    error = e;
  } finally {
    log.push(`ticker finished at ${currentTime()}`);
    await scope.exit(error);
  }
}

describe("generatorChannel", () => {
  test("the generator's values arrive in order, and generatorChannel resolves with the body's value", async () => {
    await runVirtual(async () => {
      const received: number[] = [];
      const value = await generatorChannel(
        () => count(5, 10),
        async (values) => {
          for await (const v of values) received.push(v);
          return "body value";
        },
      );
      expect(received).toEqual([0, 1, 2, 3, 4]);
      expect(value).toBe("body value");
      expect(currentTime()).toBe(50);
    });
  });

  test("the generator ending closes the channel: the body's loop ends and the body goes on", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      await generatorChannel(
        async function* () {
          yield "only";
          log.push("generator returned");
        },
        async (values) => {
          for await (const v of values) log.push(`got ${v}`);
          log.push("loop ended");
          await sleep(5); // the body may still await after the channel ended
          log.push("body done");
        },
      );
      // (the unbuffered send completes on receipt, so which of the first two
      // lines comes first is up to the scheduler)
      expect(log.slice(0, 2).sort()).toEqual(["generator returned", "got only"]);
      expect(log.slice(2)).toEqual(["loop ended", "body done"]);
    });
  });

  test("breaking out of the loop early cancels the generator; its finally (with a shielded awaited cleanup) has run when generatorChannel resolves", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const received: number[] = [];
      async function* endless() {
        try {
          for (let i = 0; ; i++) {
            await sleep(10);
            yield i;
          }
        } catch (e) {
          log.push(`generator saw ${isCancelled(e) ? "Cancelled" : String(e)}`);
          throw e;
        } finally {
          await cleanUp(5);
          log.push(`generator cleaned up at ${currentTime()}`);
        }
      }
      const value = await generatorChannel(endless, async (values) => {
        for await (const v of values) {
          received.push(v);
          if (v === 2) break;
        }
        return "stopped";
      });
      log.push(`generatorChannel resolved at ${currentTime()}`);
      expect(value).toBe("stopped");
      expect(received).toEqual([0, 1, 2]);
      expect(log).toEqual([
        "generator saw Cancelled",
        "generator cleaned up at 35",
        "generatorChannel resolved at 35",
      ]);
    });
  });

  test("an error thrown by the generator reaches the caller as itself", async () => {
    await runVirtual(async () => {
      const boom = new Error("generator failed");
      const received: number[] = [];
      let bodyCancelled = false;
      const error = await rejection(
        generatorChannel(
          async function* () {
            yield 1;
            await sleep(10);
            throw boom;
          },
          async (values) => {
            try {
              for await (const v of values) received.push(v);
              await sleepForever(); // never gets here: the loop is cancelled first
            } catch (e) {
              bodyCancelled = isCancelled(e);
              throw e;
            }
          },
        ),
      );
      expect(error).toBe(boom);
      expect(received).toEqual([1]);
      expect(bodyCancelled).toBe(true);
    });
  });

  test("an error thrown by the body cancels the generator (its finally runs) and reaches the caller as itself", async () => {
    await runVirtual(async () => {
      const boom = new Error("body failed");
      const log: string[] = [];
      const error = await rejection(
        generatorChannel(
          async function* () {
            try {
              for (let i = 0; ; i++) {
                await sleep(10);
                yield i;
              }
            } finally {
              await cleanUp(3);
              log.push(`generator cleaned up at ${currentTime()}`);
            }
          },
          async (values) => {
            for await (const v of values) {
              if (v === 1) throw boom;
            }
          },
        ),
      );
      expect(error).toBe(boom);
      expect(log).toEqual(["generator cleaned up at 23"]);
    });
  });

  test("an error of the generator's cleanup is kept when the body fails too: both come out in an ExceptionGroup", async () => {
    await runVirtual(async () => {
      const bodyFailed = new Error("body failed");
      const cleanupFailed = new Error("cleanup failed");
      const error = await rejection(
        generatorChannel(
          () => ticksWithFailingCleanup(cleanupFailed),
          async (values) => {
            for await (const v of values) if (v === 1) throw bodyFailed;
          },
        ),
      );
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect(new Set((error as ExceptionGroup).leafErrors())).toEqual(
        new Set([bodyFailed, cleanupFailed]),
      );
    });
  });

  test("DANGER: consumed directly with for await, an error of the generator's cleanup is lost when the loop body fails", async () => {
    await runVirtual(async () => {
      const bodyFailed = new Error("body failed");
      const cleanupFailed = new Error("cleanup failed");
      const error = await rejection(
        (async () => {
          for await (const v of ticksWithFailingCleanup(cleanupFailed))
            if (v === 1) throw bodyFailed;
        })(),
      );
      // for await closes the generator with return(); when the loop was left
      // by an error, JavaScript drops whatever return() throws.
      expect(error).toBe(bodyFailed);
    });
  });

  test("a cancellation from outside stops both the body and the generator", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const result = await moveOnAfter(25, () =>
        generatorChannel(
          async function* () {
            try {
              for (let i = 0; ; i++) {
                await sleep(10);
                yield i;
              }
            } finally {
              log.push("generator finally");
            }
          },
          async (values) => {
            for await (const v of values) log.push(`got ${v}`);
            log.push("body went on");
            return "finished";
          },
        ),
      );
      expect(result).toBeUndefined();
      expect(log).toEqual(["got 0", "got 1", "generator finally"]);
      expect(currentTime()).toBe(25);
    });
  });

  test("bufferSize lets the generator run ahead of the body: bufferSize values wait in the channel, one more in a blocked send", async () => {
    for (const bufferSize of [0, 1, 3]) {
      await runVirtual(async () => {
        let produced = 0;
        let producedBeforeFirstReceive = -1;
        let bufferUsed = -1;
        const received = await generatorChannel(
          async function* () {
            for (let i = 0; i < 10; i++) {
              produced++;
              yield i;
            }
          },
          async (values) => {
            await sleep(10); // the generator runs until the channel is full
            producedBeforeFirstReceive = produced;
            bufferUsed = values.statistics().currentBufferUsed;
            const got: number[] = [];
            for await (const v of values) got.push(v);
            return got;
          },
          { bufferSize },
        );
        expect(received).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect({ bufferSize, bufferUsed, producedBeforeFirstReceive }).toEqual({
          bufferSize,
          bufferUsed: bufferSize,
          producedBeforeFirstReceive: bufferSize + 1,
        });
      });
    }
  });

  test("bad input: source, body and options are checked (the promise rejects), with their names", async () => {
    await runVirtual(async () => {
      const body = async () => {};
      const source = () => count(1, 1);
      await expectRejects(() => generatorChannel(bad(42), body), TypeError);
      await expectRejects(() => generatorChannel(bad(42), body), /source/);
      await expectRejects(() => generatorChannel(source, bad(null)), TypeError);
      await expectRejects(() => generatorChannel(source, bad(null)), /body/);
      await expectRejects(() => generatorChannel(source, body, bad(3)), TypeError);
      await expectRejects(() => generatorChannel(source, body, bad(3)), /options/);
    });
  });

  test("bad input: a negative bufferSize rejects with a RangeError naming options.bufferSize", async () => {
    await runVirtual(async () => {
      await expectRejects(
        () =>
          generatorChannel(
            () => count(1, 1),
            async () => {},
            { bufferSize: -1 },
          ),
        RangeError,
        /options\.bufferSize/,
      );
    });
  });
});

describe("generators that hold a cancel scope or nursery open across their yields", () => {
  test("through generatorChannel, the generator's own timeout ends the generator (a fast body sees every tick before it)", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const value = await generatorChannel(
        () => ticker(10, 55, log),
        async (values) => {
          const got: number[] = [];
          for await (const v of values) {
            got.push(v);
            await sleep(3); // the body's own work, shorter than a tick
          }
          log.push(`body's loop ended at ${currentTime()}`);
          return got;
        },
      );
      expect(value).toEqual([0, 1, 2, 3, 4]);
      expect(log).toEqual(["ticker finished at 55", "body's loop ended at 55"]);
    });
  });

  test("through generatorChannel, the generator's own timeout only affects the generator, even while the body is busy", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const value = await generatorChannel(
        () => ticker(10, 25, log),
        async (values) => {
          const got: number[] = [];
          for await (const v of values) {
            got.push(v);
            await sleep(20); // the body's own work: the ticker's timeout must not cut it short
            log.push(`body handled ${v} at ${currentTime()}`);
          }
          log.push(`body's loop ended at ${currentTime()}`);
          return got;
        },
      );
      // Tick 1 (produced at 20) was still waiting for the busy body when the
      // ticker's timeout passed at 25: the timeout cancels that pending
      // delivery, the generator ends, and the body finishes its work on tick 0.
      expect(log).toEqual([
        "ticker finished at 25",
        "body handled 0 at 30",
        "body's loop ended at 30",
      ]);
      expect(value).toEqual([0]);
    });
  });

  test("through generatorChannel, an error from a task in the generator's own nursery reaches the caller", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const error = await rejection(
        generatorChannel(
          () => tickerWithHelper(log),
          async (values) => {
            for await (const _ of values) await sleep(20); // a busy body
            return "the body finished";
          },
        ),
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe("helper failed");
    });
  });

  test("DANGER: consumed directly with for await, the generator's timeout cancels the consumer's own unrelated work, and its Cancelled escapes the run", async () => {
    const log: string[] = [];
    const error = await rejection(
      runVirtual(async () => {
        for await (const v of ticker(10, 25, log)) {
          try {
            await sleep(20); // the consumer's own work, nothing to do with the ticker
            log.push(`consumer handled ${v}`);
          } catch (e) {
            log.push(
              `consumer's own work got ${isCancelled(e) ? "Cancelled" : String(e)} at ${currentTime()}`,
            );
            throw e;
          }
        }
        log.push("after the loop"); // never reached
      }),
    );
    // The generator's scope was open in the consumer's task while the consumer
    // worked: its deadline cut the consumer's sleep short. The scope then exited
    // (for await closed the generator) without seeing that Cancelled, so no
    // scope caught it and it escaped the main task.
    expect(log).toEqual(["consumer's own work got Cancelled at 25", "ticker finished at 25"]);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      "a Cancelled escaped the main task although no enclosing scope was cancelled",
    );
    expect(isCancelled((error as Error).cause)).toBe(true);
  });

  test("DANGER: consumed directly, an error in the generator's own nursery cancels the consumer's work and is lost", async () => {
    const log: string[] = [];
    const error = await rejection(
      runVirtual(async () => {
        for await (const _ of tickerWithHelper(log)) {
          try {
            await sleep(20);
          } catch (e) {
            log.push(
              `consumer's own work got ${isCancelled(e) ? "Cancelled" : String(e)} at ${currentTime()}`,
            );
            throw e;
          }
        }
      }),
    );
    expect(log).toEqual(["consumer's own work got Cancelled at 25", "ticker finished at 25"]);
    // "helper failed" is nowhere but in the Cancelled's reason: for await threw
    // the consumer's Cancelled and dropped the error of the generator's cleanup.
    expect((error as Error).message).toBe(
      "a Cancelled escaped the main task although no enclosing scope was cancelled",
    );
    expect(String((error as Error).cause)).toContain("helper failed");
  });

  test("DANGER: pulling the next value under a timeout of the consumer's corrupts the cancel scope stack", async () => {
    await runVirtual(async () => {
      const log: string[] = [];
      const ticks = ticker(10, 25, log);
      // A per-value timeout, a natural thing to write. The generator enters its
      // scope inside moveOnAfter's scope and is still inside it when
      // moveOnAfter's scope exits.
      const error = await rejection(moveOnAfter(1000, () => ticks.next()));
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(
        'cancel scope stack corrupted: <task "main"> exited a cancel scope while an inner scope was still open ' +
          "(scopes must exit in reverse order of entry; were several weft operations of one task run concurrently?)",
      );
      await ticks.return(undefined);
      expect(log).toEqual(["ticker finished at 10"]);
    });
  });
});
