/**
 * runInWorker: calls in worker threads as checkpoints, cancellation that
 * terminates the worker, errors that cross intact, transfers, limiters, and
 * no worker thread left once `run()` has settled.
 *
 * Workers are observed independently of the implementation, through Node's
 * `worker_threads` diagnostics channel (published for every thread created).
 * Nothing waits on real time: a worker function that must be cancelled
 * mid-work first posts "started" on a MessagePort the test passed it.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { availableParallelism } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import {
  BrokenResourceError,
  Cancelled,
  CancelScope,
  CapacityLimiter,
  cancellable,
  checkpoint,
  ExceptionGroup,
  type Instrument,
  lowlevel,
  moveOnAfter,
  openNursery,
  run,
  sleepForever,
  type Task,
} from "@weft/core";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { runInWorker, workerFunction } from "../../src/workers/run-in-worker.ts";
import { defaultWorkerLimiter } from "../../src/workers/worker-pool.ts";
import type * as fixtures from "../fixtures/workers.ts";
import { startProgram } from "../support/child-program.ts";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";

const FIXTURES = new URL("../fixtures/workers.ts", import.meta.url);
const FIXTURES_PATH = fileURLToPath(FIXTURES);

interface SeenWorker {
  readonly worker: Worker;
  readonly threadId: number;
  exitCode: number | null;
}

/** Every worker thread created in this process since the test began. */
let seen: SeenWorker[] = [];
/** Called (once) synchronously as the next worker thread is created, inside the call creating it. */
let onNextWorker: ((worker: Worker) => void) | null = null;
/** Called synchronously as each worker thread is created. */
let onEachWorker: ((worker: Worker) => void) | null = null;
const onWorkerCreated = (message: unknown) => {
  const { worker } = message as { worker: Worker };
  const entry: SeenWorker = { worker, threadId: worker.threadId, exitCode: null };
  worker.once("exit", (code) => {
    entry.exitCode = code;
  });
  seen.push(entry);
  const hook = onNextWorker;
  onNextWorker = null;
  hook?.(worker);
  onEachWorker?.(worker);
};

beforeEach(() => {
  seen = [];
  onNextWorker = null;
  onEachWorker = null;
  subscribe("worker_threads", onWorkerCreated);
});

afterEach(() => {
  unsubscribe("worker_threads", onWorkerCreated);
});

function liveWorkers(): SeenWorker[] {
  return seen.filter((w) => w.exitCode === null);
}

/** Waits (as a weft task) until a worker has exited. */
async function exitOf(threadId: number): Promise<void> {
  const entry = seen.find((w) => w.threadId === threadId);
  if (entry === undefined) throw new Error(`no worker thread ${threadId} was seen`);
  if (entry.exitCode !== null) return;
  await cancellable(new Promise((resolve) => entry.worker.once("exit", resolve)));
}

/** A channel for a worker function to say it started; `port2` goes to the worker. */
function startSignal(): { port: MessagePort; started: () => Promise<number>; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  return {
    port: port2,
    started: () =>
      cancellable(
        new Promise<number>((resolve) =>
          port1.once("message", (m: { started: number }) => resolve(m.started)),
        ),
      ),
    close: () => port1.close(),
  };
}

