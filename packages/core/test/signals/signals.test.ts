/**
 * Signals: openSignalReceiver, and the Ctrl-C handling of run (`handleSignals`).
 *
 * In this process, signals are simulated with `process.emit(signal)`, which
 * calls the process's listeners as a real delivery would and does nothing if
 * there are none; one test sends a real SIGWINCH (its default action is to
 * ignore it, so a mistake cannot kill the test worker). `process.kill` and
 * `process.exit` are replaced by recorders for the same reason. Real SIGINT
 * and SIGTERM are sent to child processes running fixtures/ctrl-c.ts.
 */
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import {
  BusyResourceError,
  Cancelled,
  CancelScope,
  ClosedResourceError,
  cancellable,
  checkpoint,
  ExceptionGroup,
  Interrupted,
  isCancelled,
  lowlevel,
  moveOnAfter,
  openNursery,
  openSignalReceiver,
  run,
  sleepForever,
} from "@weft/core";
import { assertCheckpoints } from "@weft/testing";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { startProgram } from "../support/child-program.ts";
import { expectRejects, rejection, runVirtual } from "../support/helpers.ts";

const WATCHED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGWINCH", "SIGURG"];

/** Simulates the delivery of `signal` to this process. */
function deliver(signal: NodeJS.Signals): void {
  process.emit(signal, signal);
}

/** One event-loop turn: weft removes an unused process listener after one. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function listenerCounts(): Record<string, number> {
  return Object.fromEntries(WATCHED.map((signal) => [signal, process.listenerCount(signal)]));
}

let baseline: Record<string, number>;
let savedExitCode: typeof process.exitCode;
let kills: MockInstance<typeof process.kill>;
let exits: MockInstance<typeof process.exit>;

/** Tests in this process: listeners, the exit code and process.kill/exit are guarded. */
function guarded(): void {
  beforeEach(async () => {
    await nextTurn();
    baseline = listenerCounts();
    savedExitCode = process.exitCode;
    const realKill = process.kill.bind(process);
    kills = vi.spyOn(process, "kill").mockImplementation((pid, signal) => {
      // Only a real SIGWINCH (ignored by default) may reach this process.
      if (pid === process.pid && signal !== "SIGWINCH") return true;
      return realKill(pid, signal);
    });
    exits = vi.spyOn(process, "exit").mockImplementation((() => {}) as typeof process.exit);
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    process.exitCode = savedExitCode;
    await nextTurn();
    // No test leaves a listener behind.
    expect(listenerCounts()).toEqual(baseline);
  });
}

/** Runs `main` without Ctrl-C handling (for tests of receivers alone). */
function runQuiet<T>(main: () => Promise<T>): Promise<T> {
  return run(main, { handleSignals: false });
}

