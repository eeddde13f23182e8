import * as core from "@weft/core";
import {
  CancelScope,
  CapacityLimiter,
  Condition,
  cancellable,
  cancelShieldedCheckpoint,
  capture,
  checkpoint,
  checkpointIfCancelled,
  checkRetryOptions,
  Event,
  failAfter,
  failAt,
  gather,
  generatorChannel,
  Lock,
  lowlevel,
  mapConcurrent,
  moveOnAfter,
  moveOnAt,
  openMemoryChannel,
  openNursery,
  openSignalReceiver,
  race,
  retry,
  run,
  runInWorker,
  Semaphore,
  StrictFIFOLock,
  sleep,
  sleepForever,
  sleepUntil,
  workerFunction,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { expectRejects, runVirtual } from "./support/helpers.ts";

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;
type Case = [label: string, call: () => unknown, error: ErrorClass, names: RegExp];
const body = async () => {};
const bad = <T>(value: unknown) => value as T;
const WORKER = new URL("./fixtures/workers.ts", import.meta.url);
const OUTSIDE = /must be called inside weft's run\(\)/;

// Constructors, setters and synchronous functions throw at once, with the
// argument's name in the message.
describe("bad input to synchronous APIs throws at once", () => {
  const cases: Case[] = [
    [
      "new CancelScope({ deadline: 'soon' })",
      () => new CancelScope({ deadline: bad("soon") }),
      TypeError,
      /deadline/,
    ],
    [
      "new CancelScope({ deadline: NaN })",
      () => new CancelScope({ deadline: Number.NaN }),
      RangeError,
      /deadline/,
    ],
    [
      "new CancelScope({ relativeDeadline: -1 })",
      () => new CancelScope({ relativeDeadline: -1 }),
      RangeError,
      /relativeDeadline/,
    ],
    [
      "new CancelScope({ deadline, relativeDeadline })",
      () => new CancelScope({ deadline: 1, relativeDeadline: 1 }),
      RangeError,
      /deadline.*relativeDeadline/,
    ],
    [
      "new CancelScope({ shield: 'yes' })",
      () => new CancelScope({ shield: bad("yes") }),
      TypeError,
      /shield/,
    ],
    ["new CancelScope(5)", () => new CancelScope(bad(5)), TypeError, /options/],
    [
      "scope.shield = 1",
      () => {
        new CancelScope().shield = bad(1);
      },
      TypeError,
      /shield/,
    ],
    [
      "scope.deadline = NaN",
      () => {
        new CancelScope().deadline = Number.NaN;
      },
      RangeError,
      /deadline/,
    ],
    [
      "scope.relativeDeadline = -5",
      () => {
        new CancelScope().relativeDeadline = -5;
      },
      RangeError,
      /relativeDeadline/,
    ],
    ["scope.cancel(42)", () => new CancelScope().cancel(bad(42)), TypeError, /reason/],
    ["lowlevel.reschedule({})", () => lowlevel.reschedule(bad({})), TypeError, /task/],
    [
      "lowlevel.isInWeftOperation({})",
      () => lowlevel.isInWeftOperation(bad({})),
      TypeError,
      /task/,
    ],
    ["lowlevel.spawnSystemTask(1)", () => lowlevel.spawnSystemTask(bad(1)), TypeError, /fn/],
    ["lowlevel.runOutsideTask(1)", () => lowlevel.runOutsideTask(bad(1)), TypeError, /fn/],
    [
      "lowlevel.addInstrument(null)",
      () => lowlevel.addInstrument(bad(null)),
      TypeError,
      /instrument/,
    ],
    [
      "lowlevel.removeInstrument(1)",
      () => lowlevel.removeInstrument(bad(1)),
      TypeError,
      /instrument/,
    ],
    ["new Semaphore(-1)", () => new Semaphore(-1), RangeError, /initialValue|value/],
    ["new CapacityLimiter(0)", () => new CapacityLimiter(0), RangeError, /totalTokens/],
    ["openMemoryChannel(-1)", () => openMemoryChannel(-1), RangeError, /maxBufferSize/],
    ["workerFunction(42, name)", () => workerFunction(bad(42), "add"), TypeError, /module/],
    ["openSignalReceiver()", () => openSignalReceiver(), TypeError, /signal/],
    [
      "checkRetryOptions('init.retry', { attempts: 0 })",
      () => checkRetryOptions("init.retry", { attempts: 0 }),
      RangeError,
      /init\.retry\.attempts/,
    ],
    [
      "checkRetryOptions('init.retry', 'x')",
      () => checkRetryOptions("init.retry", "x"),
      TypeError,
      /init\.retry/,
    ],
  ];

  test.each(cases)("%s", (_label, call, errorClass, names) => {
    expect(call).toThrow(errorClass);
    expect(call).toThrow(names);
  });
});

// A function that returns a promise never throws synchronously (API.md,
// "Conventions"): bad arguments reject the promise it returns, with the
// argument's name in the message — outside run() as inside it.
describe("bad input to promise-returning functions rejects, never throws", () => {
  const cases: Case[] = [
    ["run(main not a function)", () => run(bad(42)), TypeError, /main/],
    ["run(options not an object)", () => run(body, bad(5)), TypeError, /options/],
    ["run({ clock: {} })", () => run(body, { clock: bad({}) }), TypeError, /options\.clock/],
    [
      "run({ instruments: {} })",
      () => run(body, { instruments: bad({}) }),
      TypeError,
      /options\.instruments/,
    ],
    [
      "run({ instruments: [null] })",
      () => run(body, { instruments: bad([null]) }),
      TypeError,
      /instruments\[0\]/,
    ],
    [
      "run({ strictErrors: 1 })",
      () => run(body, { strictErrors: bad(1) }),
      TypeError,
      /options\.strictErrors/,
    ],
    ["run({ signal: {} })", () => run(body, { signal: bad({}) }), TypeError, /options\.signal/],
    [
      "run({ scheduler: {} })",
      () => run(body, { scheduler: bad({}) }),
      TypeError,
      /options\.scheduler/,
    ],
    ["scope.run(not a function)", () => new CancelScope().run(bad(null)), TypeError, /body/],
    ["sleep('1')", () => sleep(bad("1")), TypeError, /ms/],
    ["sleep(-1)", () => sleep(-1), RangeError, /ms/],
    ["sleep(NaN)", () => sleep(Number.NaN), RangeError, /ms/],
    ["sleepUntil(NaN)", () => sleepUntil(Number.NaN), RangeError, /deadline/],
    ["moveOnAfter(-1)", () => moveOnAfter(-1, body), RangeError, /ms/],
    ["moveOnAfter(1, not a function)", () => moveOnAfter(1, bad(1)), TypeError, /body/],
    ["moveOnAt(NaN)", () => moveOnAt(Number.NaN, body), RangeError, /deadline/],
    [
      "moveOnAfter(1, body, { shield: 1 })",
      () => moveOnAfter(1, body, { shield: bad(1) }),
      TypeError,
      /shield/,
    ],
    ["failAfter(NaN)", () => failAfter(Number.NaN, body), RangeError, /ms/],
    ["failAt(NaN)", () => failAt(Number.NaN, body), RangeError, /deadline/],
    ["openNursery(not a function)", () => openNursery(bad("x")), TypeError, /body/],
    [
      "openNursery(body, { strictErrors: 'no' })",
      () => openNursery(body, { strictErrors: bad("no") }),
      TypeError,
      /strictErrors/,
    ],
    ["cancellable(42)", () => cancellable(bad<Promise<number>>(42)), TypeError, /work/],
    [
      "lowlevel.waitTaskRescheduled(null)",
      () => lowlevel.waitTaskRescheduled(bad(null)),
      TypeError,
      /abort/,
    ],
    ["race()", () => race(), RangeError, /fns/],
    ["race(not a function)", () => race(bad(1)), TypeError, /fns\[0\]/],
    [
      "gather(ok, not a function)",
      () => gather(body, bad<typeof body>(null)),
      TypeError,
      /fns\[1\]/,
    ],
    [
      "mapConcurrent(42, fn, options)",
      () => mapConcurrent(bad<number[]>(42), body, { limit: 1 }),
      TypeError,
      /items/,
    ],
    [
      "mapConcurrent(items, not a function, options)",
      () => mapConcurrent([1], bad(1), { limit: 1 }),
      TypeError,
      /fn/,
    ],
    [
      "mapConcurrent(items, fn, { limit: 0 })",
      () => mapConcurrent([1], body, { limit: 0 }),
      RangeError,
      /options\.limit/,
    ],
    ["capture(not a function)", () => capture(bad(1)), TypeError, /fn/],
    ["retry(not a function)", () => retry(bad(1)), TypeError, /fn/],
    ["retry(fn, 5)", () => retry(body, bad(5)), TypeError, /options/],
    [
      "retry(fn, { attempts: 0 })",
      () => retry(body, { attempts: 0 }),
      RangeError,
      /options\.attempts/,
    ],
    [
      "retry(fn, { attempts: 1.5 })",
      () => retry(body, { attempts: 1.5 }),
      RangeError,
      /options\.attempts/,
    ],
    [
      "retry(fn, { attempts: '3' })",
      () => retry(body, { attempts: bad("3") }),
      TypeError,
      /options\.attempts/,
    ],
    [
      "retry(fn, { initialDelay: -1 })",
      () => retry(body, { initialDelay: -1 }),
      RangeError,
      /options\.initialDelay/,
    ],
    [
      "retry(fn, { initialDelay: Infinity })",
      () => retry(body, { initialDelay: Infinity }),
      RangeError,
      /options\.initialDelay/,
    ],
    [
      "retry(fn, { maxDelay: NaN })",
      () => retry(body, { maxDelay: Number.NaN }),
      RangeError,
      /options\.maxDelay/,
    ],
    [
      "retry(fn, { factor: 0.5 })",
      () => retry(body, { factor: 0.5 }),
      RangeError,
      /options\.factor/,
    ],
    [
      "retry(fn, { jitter: 'half' })",
      () => retry(body, { jitter: bad("half") }),
      TypeError,
      /options\.jitter/,
    ],
    [
      "retry(fn, { retryIf: true })",
      () => retry(body, { retryIf: bad(true) }),
      TypeError,
      /options\.retryIf/,
    ],
    [
      "retry(fn, { random: 0.5 })",
      () => retry(body, { random: bad(0.5) }),
      TypeError,
      /options\.random/,
    ],
    [
      "retry(fn, { onRetry: {} })",
      () => retry(body, { onRetry: bad({}) }),
      TypeError,
      /options\.onRetry/,
    ],
    [
      "retry(fn, { delayFor: 1 })",
      () => retry(body, { delayFor: bad(1) }),
      TypeError,
      /options\.delayFor/,
    ],
    ["generatorChannel(42, body)", () => generatorChannel(bad(42), body), TypeError, /source/],
    [
      "generatorChannel(source, body, { bufferSize: -1 })",
      () =>
        generatorChannel(
          bad(() => null),
          body,
          { bufferSize: -1 },
        ),
      RangeError,
      /options\.bufferSize/,
    ],
    ["failAfter(1, not a function)", () => failAfter(1, bad(1)), TypeError, /body/],
    ["failAt(0, not a function)", () => failAt(0, bad(1)), TypeError, /body/],
    ["moveOnAt(0, not a function)", () => moveOnAt(0, bad(1)), TypeError, /body/],
    ["sleepUntil('later')", () => sleepUntil(bad("later")), TypeError, /deadline/],
    [
      "lowlevel.waitTaskRescheduled(abort, 5)",
      () => lowlevel.waitTaskRescheduled(() => lowlevel.Abort.SUCCEEDED, bad(5)),
      TypeError,
      /options/,
    ],
    [
      "lowlevel.waitAllTasksBlocked(-1)",
      () => lowlevel.waitAllTasksBlocked(-1),
      RangeError,
      /cushionMs/,
    ],
    ["new Lock().withLock(not a function)", () => new Lock().withLock(bad(1)), TypeError, /fn/],
    ["runInWorker(42, name)", () => runInWorker(bad(42), "add"), TypeError, /module/],
    ["runInWorker(module, '')", () => runInWorker(WORKER, ""), RangeError, /exportName/],
    ["runInWorker(module, name, 1)", () => runInWorker(WORKER, "add", bad(1)), TypeError, /args/],
  ];

  test.each(cases)("%s (outside run)", async (_label, call, errorClass, names) => {
    await expectRejects(call, errorClass, names);
  });

  test.each(cases)("%s (inside run)", async (_label, call, errorClass, names) => {
    await runVirtual(async () => {
      await expectRejects(call, errorClass, names);
    });
  });
});

// Called outside run(), every promise-returning function and method of the
// runtime rejects with an Error saying so; none throws synchronously.
describe("outside run(), promise-returning functions and methods reject", () => {
  const cases: [label: string, call: () => unknown][] = [
    ["checkpoint()", () => checkpoint()],
    ["checkpointIfCancelled()", () => checkpointIfCancelled()],
    ["cancelShieldedCheckpoint()", () => cancelShieldedCheckpoint()],
    ["sleep(1)", () => sleep(1)],
    ["sleepUntil(1)", () => sleepUntil(1)],
    ["sleepForever()", () => sleepForever()],
    ["moveOnAfter(1, body)", () => moveOnAfter(1, body)],
    ["moveOnAt(1, body)", () => moveOnAt(1, body)],
    ["failAfter(1, body)", () => failAfter(1, body)],
    ["failAt(1, body)", () => failAt(1, body)],
    ["openNursery(body)", () => openNursery(body)],
    ["cancellable(promise)", () => cancellable(Promise.resolve(1))],
    ["gather(body)", () => gather(body)],
    ["race(body)", () => race(body)],
    ["mapConcurrent([1], fn, { limit: 1 })", () => mapConcurrent([1], body, { limit: 1 })],
    ["retry(fn)", () => retry(body)],
    [
      "generatorChannel(source, body)",
      () =>
        generatorChannel(
          bad(() => null),
          body,
        ),
    ],
    ["new CancelScope().run(body)", () => new CancelScope().run(body)],
    ["runInWorker(module, name)", () => runInWorker(WORKER, "add", [1, 2])],
    ["workerFunction(module, name)()", () => workerFunction(WORKER, "add")()],
    ["new CapacityLimiter(1).acquire()", () => new CapacityLimiter(1).acquire()],
    [
      "new CapacityLimiter(1).acquireOnBehalfOf(x)",
      () => new CapacityLimiter(1).acquireOnBehalfOf("x"),
    ],
    ["new CapacityLimiter(1).guard()", () => new CapacityLimiter(1).guard()],
    ["new Lock().acquire()", () => new Lock().acquire()],
    ["new Lock().withLock(fn)", () => new Lock().withLock(body)],
    ["new Lock().guard()", () => new Lock().guard()],
    ["new StrictFIFOLock().acquire()", () => new StrictFIFOLock().acquire()],
    ["new Semaphore(1).acquire()", () => new Semaphore(1).acquire()],
    ["new Semaphore(1).guard()", () => new Semaphore(1).guard()],
    ["new Condition().acquire()", () => new Condition().acquire()],
    ["new Condition().wait()", () => new Condition().wait()],
    ["new Event().wait()", () => new Event().wait()],
    [
      "a set Event's wait()",
      () => {
        const event = new Event();
        event.set();
        return event.wait();
      },
    ],
    ["send.send(1)", () => openMemoryChannel<number>(1)[0].send(1)],
    ["send.aclose()", () => openMemoryChannel<number>(1)[0].aclose()],
    ["receive.receive()", () => openMemoryChannel<number>(1)[1].receive()],
    ["receive.aclose()", () => openMemoryChannel<number>(1)[1].aclose()],
    ["new lowlevel.ParkingLot().park()", () => new lowlevel.ParkingLot().park()],
    [
      "lowlevel.waitTaskRescheduled(abort)",
      () => lowlevel.waitTaskRescheduled(() => lowlevel.Abort.SUCCEEDED),
    ],
    ["lowlevel.cancelPoint()", () => lowlevel.cancelPoint()],
    ["lowlevel.waitAllTasksBlocked()", () => lowlevel.waitAllTasksBlocked()],
  ];

  test.each(cases)("%s", async (label, call) => {
    const error = await expectRejects(call, Error, OUTSIDE);
    // The message names the function called (the method, for a method; a
    // Condition's acquire is its lock's, a worker function's is its export's).
    const name = label.replace(/^new [\w.]+\([^)]*\)\.|^(send|receive)\.|^a set Event's /, "");
    if (!name.startsWith("workerFunction")) {
      const called = name.slice(0, name.indexOf("(")).replace(/^lowlevel\./, "");
      expect((error as Error).message).toContain(called);
    }
  });

  test("the cases cover every promise-returning function of @weft/core", () => {
    // A new export must be classified here: promise-returning (and in the
    // table above), or synchronous (it may throw at once).
    const promiseReturning = new Set([
      "cancelShieldedCheckpoint",
      "cancellable",
      "capture", // needs no run: capture(fn) outside run() runs fn
      "checkpoint",
      "checkpointIfCancelled",
      "failAfter",
      "failAt",
      "gather",
      "generatorChannel",
      "mapConcurrent",
      "moveOnAfter",
      "moveOnAt",
      "openNursery",
      "race",
      "retry",
      "run", // the entry point: bad arguments reject (the table above)
      "runInWorker",
      "sleep",
      "sleepForever",
      "sleepUntil",
    ]);
    const synchronous = new Set([
      "checkRetryOptions", // an argument check: throws at once
      "checkRunOptions", // an argument check: throws at once
      "currentEffectiveDeadline",
      "currentSignal",
      "currentTime",
      "defaultWorkerLimiter",
      "isCancelled",
      "taskNameOf",
      "openMemoryChannel",
      "openSignalReceiver",
      "workerFunction", // returns a function; the function returns a promise (above)
      "Err",
      "Ok",
    ]);
    const functions = Object.entries(core)
      .filter(([, value]) => typeof value === "function" && !isClass(value))
      .map(([name]) => name);
    for (const name of functions) {
      expect(promiseReturning.has(name) || synchronous.has(name), `${name} is not classified`).toBe(
        true,
      );
    }
    for (const name of promiseReturning) {
      expect(
        cases.some(([label]) => label.startsWith(`${name}(`)) ||
          name === "capture" ||
          name === "run",
      ).toBe(true);
    }
    const lowlevelPromise = new Set(["waitTaskRescheduled", "cancelPoint", "waitAllTasksBlocked"]);
    const lowlevelSync = new Set([
      "addInstrument",
      "addParkingLotBreaker",
      "currentClock",
      "currentRootTask",
      "currentStatistics",
      "currentTask",
      "dumpTasks",
      "isInWeftOperation",
      "removeInstrument",
      "removeParkingLotBreaker",
      "reschedule",
      "runOutsideTask", // returns what fn returns
      "spawnSystemTask",
    ]);
    for (const [name, value] of Object.entries(lowlevel)) {
      if (typeof value !== "function" || isClass(value)) continue;
      expect(lowlevelPromise.has(name) || lowlevelSync.has(name), `lowlevel.${name}`).toBe(true);
    }
  });
});

function isClass(value: unknown): boolean {
  return typeof value === "function" && /^class\b/.test(Function.prototype.toString.call(value));
}

describe("misuse rejects the promise, never throws", () => {
  test("a CancelScope run twice", async () => {
    await runVirtual(async () => {
      const scope = new CancelScope();
      await scope.run(body);
      await expectRejects(() => scope.run(body), Error, /only be entered once/);
    });
  });

  test("a Lock acquired twice by its owner", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      await lock.acquire();
      await expectRejects(() => lock.acquire(), Error, /not reentrant/);
      lock.release();
    });
  });

  test("a CapacityLimiter token borrowed twice", async () => {
    await runVirtual(async () => {
      const limiter = new CapacityLimiter(2);
      await limiter.acquire();
      await expectRejects(() => limiter.acquire(), Error, /already/);
      limiter.release();
    });
  });

  test("a Held disposed of asynchronously by a task that does not own it", async () => {
    await runVirtual(async () => {
      const lock = new Lock();
      let held: Awaited<ReturnType<Lock["guard"]>> | undefined;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          held = await lock.guard();
        });
      });
      await expectRejects(() => held![Symbol.asyncDispose](), Error, /does not hold this Lock/);
    });
  });

  test("Condition.wait without holding the lock", async () => {
    await runVirtual(async () => {
      await expectRejects(() => new Condition().wait(), Error, /must hold the lock/);
    });
  });
});

describe("bad input inside a task", () => {
  test("nursery methods check their arguments", async () => {
    await runVirtual(() =>
      openNursery(async (nursery) => {
        expect(() => nursery.startSoon(bad(1))).toThrow(TypeError);
        expect(() => nursery.startSoon(bad(1))).toThrow(/fn/);
        expect(() => nursery.startSoon(body, { name: bad(7) })).toThrow(/options\.name/);
        await expectRejects(() => nursery.start(bad("x")), TypeError, /fn/);
        await expectRejects(() => nursery.start(body, bad(5)), TypeError, /options/);
        await expectRejects(
          () => nursery.start(body, { name: bad(7) }),
          TypeError,
          /options\.name/,
        );
      }),
    );
  });

  test("lowlevel.reschedule checks the outcome", async () => {
    await runVirtual(async () => {
      const task = lowlevel.currentTask();
      expect(() => lowlevel.reschedule(task, bad({ ok: true }))).toThrow(/outcome/);
    });
  });
});