describe("runInWorker: results", () => {
  test("calls an export of a TypeScript module with the arguments spread, sync or async", async () => {
    await run(async () => {
      expect(await runInWorker(FIXTURES, "add", [2, 3])).toBe(5);
      expect(await runInWorker(FIXTURES_PATH, "addLater", [4, 5])).toBe(9);
      expect(await runInWorker(FIXTURES.href, "add", [1, 1])).toBe(2);
    });
  });

  test("workerFunction gives a typed function", async () => {
    await run(async () => {
      const add = workerFunction<typeof fixtures.add>(FIXTURES, "add");
      const sum: number = await add(20, 22);
      expect(sum).toBe(42);
    });
  });

  test("is a checkpoint: other tasks run before it returns, even when it fails", async () => {
    await run(async () => {
      const task = lowlevel.currentTask();
      let schedulePoints = 0;
      const instrument: Instrument = {
        taskScheduled: (t) => {
          if (t === task) schedulePoints++;
        },
      };
      lowlevel.addInstrument(instrument);
      await runInWorker(FIXTURES, "add", [1, 2]);
      const afterSuccess = schedulePoints;
      await rejection(runInWorker(FIXTURES, "throwString"));
      const afterFailure = schedulePoints - afterSuccess;
      lowlevel.removeInstrument(instrument);
      expect(afterSuccess).toBeGreaterThan(0);
      expect(afterFailure).toBeGreaterThan(0);
    });
  });

  test("runs on a virtual clock without being taken for a deadlock (an external wait)", async () => {
    // Autojumping, with no deadline pending: a wait that is not external would be a deadlock.
    expect(await runVirtual(() => runInWorker(FIXTURES, "addLater", [1, 2]))).toBe(3);
  });

  test("calls run in parallel on separate workers; the default limiter has a token per CPU", async () => {
    const ids = await run(async () => {
      expect(defaultWorkerLimiter().totalTokens).toBe(availableParallelism());
      expect(defaultWorkerLimiter()).toBe(defaultWorkerLimiter());
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const signals = [startSignal(), startSignal()];
      const threads: number[] = [];
      await openNursery(async (nursery) => {
        for (const signal of signals) {
          nursery.startSoon(() =>
            runInWorker(FIXTURES, "spinUntilFlag", [signal.port, flag], {
              transfer: [signal.port],
              limiter: new CapacityLimiter(2),
            }),
          );
        }
        // Both spin at once: neither returns before the flag is set.
        for (const signal of signals) threads.push(await signal.started());
        Atomics.store(flag, 0, 1);
      });
      for (const signal of signals) signal.close();
      return threads;
    });
    expect(new Set(ids).size).toBe(2);
  });

  test("starts no more workers than calls run at once, even while a worker is starting", async () => {
    await run(async () => {
      const limiter = new CapacityLimiter(2);
      // One worker ready: the first call takes it, the second starts another,
      // and the calls that follow the first would find no worker ready.
      await runInWorker(FIXTURES, "add", [0, 1]);
      await openNursery(async (nursery) => {
        for (let i = 0; i < 12; i++) {
          nursery.startSoon(() => runInWorker(FIXTURES, "add", [i, 1], { limiter }));
        }
      });
    });
    expect(seen.length).toBeLessThanOrEqual(2);
  });

  test("each run has its own default limiter", async () => {
    const first = await run(async () => defaultWorkerLimiter());
    const second = await run(async () => defaultWorkerLimiter());
    expect(first).not.toBe(second);
  });
});