describe("openSignalReceiver", () => {
  guarded();
  it("receives a real signal sent to the process", async () => {
    await runQuiet(async () => {
      using receiver = openSignalReceiver("SIGWINCH");
      process.kill(process.pid, "SIGWINCH");
      expect(await receiver.receive()).toBe("SIGWINCH");
    });
    expect(kills).toHaveBeenCalledWith(process.pid, "SIGWINCH");
  });

  it("is an async iterable; leaving the loop does not close it", async () => {
    await runQuiet(async () => {
      using receiver = openSignalReceiver("SIGWINCH", "SIGURG");
      const seen: string[] = [];
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for await (const signal of receiver) {
            seen.push(signal);
            if (seen.length === 2) break;
          }
        });
        await lowlevel.waitAllTasksBlocked();
        deliver("SIGURG");
        await lowlevel.waitAllTasksBlocked();
        deliver("SIGWINCH");
      });
      expect(seen).toEqual(["SIGURG", "SIGWINCH"]);
      expect(receiver.closed).toBe(false);
      deliver("SIGURG");
      expect(await receiver.receive()).toBe("SIGURG");
    });
  });

  it("coalesces: a signal is pending at most once", async () => {
    await runVirtual(
      async () => {
        using receiver = openSignalReceiver("SIGWINCH");
        deliver("SIGWINCH");
        deliver("SIGWINCH");
        deliver("SIGWINCH");
        expect(await receiver.receive()).toBe("SIGWINCH");
        expect(await moveOnAfter(1000, () => receiver.receive())).toBeUndefined();
      },
      { handleSignals: false },
    );
  });

  it("delivers distinct signals in order of first arrival", async () => {
    await runVirtual(
      async () => {
        using receiver = openSignalReceiver("SIGWINCH", "SIGURG");
        deliver("SIGURG");
        deliver("SIGWINCH");
        deliver("SIGURG");
        expect(await receiver.receive()).toBe("SIGURG");
        // SIGURG arriving again behind SIGWINCH does not overtake it (no starvation).
        deliver("SIGURG");
        expect(await receiver.receive()).toBe("SIGWINCH");
        expect(await receiver.receive()).toBe("SIGURG");
        expect(await moveOnAfter(1000, () => receiver.receive())).toBeUndefined();
      },
      { handleSignals: false },
    );
  });

  it("takes nothing when cancelled, blocked or not", async () => {
    await runVirtual(
      async () => {
        using receiver = openSignalReceiver("SIGWINCH");
        expect(await moveOnAfter(1000, () => receiver.receive())).toBeUndefined();
        deliver("SIGWINCH");
        const scope = new CancelScope();
        scope.cancel();
        await scope.run(() => receiver.receive());
        expect(scope.cancelledCaught).toBe(true);
        expect(await receiver.receive()).toBe("SIGWINCH");
      },
      { handleSignals: false },
    );
  });

  it("is a checkpoint even when a signal is pending", async () => {
    await runQuiet(async () => {
      using receiver = openSignalReceiver("SIGWINCH");
      deliver("SIGWINCH");
      expect(await assertCheckpoints(() => receiver.receive())).toBe("SIGWINCH");
    });
  });

  it("lets one task receive at a time", async () => {
    await runQuiet(async () => {
      using receiver = openSignalReceiver("SIGWINCH");
      await openNursery(async (nursery) => {
        nursery.startSoon(() => receiver.receive());
        await lowlevel.waitAllTasksBlocked();
        await expect(receiver.receive()).rejects.toThrow(BusyResourceError);
        deliver("SIGWINCH");
      });
    });
  });

  it("shares one process listener among receivers and runs", async () => {
    const inside: number[] = [];
    const twoRuns = [1, 2].map(() =>
      runQuiet(async () => {
        using a = openSignalReceiver("SIGWINCH");
        using b = openSignalReceiver("SIGWINCH", "SIGWINCH");
        expect(b.signals).toEqual(["SIGWINCH"]);
        await lowlevel.waitAllTasksBlocked(); // both runs are in here now
        inside.push(process.listenerCount("SIGWINCH"));
        deliver("SIGWINCH");
        expect(await a.receive()).toBe("SIGWINCH");
        expect(await b.receive()).toBe("SIGWINCH");
      }),
    );
    await Promise.all(twoRuns);
    expect(inside).toEqual([baseline.SIGWINCH! + 1, baseline.SIGWINCH! + 1]);
  });

  it("close() and `using` remove its listener; a closed receiver refuses to receive", async () => {
    await runQuiet(async () => {
      const closedByHand = openSignalReceiver("SIGWINCH");
      {
        using _scoped = openSignalReceiver("SIGURG");
        expect(process.listenerCount("SIGURG")).toBe(baseline.SIGURG! + 1);
      }
      closedByHand.close();
      closedByHand.close(); // idempotent
      expect(closedByHand.closed).toBe(true);
      await expect(closedByHand.receive()).rejects.toThrow(ClosedResourceError);
      // A listener nobody uses goes away after one event-loop turn.
      await cancellable(nextTurn());
      expect(process.listenerCount("SIGURG")).toBe(baseline.SIGURG);
      expect(process.listenerCount("SIGWINCH")).toBe(baseline.SIGWINCH);
    });
  });

  it("wakes a task blocked in receive() with ClosedResourceError when closed", async () => {
    await runQuiet(async () => {
      const receiver = openSignalReceiver("SIGWINCH");
      let failure: unknown;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          failure = await rejection(receiver.receive());
        });
        await lowlevel.waitAllTasksBlocked();
        receiver.close();
      });
      expect(failure).toBeInstanceOf(ClosedResourceError);
    });
  });

  it("is closed when its run ends", async () => {
    let leaked: ReturnType<typeof openSignalReceiver> | undefined;
    await runQuiet(async () => {
      leaked = openSignalReceiver("SIGWINCH", "SIGURG");
    });
    expect(leaked?.closed).toBe(true);
    await nextTurn();
    expect(listenerCounts()).toEqual(baseline);
  });

  it("passes on a signal it never handed out when nothing else listens for it", async () => {
    await runQuiet(async () => {
      const other = openSignalReceiver("SIGURG");
      const first = openSignalReceiver("SIGWINCH", "SIGURG");
      deliver("SIGWINCH");
      deliver("SIGURG");
      first.close();
      // SIGWINCH goes to Node's default action; `other` already got SIGURG.
      expect(kills.mock.calls).toEqual([[process.pid, "SIGWINCH"]]);
      expect(await other.receive()).toBe("SIGURG");
      other.close();
    });
  });

  it("rejects bad arguments, listening to nothing", async () => {
    const open = openSignalReceiver as (...signals: unknown[]) => unknown;
    await runQuiet(async () => {
      expect(() => open()).toThrow(TypeError);
      expect(() => open(2)).toThrow(/signals\[0\] must be a signal name.*number 2/);
      expect(() => open("SIGWINCH", null)).toThrow(TypeError);
      expect(() => open("SIGWINCH", "SIGFOO")).toThrow(RangeError);
      expect(() => open("SIGWINCH", "SIGFOO")).toThrow(/signals\[1\].*"SIGFOO"/);
      expect(() => open("sigint")).toThrow(RangeError);
      expect(() => open("toString")).toThrow(RangeError);
      expect(() => open("SIGKILL")).toThrow(/signals\[0\] is SIGKILL, which no process can catch/);
      expect(() => open("SIGSTOP")).toThrow(RangeError);
      expect(process.listenerCount("SIGWINCH")).toBe(baseline.SIGWINCH);
    });
    expect(() => openSignalReceiver("SIGWINCH")).toThrow(/inside weft's run\(\)/);
    await expectRejects(
      () => run(async () => {}, { handleSignals: "yes" as never }),
      TypeError,
      /options\.handleSignals must be a boolean/,
    );
  });
});

/** A task that waits forever; what cancelled it is stored in `cancelledBy`. */
function waiter(record: { cancelledBy?: Cancelled }) {
  return async () => {
    try {
      await sleepForever();
    } catch (error) {
      if (error instanceof Cancelled) record.cancelledBy = error;
      throw error;
    }
  };
}

/** Opens a nursery running `body` next to a task that delivers `signal` once all tasks are blocked. */
async function deliverWhenBlocked(signal: NodeJS.Signals, body: () => Promise<void>) {
  await openNursery(async (nursery) => {
    nursery.startSoon(async () => {
      await lowlevel.waitAllTasksBlocked();
      deliver(signal);
    });
    await body();
  });
}

describe("Ctrl-C handling (in this process, simulated signals)", () => {
  guarded();
  it("the first SIGINT cancels the whole run: finally blocks run, run rejects with Interrupted", async () => {
    const record: { cancelledBy?: Cancelled } = {};
    let cleanedUp = false;
    const failure = await rejection(
      run(() =>
        deliverWhenBlocked("SIGINT", async () => {
          try {
            await waiter(record)();
          } finally {
            cleanedUp = true;
          }
        }),
      ),
    );
    expect(failure).toBeInstanceOf(Interrupted);
    expect((failure as Interrupted).signal).toBe("SIGINT");
    expect((failure as Interrupted).message).toBe("interrupted by SIGINT");
    expect(cleanedUp).toBe(true);
    expect(record.cancelledBy?.source).toBe("signal");
    expect(record.cancelledBy?.reason).toBe("SIGINT");
    expect(process.exitCode).toBe(130);
    expect(kills).not.toHaveBeenCalled();
  });

  it("SIGTERM too, with exit code 143; an exit code already set is kept", async () => {
    const failure = await rejection(run(() => deliverWhenBlocked("SIGTERM", waiter({}))));
    expect(failure).toBeInstanceOf(Interrupted);
    expect((failure as Interrupted).signal).toBe("SIGTERM");
    expect(process.exitCode).toBe(143);
    process.exitCode = 3;
    await rejection(run(() => deliverWhenBlocked("SIGINT", waiter({}))));
    expect(process.exitCode).toBe(3);
  });

  it("an error raised by main wins over Interrupted", async () => {
    const failure = await rejection(
      run(async () => {
        try {
          await deliverWhenBlocked("SIGINT", waiter({}));
        } finally {
          // biome-ignore lint/correctness/noUnsafeFinally: the error that must not be lost
          throw new Error("cleanup failed");
        }
      }),
    );
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe("cleanup failed");
  });

  it("Interrupted even when main swallowed the cancellation and returned", async () => {
    const failure = await rejection(
      run(async () => {
        try {
          await deliverWhenBlocked("SIGINT", waiter({}));
        } catch (error) {
          if (!isCancelled(error)) throw error;
        }
        return "done";
      }),
    );
    expect(failure).toBeInstanceOf(Interrupted);
  });

  it("the abort of options.signal keeps its reason when it came first", async () => {
    const controller = new AbortController();
    const failure = await rejection(
      run(
        async () => {
          controller.abort(new Error("aborted"));
          deliver("SIGINT"); // during the shutdown the abort began
          await sleepForever();
        },
        { signal: controller.signal },
      ),
    );
    expect((failure as Error).message).toBe("aborted");
  });

  it("one signal interrupts every active run, through one process listener", async () => {
    const counts: number[] = [];
    const started: Promise<void>[] = [];
    const runs = [1, 2].map(() => {
      const { promise, resolve } = Promise.withResolvers<void>();
      started.push(promise);
      return run(async () => {
        counts.push(process.listenerCount("SIGINT"));
        resolve();
        await sleepForever();
      });
    });
    await Promise.all(started); // both runs handle Ctrl-C now
    deliver("SIGINT");
    const failures = await Promise.all(runs.map(rejection));
    expect(failures.map((f) => (f as Interrupted).signal)).toEqual(["SIGINT", "SIGINT"]);
    expect(counts).toEqual([baseline.SIGINT! + 1, baseline.SIGINT! + 1]);
  });

  it("a second signal while the run shuts down ends the process at once", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    await rejection(
      run(() =>
        deliverWhenBlocked("SIGINT", async () => {
          try {
            await sleepForever();
          } finally {
            deliver("SIGTERM");
          }
        }),
      ),
    );
    // Our listener is removed first, so that the signal kills the process;
    // if it survives (process.kill is a recorder here), it exits with 128 + 15.
    expect(kills.mock.calls).toEqual([[process.pid, "SIGTERM"]]);
    expect(exits.mock.calls).toEqual([[143]]);
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(
      /^weft: second SIGTERM while shutting down, exiting now without waiting for cleanup \(still running: "/,
    );
  });

  it("a receiver for SIGINT replaces the run's handling of SIGINT, not of SIGTERM", async () => {
    const failure = await rejection(
      run(async () => {
        using interrupts = openSignalReceiver("SIGINT");
        deliver("SIGINT");
        expect(await interrupts.receive()).toBe("SIGINT");
        await deliverWhenBlocked("SIGTERM", waiter({}));
      }),
    );
    expect((failure as Interrupted).signal).toBe("SIGTERM");
  });

  it("a SIGINT a receiver held back goes to the run's handling when it closes", async () => {
    const record: { cancelledBy?: Cancelled } = {};
    const failure = await rejection(
      run(async () => {
        const interrupts = openSignalReceiver("SIGINT");
        deliver("SIGINT");
        interrupts.close();
        await waiter(record)();
      }),
    );
    expect((failure as Interrupted).signal).toBe("SIGINT");
    expect(record.cancelledBy?.reason).toBe("SIGINT");
    expect(kills).not.toHaveBeenCalled();
  });

  it("handleSignals: false installs nothing", async () => {
    await run(
      async () => {
        expect(process.listenerCount("SIGINT")).toBe(baseline.SIGINT);
        expect(process.listenerCount("SIGTERM")).toBe(baseline.SIGTERM);
        deliver("SIGINT"); // nobody listens: nothing happens
        await checkpoint();
      },
      { handleSignals: false },
    );
    expect(process.exitCode).toBe(savedExitCode);
  });
});