describe("runInWorker: cancellation", () => {
  test("a call cancelled mid-work throws Cancelled, its worker is terminated, the next call gets a new one", async () => {
    await run(async () => {
      const signal = startSignal();
      const scope = new CancelScope();
      let threadId = -1;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await scope.run(() =>
            runInWorker(FIXTURES, "spinForever", [signal.port], { transfer: [signal.port] }),
          );
        });
        threadId = await signal.started();
        scope.cancel();
      });
      signal.close();
      expect(scope.cancelledCaught).toBe(true);
      await exitOf(threadId); // terminated: a spinning worker would never exit by itself
      expect(await runInWorker(FIXTURES, "whoAmI")).not.toBe(threadId);
    });
  });

  test("a worker blocked in Atomics.wait is terminated too, by a timeout", async () => {
    await run(async () => {
      const signal = startSignal();
      let threadId = -1;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          threadId = await signal.started();
        });
        const result = await moveOnAfter(60_000, async (scope) => {
          nursery.startSoon(async () => {
            await signal.started();
            scope.cancel();
          });
          return runInWorker(FIXTURES, "blockForever", [signal.port], { transfer: [signal.port] });
        });
        expect(result).toBeUndefined();
      });
      signal.close();
      await exitOf(threadId);
    });
  });

  test("cancelled before it starts, nothing runs (not even a worker is started)", async () => {
    await run(async () => {
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => runInWorker(FIXTURES, "add", [1, 2]));
      expect(scope.cancelledCaught).toBe(true);
      // Cancelled in the yield of acquiring the token: still before the call starts.
      const late = new CancelScope();
      await openNursery(async (nursery) => {
        nursery.startSoon(() => late.run(() => runInWorker(FIXTURES, "add", [1, 2])));
        nursery.startSoon(async () => late.cancel());
      });
      expect(late.cancelledCaught).toBe(true);
    });
    expect(seen).toHaveLength(0);
  });

  test("cancelled while waiting for a limiter token: the call never starts and gives up its place", async () => {
    await run(async () => {
      const limiter = new CapacityLimiter(1);
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const first = startSignal();
      const second = startSignal();
      let secondStarted = false;
      const scope = new CancelScope();
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          runInWorker(FIXTURES, "spinUntilFlag", [first.port, flag], {
            transfer: [first.port],
            limiter,
          }),
        );
        await first.started();
        nursery.startSoon(() =>
          scope.run(async () => {
            await runInWorker(FIXTURES, "spinUntilFlag", [second.port, flag], {
              transfer: [second.port],
              limiter,
            });
            secondStarted = true;
          }),
        );
        await lowlevel.waitAllTasksBlocked();
        expect(limiter.statistics().tasksWaiting).toBe(1);
        scope.cancel();
        await checkpoint();
        expect(limiter.statistics().tasksWaiting).toBe(0);
        Atomics.store(flag, 0, 1);
      });
      first.close();
      second.close();
      expect(scope.cancelledCaught).toBe(true);
      expect(secondStarted).toBe(false);
      expect(limiter.borrowedTokens).toBe(0);
    });
    expect(seen).toHaveLength(1);
  });

  test("cancellable: false lets the call finish and return; Cancelled comes at the next checkpoint", async () => {
    await run(async () => {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const signal = startSignal();
      const scope = new CancelScope();
      let result: number | undefined;
      let threadId = -1;
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          scope.run(async () => {
            result = await runInWorker<number>(FIXTURES, "spinUntilFlag", [signal.port, flag], {
              transfer: [signal.port],
              cancellable: false,
            });
            await checkpoint();
            result = -1; // not reached: the checkpoint raised the pending Cancelled
          }),
        );
        threadId = await signal.started();
        scope.cancel();
        // The cancellation is pending; the worker is still spinning until:
        Atomics.store(flag, 0, 1);
      });
      signal.close();
      expect(scope.cancelledCaught).toBe(true);
      expect(result).toBeGreaterThanOrEqual(0); // the call's value (rounds spun), not Cancelled
      // The same worker is still there for the next call: it was not terminated.
      expect(await runInWorker(FIXTURES, "whoAmI")).toBe(threadId);
    });
  });
});