// ------------------------------------------------------------ real signals

const FIXTURE = fileURLToPath(new URL("../fixtures/ctrl-c.ts", import.meta.url));

/** Starts the fixture program with `scenario`; it is killed when the test ends, if still running. */
function startFixture(scenario: string, onTestFinished: (fn: () => void) => void) {
  return startProgram(["--conditions=weft-source", FIXTURE, scenario], onTestFinished);
}

describe.concurrent("Ctrl-C handling (child processes, real signals)", () => {
  it("SIGINT: cleanup runs, run rejects with Interrupted, exit code 130", async ({
    onTestFinished,
  }) => {
    const program = startFixture("cleanup", onTestFinished);
    await program.printed("ready");
    program.send("SIGINT");
    const { code, signal, stdout } = await program.ended;
    expect(stdout).toBe(
      "ready\ncleanup done\nrun rejected: Interrupted SIGINT (interrupted by SIGINT)\nexitCode 130\n",
    );
    expect([code, signal]).toEqual([130, null]);
  });

  it("SIGTERM: the same, exit code 143", async ({ onTestFinished }) => {
    const program = startFixture("cleanup", onTestFinished);
    await program.printed("ready");
    program.send("SIGTERM");
    const { code, stdout } = await program.ended;
    expect(stdout).toContain("cleanup done\nrun rejected: Interrupted SIGTERM");
    expect(code).toBe(143);
  });

  it("a second SIGINT during a cleanup that hangs kills the process by SIGINT", async ({
    onTestFinished,
  }) => {
    const program = startFixture("stuck", onTestFinished);
    await program.printed("ready");
    program.send("SIGINT");
    await program.printed("cleanup started");
    program.send("SIGINT");
    const { signal, stdout, stderr } = await program.ended;
    expect(signal).toBe("SIGINT");
    expect(stdout).toBe("ready\ncleanup started\n");
    expect(stderr).toBe(
      'weft: second SIGINT while shutting down, exiting now without waiting for cleanup (still running: "stuckWorker" in sleep)\n',
    );
  });

  it("with handleSignals: false, SIGINT has Node's default action", async ({ onTestFinished }) => {
    const program = startFixture("handle-signals-off", onTestFinished);
    await program.printed("ready");
    program.send("SIGINT");
    const { signal, stdout } = await program.ended;
    expect(signal).toBe("SIGINT");
    expect(stdout).toBe("ready\n");
  });

  it("a receiver takes SIGINT; once closed, the next SIGINT interrupts the run", async ({
    onTestFinished,
  }) => {
    const program = startFixture("receiver", onTestFinished);
    await program.printed("ready");
    program.send("SIGINT");
    await program.printed("ready", 2);
    program.send("SIGINT");
    const { code, stdout } = await program.ended;
    expect(stdout).toBe(
      "ready\nreceived SIGINT\nready\ncleanup done\nrun rejected: Interrupted SIGINT (interrupted by SIGINT)\nexitCode 130\n",
    );
    expect(code).toBe(130);
  });

  it("an error raised during the cleanup is what run rejects with", async ({ onTestFinished }) => {
    const program = startFixture("failing-cleanup", onTestFinished);
    await program.printed("ready");
    program.send("SIGINT");
    const { code, stdout } = await program.ended;
    expect(stdout).toBe("ready\nrun rejected: Error: cleanup failed\nexitCode 130\n");
    expect(code).toBe(130);
  });
});