describe("runInWorker: errors", () => {
  test("an error thrown in the worker arrives with its class, name, message, stack, cause and properties", async () => {
    await run(async () => {
      const error = (await rejection(runInWorker(FIXTURES, "throwWithCause"))) as TypeError & {
        code: string;
        details: unknown;
      };
      expect(error).toBeInstanceOf(TypeError); // ValidationError extends TypeError
      expect(error.name).toBe("ValidationError");
      expect(error.message).toBe("n must be positive");
      expect(error.code).toBe("E_VALIDATION");
      expect(error.details).toEqual({ field: "n" });
      expect(error.stack).toMatch(/^ValidationError: n must be positive\n/);
      expect(error.stack).toContain("throwWithCause");
      expect(error.stack).toContain("fixtures/workers.ts");
      const cause = error.cause as RangeError & { errno: number };
      expect(cause).toBeInstanceOf(RangeError);
      expect(cause.message).toBe("low-level failure");
      expect(cause.errno).toBe(42);
    });
  });

  test("rejections, aggregate errors, thrown values and uncloneable properties", async () => {
    await run(async () => {
      const later = (await rejection(runInWorker(FIXTURES, "rejectLater"))) as Error;
      expect(later.message).toBe("rejected after a tick");
      const aggregate = (await rejection(
        runInWorker(FIXTURES, "throwAggregate"),
      )) as AggregateError;
      expect(aggregate).toBeInstanceOf(AggregateError);
      expect(aggregate.errors.map((e: Error) => e.message)).toEqual(["first", "second"]);
      expect(aggregate.errors[1]).toBeInstanceOf(TypeError);
      expect(await rejection(runInWorker(FIXTURES, "throwString"))).toBe("just a string");
      const partial = (await rejection(runInWorker(FIXTURES, "throwUncloneable"))) as Error;
      expect(partial.message).toBe("has a function");
      expect("callback" in partial).toBe(false);
    });
  });

  test("a module that cannot be imported, a missing export, an export that is not a function", async () => {
    await run(async () => {
      const missing = `${FIXTURES_PATH}.missing.ts`;
      const notFound = (await rejection(runInWorker(missing, "add"))) as Error;
      expect(notFound.message).toContain("could not import");
      expect(notFound.message).toContain("workers.ts.missing.ts");
      expect((notFound.cause as { code: string }).code).toBe("ERR_MODULE_NOT_FOUND");
      const noExport = (await rejection(runInWorker(FIXTURES, "nope"))) as Error;
      expect(noExport).toBeInstanceOf(TypeError);
      expect(noExport.message).toMatch(/workers\.ts has no export named "nope"/);
      const notAFunction = (await rejection(runInWorker(FIXTURES, "notAFunction"))) as Error;
      expect(notAFunction).toBeInstanceOf(TypeError);
      expect(notAFunction.message).toMatch(
        /"notAFunction" of .*workers\.ts is number, not a function/,
      );
    });
  });

  test("a worker that exits fails the call with BrokenResourceError; the next call gets a new worker", async () => {
    await run(async () => {
      const error = (await rejection(runInWorker(FIXTURES, "exitThread"))) as BrokenResourceError;
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect(error.message).toContain("exitThread from");
      expect((error.cause as Error).message).toContain("exit code 3");
      expect(await runInWorker(FIXTURES, "add", [1, 2])).toBe(3);
    });
    expect(seen).toHaveLength(2);
  });

  test("an error thrown by a callback a call left behind kills its worker, failing the call running there", async () => {
    await run(async () => {
      expect(await runInWorker(FIXTURES, "throwLater")).toBe("returned");
      // An idle worker sleeps (Atomics.wait): the timer fires during the next call.
      const error = (await rejection(runInWorker(FIXTURES, "addLater", [1, 2]))) as Error;
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error.cause as Error).message).toBe("thrown by a leftover timer");
      expect(await runInWorker(FIXTURES, "addLater", [1, 2])).toBe(3);
    });
    expect(seen).toHaveLength(2);
  });

  test("arguments that cannot be cloned are a TypeError, and the call does not run", async () => {
    await run(async () => {
      const error = (await rejection(runInWorker(FIXTURES, "add", [() => 1, 2]))) as Error;
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain("cannot be sent to a worker thread");
      expect(await runInWorker(FIXTURES, "add", [1, 2])).toBe(3);
    });
  });
});

/** A hook for `onNextWorker` / `onEachWorker`: the worker dies before it is ready for calls. */
const dieAtStart = (worker: Worker) => {
  void worker.terminate();
};

/** Records the warnings emitted while `body` runs. */
async function warningsDuring(body: () => Promise<void>): Promise<string[]> {
  const spy = vi.spyOn(process, "emitWarning");
  try {
    await body();
    return spy.mock.calls.map(([warning]) => String(warning));
  } finally {
    spy.mockRestore();
  }
}