describe("in a worker thread", () => {
  it("a run installs no listener and openSignalReceiver refuses: signals reach the main thread only", async () => {
    const worker = new Worker(new URL("../fixtures/signals-in-worker.ts", import.meta.url), {
      execArgv: ["--conditions=weft-source"],
    });
    try {
      const [seen] = await once(worker, "message");
      expect(seen).toEqual({
        listeners: 0,
        receiverError:
          "UsageError: openSignalReceiver() cannot be used in a worker thread: Node delivers signals to the main thread only",
      });
    } finally {
      await worker.terminate();
    }
  });
});

describe("review: Ctrl-C and receivers, the less travelled paths", () => {
  guarded();
  it("a signal arriving just after the run ended gets Node's default action (the lingering listener stands aside)", async () => {
    await run(() => checkpoint());
    expect(process.listenerCount("SIGTERM")).toBe(baseline.SIGTERM! + 1); // still lingering
    deliver("SIGTERM");
    expect(kills.mock.calls).toEqual([[process.pid, "SIGTERM"]]);
    expect(process.listenerCount("SIGTERM")).toBe(baseline.SIGTERM); // removed at once
  });

  it("a SIGINT a receiver still holds when the run ends interrupts that run: Interrupted, exit code 130", async () => {
    const failure = await rejection(
      run(async () => {
        openSignalReceiver("SIGINT"); // never closed by hand, never received from
        deliver("SIGINT");
        return "done";
      }),
    );
    expect((failure as Interrupted).signal).toBe("SIGINT");
    expect(process.exitCode).toBe(130);
    expect(kills).not.toHaveBeenCalled();
  });

  it("a SIGINT receiver in one run does not shield another run from the same SIGINT", async () => {
    const { promise: otherRunning, resolve } = Promise.withResolvers<void>();
    const other = run(async () => {
      resolve();
      await sleepForever();
    });
    const received = await run(async () => {
      using interrupts = openSignalReceiver("SIGINT");
      await cancellable(otherRunning);
      deliver("SIGINT");
      return await interrupts.receive(); // await: `using` closes it on return
    });
    expect(received).toBe("SIGINT");
    expect((await rejection(other)) as Interrupted).toBeInstanceOf(Interrupted);
  });

  it("a receiver closed after a signal woke its receiver, before that task ran: ClosedResourceError, the signal passed on", async () => {
    let failure: unknown;
    await runQuiet(async () => {
      const receiver = openSignalReceiver("SIGWINCH");
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          failure = await rejection(receiver.receive());
        });
        await lowlevel.waitAllTasksBlocked();
        deliver("SIGWINCH"); // wakes the receiving task…
        receiver.close(); // …which has not run yet when the receiver closes
      });
    });
    expect(failure).toBeInstanceOf(ClosedResourceError);
    expect(kills.mock.calls).toEqual([[process.pid, "SIGWINCH"]]); // not lost: default action
  });

  it("an error in a child task's finally during the interrupt shutdown wins over Interrupted, without the Cancelled", async () => {
    const failure = await rejection(
      run(() =>
        deliverWhenBlocked("SIGINT", () =>
          openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              try {
                await sleepForever();
              } finally {
                // biome-ignore lint/correctness/noUnsafeFinally: the error that must not be lost
                throw new Error("child cleanup failed");
              }
            });
            await sleepForever(); // main itself ends with a plain Cancelled
          }),
        ),
      ),
    );
    const leaves = (error: unknown): unknown[] =>
      error instanceof ExceptionGroup ? error.errors.flatMap(leaves) : [error];
    expect(failure).toBeInstanceOf(ExceptionGroup);
    expect(leaves(failure).map(String)).toEqual(["Error: child cleanup failed"]);
    expect(process.exitCode).toBe(130);
  });

  it("a SIGINT before the abort of options.signal: Interrupted, not the abort's reason", async () => {
    const controller = new AbortController();
    const failure = await rejection(
      run(
        async () => {
          deliver("SIGINT");
          controller.abort(new Error("aborted"));
          await sleepForever();
        },
        { signal: controller.signal },
      ),
    );
    expect((failure as Interrupted).signal).toBe("SIGINT");
  });
});