describe("runInWorker: a worker that cannot start", () => {
  test("a worker that dies before it is ready fails the call waiting for it with BrokenResourceError, its error as cause; the next call starts a new worker", async () => {
    await run(async () => {
      onNextWorker = dieAtStart;
      const error = (await rejection(runInWorker(FIXTURES, "add", [1, 2]))) as BrokenResourceError;
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect(error.message).toMatch(
        /^runInWorker\(add from .*workers\.ts\): could not start a worker thread: the worker thread exited/,
      );
      expect((error.cause as Error).message).toMatch(
        /^the worker thread exited \(exit code \d+\)$/,
      );
      expect(await runInWorker(FIXTURES, "add", [1, 2])).toBe(3);
    });
    expect(seen).toHaveLength(2);
    expect(liveWorkers()).toEqual([]);
  });

  test("workers that cannot start are not started again: each call starts one and fails, calls at once too; no warning, no worker left", async () => {
    const warnings = await warningsDuring(async () => {
      onEachWorker = dieAtStart;
      await run(async () => {
        for (let i = 0; i < 3; i++) {
          const error = await rejection(runInWorker(FIXTURES, "add", [i, 1]));
          expect(error).toBeInstanceOf(BrokenResourceError);
        }
        expect(seen).toHaveLength(3);
        const limiter = new CapacityLimiter(4);
        const errors: unknown[] = [];
        await openNursery(async (nursery) => {
          for (let i = 0; i < 4; i++) {
            nursery.startSoon(async () => {
              errors.push(await rejection(runInWorker(FIXTURES, "add", [i, 1], { limiter })));
            });
          }
        });
        expect(errors).toHaveLength(4);
        for (const error of errors) expect(error).toBeInstanceOf(BrokenResourceError);
        expect(limiter.borrowedTokens).toBe(0);
      });
    });
    expect(seen).toHaveLength(7); // one per call
    expect(liveWorkers()).toEqual([]);
    expect(warnings).toEqual([]);
  });

  test("when one of the workers starting for two waiting calls dies, one call fails and the other runs on the worker that started", async () => {
    const outcomes: unknown[] = [];
    await run(async () => {
      const limiter = new CapacityLimiter(2);
      onNextWorker = dieAtStart;
      await openNursery(async (nursery) => {
        for (let i = 0; i < 2; i++) {
          nursery.startSoon(async () => {
            try {
              outcomes.push(await runInWorker(FIXTURES, "add", [i, 1], { limiter }));
            } catch (error) {
              outcomes.push(error);
            }
          });
        }
      });
    });
    expect(outcomes.filter((o) => o instanceof BrokenResourceError)).toHaveLength(1);
    expect(outcomes.filter((o) => typeof o === "number")).toHaveLength(1);
    expect(seen).toHaveLength(2);
    expect(liveWorkers()).toEqual([]);
  });

  test("a worker that fails to start after its call was cancelled fails no other call and warns nobody", async () => {
    const warnings = await warningsDuring(() =>
      run(async () => {
        const scope = new CancelScope();
        onNextWorker = (worker) => {
          scope.cancel(); // the call is submitted, and waits for this worker
          dieAtStart(worker);
        };
        await scope.run(() => runInWorker(FIXTURES, "add", [1, 2]));
        expect(scope.cancelledCaught).toBe(true);
        await exitOf(seen[0]!.threadId);
        expect(await runInWorker(FIXTURES, "add", [1, 2])).toBe(3);
      }),
    );
    expect(seen).toHaveLength(2);
    expect(warnings).toEqual([]);
  });

  test("in a program run with --input-type=module, which worker threads inherit and refuse, every call fails with BrokenResourceError (one worker each) and the run ends with no worker left", async ({
    onTestFinished,
  }) => {
    const program = fileURLToPath(new URL("../fixtures/worker-cannot-start.ts", import.meta.url));
    const { code, stdout, stderr } = await startProgram(
      [
        "--conditions=weft-source",
        "--input-type=module",
        "--eval",
        `await import(${JSON.stringify(pathToFileURL(program).href)});`,
      ],
      onTestFinished,
    ).ended;
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(6);
    for (const line of lines.slice(0, 5)) {
      expect(line).toMatch(
        /^BrokenResourceError: runInWorker\(add from .*workers\.ts\): could not start a worker thread: .*--input-type.* \(cause: Error: .*--input-type/,
      );
    }
    expect(lines[5]).toBe("run settled: 5 worker threads created, 0 still running");
    expect(stderr).not.toMatch(/weft worker thread/);
    expect(code).toBe(0);
  });
});

describe("runInWorker: transfers", () => {
  test("options.transfer moves an ArrayBuffer to the worker (detached here)", async () => {
    await run(async () => {
      const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
      expect(await runInWorker(FIXTURES, "sumBytes", [buffer], { transfer: [buffer] })).toBe(10);
      expect(buffer.byteLength).toBe(0);
      const kept = new Uint8Array([5, 5]).buffer;
      expect(await runInWorker(FIXTURES, "sumBytes", [kept])).toBe(10);
      expect(kept.byteLength).toBe(2); // copied, not moved
    });
  });

  test("a worker function transfers its result back with Tinypool.move", async () => {
    await run(async () => {
      const buffer = await runInWorker<ArrayBuffer>(FIXTURES, "makeBuffer", [1024, 7]);
      expect(buffer).toBeInstanceOf(ArrayBuffer);
      expect(buffer.byteLength).toBe(1024);
      expect(new Uint8Array(buffer).every((b) => b === 7)).toBe(true);
    });
  });
});

describe("runInWorker: no worker outlives its run", () => {
  test("after run() settles, every worker it started has exited, cancelled ones included", async () => {
    await run(async () => {
      const limiter = new CapacityLimiter(3);
      await openNursery(async (nursery) => {
        for (let i = 0; i < 3; i++) {
          nursery.startSoon(() => runInWorker(FIXTURES, "addLater", [i, i], { limiter }));
        }
      });
      const signal = startSignal();
      await openNursery(async (nursery) => {
        const scope = new CancelScope();
        nursery.startSoon(() =>
          scope.run(() =>
            runInWorker(FIXTURES, "spinForever", [signal.port], { transfer: [signal.port] }),
          ),
        );
        await signal.started();
        scope.cancel(); // its worker is being terminated; nobody waits for it here
      });
      signal.close();
      expect(seen.length).toBeGreaterThanOrEqual(3);
    });
    expect(liveWorkers()).toEqual([]);
  });

  test("also when the run fails while a call is running", async () => {
    const signal = startSignal();
    const error = await rejection(
      run(async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(() =>
            runInWorker(FIXTURES, "spinForever", [signal.port], { transfer: [signal.port] }),
          );
          await signal.started();
          throw new Error("main failed");
        });
      }),
    );
    signal.close();
    expect(error).toBeInstanceOf(ExceptionGroup);
    expect((error as ExceptionGroup).errors.map(String)).toEqual(["Error: main failed"]);
    expect(seen).toHaveLength(1);
    expect(liveWorkers()).toEqual([]);
  });
});

describe("runInWorker: bad input", () => {
  test("is rejected (never a synchronous throw) with TypeError / RangeError naming the argument", async () => {
    const bad = <T>(value: unknown) => value as T;
    await run(async () => {
      const cases: [() => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
        [() => runInWorker(bad(42), "add"), TypeError, /^module must be an absolute path/],
        [() => runInWorker("./fixtures/workers.ts", "add"), RangeError, /new URL\("\.\/module/],
        [() => runInWorker(new URL("https://x.test/m.js"), "add"), RangeError, /^module/],
        [() => runInWorker("file://%%", "add"), RangeError, /^module/],
        [() => runInWorker("file://host/share/m.ts", "add"), RangeError, /local path/],
        [() => runInWorker(FIXTURES, bad(1)), TypeError, /^exportName/],
        [() => runInWorker(FIXTURES, ""), RangeError, /^exportName/],
        [() => runInWorker(FIXTURES, "add", bad(1)), TypeError, /^args/],
        [() => runInWorker(FIXTURES, "add", [], bad(1)), TypeError, /^options/],
        [() => runInWorker(FIXTURES, "add", [], { transfer: bad(1) }), TypeError, /transfer/],
        [() => runInWorker(FIXTURES, "add", [], { limiter: bad(1) }), TypeError, /limiter/],
        [() => runInWorker(FIXTURES, "add", [], { cancellable: bad(1) }), TypeError, /cancellable/],
      ];
      // runInWorker returns a promise: it rejects, never throws synchronously.
      for (const [call, errorClass, message] of cases) {
        await expectRejects(call, errorClass, message);
      }
      // workerFunction is synchronous (it returns a function): it throws at once.
      const synchronous: [() => unknown, typeof TypeError, RegExp][] = [
        [() => workerFunction(FIXTURES, "add", bad({ transfer: [] })), TypeError, /transfer/],
        [() => workerFunction(bad(null), "add"), TypeError, /^module/],
      ];
      for (const [call, errorClass, message] of synchronous) {
        expect(call).toThrow(errorClass);
        expect(call).toThrow(message);
      }
    });
    await expectRejects(() => runInWorker(FIXTURES, "add"), /must be called inside weft's run/);
    expect(seen).toHaveLength(0);
  });
});

test("Cancelled is what a cancelled call throws (not the pool's AbortError)", async () => {
  await run(async () => {
    const signal = startSignal();
    const scope = new CancelScope();
    let caught: unknown;
    await openNursery(async (nursery) => {
      nursery.startSoon(() =>
        scope.run(async () => {
          try {
            await runInWorker(FIXTURES, "spinForever", [signal.port], { transfer: [signal.port] });
          } catch (error) {
            caught = error;
            throw error;
          }
        }),
      );
      await signal.started();
      scope.cancel();
    });
    signal.close();
    expect(caught).toBeInstanceOf(Cancelled);
  });
});

describe("review: cancellation edges, run-wide shutdown, errors", () => {
  test("a call cancelled while its worker is still starting is taken off the queue; the worker serves the next call", async () => {
    await run(async () => {
      const limiter = new CapacityLimiter(1);
      const scope = new CancelScope();
      // Cancelled synchronously as the worker is created: the call has been
      // submitted and waits for that worker, which cannot be ready yet.
      onNextWorker = () => scope.cancel();
      await scope.run(() => runInWorker(FIXTURES, "add", [1, 2], { limiter }));
      expect(scope.cancelledCaught).toBe(true);
      expect(seen).toHaveLength(1);
      expect(limiter.borrowedTokens).toBe(0);
      expect(await runInWorker(FIXTURES, "add", [1, 2], { limiter })).toBe(3);
      expect(seen).toHaveLength(1); // not terminated: it never ran the cancelled call
    });
    expect(liveWorkers()).toEqual([]);
  });

  test("a call that finished before the cancellation arrived returns its result; Cancelled comes at the next checkpoint", async () => {
    await run(async () => {
      const limiter = new CapacityLimiter(1);
      const scope = new CancelScope();
      let result: number | undefined;
      let tokensAtWakeUp = -1;
      let caller: Task | null = null;
      // The caller is scheduled again only when the call's outcome arrives
      // (after the worker was created): cancel right then, before it resumes.
      const instrument: Instrument = {
        taskScheduled: (task) => {
          if (task === caller && seen.length > 0 && tokensAtWakeUp < 0) {
            tokensAtWakeUp = limiter.borrowedTokens;
            scope.cancel();
          }
        },
      };
      lowlevel.addInstrument(instrument);
      await scope.run(async () => {
        caller = lowlevel.currentTask();
        result = await runInWorker<number>(FIXTURES, "add", [1, 2], { limiter });
        await checkpoint();
        result = -1; // not reached
      });
      lowlevel.removeInstrument(instrument);
      expect(scope.cancelledCaught).toBe(true);
      expect(result).toBe(3); // it happened: the result is not lost
      expect(tokensAtWakeUp).toBe(0); // given back when the worker was done, before the wake-up
    });
  });

  test("cancellable: false does not protect the wait for a limiter token", async () => {
    await run(async () => {
      const limiter = new CapacityLimiter(1);
      await limiter.acquire();
      const scope = new CancelScope();
      let ran = false;
      await openNursery(async (nursery) => {
        nursery.startSoon(() =>
          scope.run(async () => {
            await runInWorker(FIXTURES, "add", [1, 2], { limiter, cancellable: false });
            ran = true;
          }),
        );
        await lowlevel.waitAllTasksBlocked();
        expect(limiter.statistics().tasksWaiting).toBe(1);
        scope.cancel();
      });
      limiter.release();
      expect(scope.cancelledCaught).toBe(true);
      expect(ran).toBe(false);
    });
    expect(seen).toHaveLength(0);
  });

  test("a run-wide cancellation (options.signal) lets a cancellable: false call finish instead of killing its worker", async () => {
    const controller = new AbortController();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const signal = startSignal();
    let result: unknown = null;
    const error = await rejection(
      run(
        async () => {
          await openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              try {
                result = await runInWorker<number>(FIXTURES, "spinUntilFlag", [signal.port, flag], {
                  transfer: [signal.port],
                  cancellable: false,
                });
              } catch (thrown) {
                result = thrown;
                throw thrown;
              }
            });
            await signal.started();
            // Cancels every task of the run, the pool's own task included.
            controller.abort(new Error("stopped"));
            // Once every other task is blocked again, the pool's task has
            // reacted to the shutdown: the call must still be running.
            await new CancelScope({ shield: true }).run(() => lowlevel.waitAllTasksBlocked());
            Atomics.store(flag, 0, 1);
          });
        },
        { signal: controller.signal },
      ),
    );
    signal.close();
    expect((error as Error).message).toBe("stopped");
    expect(typeof result).toBe("number"); // was: BrokenResourceError "Terminating worker thread"
    expect(liveWorkers()).toEqual([]);
  });

  test("a shielded call in a finally block still runs while the run shuts down", async () => {
    const controller = new AbortController();
    let result: unknown = null;
    const error = await rejection(
      run(
        async () => {
          try {
            await openNursery(async (nursery) => {
              nursery.startSoon(async () => controller.abort(new Error("stopped")));
              await sleepForever();
            });
          } finally {
            try {
              result = await new CancelScope({ shield: true }).run(() =>
                runInWorker<number>(FIXTURES, "addLater", [1, 2]),
              );
            } catch (thrown) {
              result = thrown;
            }
          }
        },
        { signal: controller.signal },
      ),
    );
    expect((error as Error).message).toBe("stopped");
    expect(result).toBe(3);
    expect(liveWorkers()).toEqual([]);
  });

  test("two runs at once have their own workers: one ending does not disturb the other; workerFunction serves both", async () => {
    // Made outside any run, as a module-level constant would be.
    const whoAmI = workerFunction<typeof fixtures.whoAmI>(FIXTURES, "whoAmI");
    await expectRejects(() => whoAmI(), /must be called inside weft's run/);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const started = new Promise<number>((resolve) =>
      port1.once("message", (m: { started: number }) => resolve(m.started)),
    );
    const first = run(() =>
      runInWorker<number>(FIXTURES, "spinUntilFlag", [port2, flag], { transfer: [port2] }),
    );
    const firstThread = await started;
    const secondThread = await run(() => whoAmI());
    // The second run is over and its worker gone; the first one's still spins.
    expect(secondThread).not.toBe(firstThread);
    expect(liveWorkers().map((w) => w.threadId)).toEqual([firstThread]);
    Atomics.store(flag, 0, 1);
    expect(await first).toBeGreaterThanOrEqual(0);
    port1.close();
    expect(liveWorkers()).toEqual([]);
  });

  test("errors on the way back: getters that throw are dropped (the worker lives on); a result that cannot be cloned kills the worker", async () => {
    await run(async () => {
      const error = (await rejection(runInWorker(FIXTURES, "throwWithThrowingGetters"))) as Error;
      expect(error).not.toBeInstanceOf(BrokenResourceError); // was: "the worker thread running it died"
      expect(error.message).toBe("has traps");
      expect("trap" in error).toBe(false);
      expect("cause" in error).toBe(false);
      expect(seen).toHaveLength(1);

      const broken = (await rejection(runInWorker(FIXTURES, "returnUncloneable"))) as Error;
      expect(broken).toBeInstanceOf(BrokenResourceError);
      expect(String((broken.cause as Error).stack)).toMatch(/could not be cloned/);
      expect(await runInWorker(FIXTURES, "add", [1, 2])).toBe(3);
    });
    expect(seen).toHaveLength(2);
  });
});
