/**
 * `runProcess`: capturing output, feeding input, `check` and
 * `CalledProcessError`, cwd/env/shell, large outputs on both pipes, running
 * as a task with `nursery.start`, cancellation (polite signal, grace period on
 * the run's clock, SIGKILL, always reaped), nothing left behind once `run`
 * resolves, and bad arguments. Node (`process.execPath`) is the child program.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CancelScope,
  ExceptionGroup,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
  TASK_STATUS_IGNORED,
} from "@weft/core";
import { MockClock, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { expectRejects } from "../../../core/test/support/helpers.ts";
import {
  CalledProcessError,
  openProcess,
  type Process,
  runProcess,
  SpawnError,
} from "../../src/index.ts";
import { errorOf } from "../support/io.ts";
import {
  childPids,
  exists,
  hasProcChildren,
  NODE,
  processHandles,
  readToEnd,
  readUntil,
  script,
} from "../support/processes.ts";

const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe("runProcess: output, input, status", () => {
  test("captures stdout and stderr separately, as bytes by default", async () => {
    await run(async () => {
      const result = await runProcess(
        NODE,
        script("process.stdout.write('out'); process.stderr.write('err')"),
      );
      expect(result.stdout).toBeInstanceOf(Uint8Array);
      expect(text(result.stdout)).toBe("out");
      expect(text(result.stderr)).toBe("err");
      expect(result).toMatchObject({ exitCode: 0, signal: null, returnCode: 0, command: NODE });
      expect(result.pid).toBeGreaterThan(0);
    });
  });

  test('encoding "utf8" returns text', async () => {
    await run(async () => {
      const result = await runProcess(NODE, script("console.log('héllo ✓')"), {
        encoding: "utf8",
      });
      expect(result.stdout).toBe("héllo ✓\n");
      expect(result.stderr).toBe("");
    });
  });

  test("input (text or bytes) is fed to stdin, then end of file", async () => {
    await run(async () => {
      const echo = script("process.stdin.pipe(process.stdout)");
      const fromText = await runProcess(NODE, echo, { input: "as text", encoding: "utf8" });
      expect(fromText.stdout).toBe("as text");
      const fromBytes = await runProcess(NODE, echo, { input: new Uint8Array([1, 2, 255]) });
      expect([...fromBytes.stdout]).toEqual([1, 2, 255]);
    });
  });

  test("without input, stdin is empty: a child that reads gets end of file at once", async () => {
    await run(async () => {
      const result = await runProcess(
        NODE,
        script(
          "let n = 0; process.stdin.on('data', (d) => n += d.length).on('end', () => console.log(n))",
        ),
        { encoding: "utf8" },
      );
      expect(result.stdout).toBe("0\n");
    });
  });

  test("a child that exits without reading its input is not an error", async () => {
    await run(async () => {
      const result = await runProcess(NODE, script("process.exit(0)"), {
        input: new Uint8Array(8 * 1024 * 1024),
      });
      expect(result.exitCode).toBe(0);
    });
  });

  test('"ignore" and "inherit" outputs are not captured (null)', async () => {
    await run(async () => {
      const result = await runProcess(NODE, script("process.exit(0)"), {
        stdout: "ignore",
        stderr: "inherit",
      });
      expect(result.stdout).toBeNull();
      expect(result.stderr).toBeNull();
    });
  });

  test("several MB on both pipes at once: read concurrently, no deadlock, nothing lost", async () => {
    const MB = 1024 * 1024;
    await run(async () => {
      const result = await runProcess(
        NODE,
        script(`
          const chunk = Buffer.alloc(${MB}, "o"), err = Buffer.alloc(${MB}, "e");
          for (let i = 0; i < 6; i++) { require("fs").writeSync(1, chunk); require("fs").writeSync(2, err); }
        `),
      );
      expect(result.stdout.length).toBe(6 * MB);
      expect(result.stderr.length).toBe(6 * MB);
      expect(result.stdout.every((b) => b === 0x6f)).toBe(true);
      // And input fed while output is read: a cat of 8 MB.
      const input = new Uint8Array(8 * MB).map((_, i) => i % 251);
      const echoed = await runProcess(NODE, script("process.stdin.pipe(process.stdout)"), {
        input,
      });
      expect(Buffer.compare(echoed.stdout, input)).toBe(0);
    });
  });

  test("cwd and env: env replaces the whole environment; undefined values are left out", async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "weft-cwd-")));
    try {
      await run(async () => {
        const result = await runProcess(
          NODE,
          script("console.log(JSON.stringify({ cwd: process.cwd(), env: process.env }))"),
          { cwd: dir, env: { WEFT_FOO: "bar", WEFT_UNSET: undefined }, encoding: "utf8" },
        );
        expect(JSON.parse(result.stdout)).toEqual({ cwd: dir, env: { WEFT_FOO: "bar" } });
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test.skipIf(process.platform === "win32")(
    "shell: true runs a command line through /bin/sh (and only then)",
    async () => {
      await run(async () => {
        const result = await runProcess('echo "$WEFT_X" | tr a-z A-Z; exit 4', [], {
          shell: true,
          env: { WEFT_X: "from the shell", PATH: process.env.PATH },
          check: false,
          encoding: "utf8",
        });
        expect(result).toMatchObject({ stdout: "FROM THE SHELL\n", exitCode: 4 });
        // Without shell, metacharacters are plain arguments.
        const plain = await runProcess(
          NODE,
          ["-e", "console.log(process.argv[1])", "$HOME; exit 4"],
          {
            encoding: "utf8",
          },
        );
        expect(plain.stdout).toBe("$HOME; exit 4\n");
      });
    },
  );
});

describe("runProcess: check and CalledProcessError", () => {
  test("a non-zero exit status throws CalledProcessError with the status and the captured output", async () => {
    await run(async () => {
      const error = await errorOf(() =>
        runProcess(
          NODE,
          script(
            "console.log('partial'); for (let i = 1; i <= 30; i++) console.error('line ' + i); process.exit(3)",
          ),
        ),
      );
      expect(error).toBeInstanceOf(CalledProcessError);
      const e = error as CalledProcessError;
      expect(e).toMatchObject({ exitCode: 3, signal: null, command: NODE });
      expect(text(e.stdout as Uint8Array)).toBe("partial\n");
      expect(text(e.stderr as Uint8Array)).toContain("line 30");
      expect(e.message).toContain("exited with status 3");
      // The message ends with the tail of stderr, not all of it.
      expect(e.message).toContain("line 30");
      expect(e.message).not.toContain("line 5\n");
    });
  });

  test("death by a signal is a failure too, and the message names the signal", async () => {
    await run(async () => {
      const error = await errorOf(() =>
        runProcess(NODE, script("process.kill(process.pid, 'SIGKILL')"), { encoding: "utf8" }),
      );
      expect(error).toMatchObject({ exitCode: null, signal: "SIGKILL", stdout: "", stderr: "" });
      expect((error as Error).message).toMatch(/was killed by SIGKILL$/);
    });
  });

  test("check: false returns the failure instead", async () => {
    await run(async () => {
      const result = await runProcess(NODE, script("process.exit(7)"), { check: false });
      expect(result).toMatchObject({ exitCode: 7, returnCode: 7, signal: null });
    });
  });

  test("a program that does not exist is a SpawnError (ENOENT), raised directly", async () => {
    await run(async () => {
      const error = await errorOf(() => runProcess("weft-no-such-program"));
      expect(error).toBeInstanceOf(SpawnError);
      expect((error as Error).cause).toMatchObject({ code: "ENOENT" });
    });
  });
});

/** Prints "ready", then handles SIGTERM (and SIGINT) by printing "bye" and exiting with 0. */
const POLITE = script(`
  const bye = (sig) => process.stdout.write("bye " + sig + "\\n", () => process.exit(0));
  process.on("SIGTERM", bye); process.on("SIGINT", bye);
  console.log("ready"); setInterval(() => {}, 1000);
`);
/** Prints "ready", then reports and ignores SIGTERM. */
const STUBBORN = script(`
  process.on("SIGTERM", () => console.log("got SIGTERM"));
  console.log("ready"); setInterval(() => {}, 1000);
`);

/**
 * Starts `runProcess(NODE, args, options)` as a task, inside a cancel scope
 * that `body` can cancel; stdout is a pipe the body reads from.
 */
async function withRunningProcess(
  args: string[],
  options: { gracePeriod?: number; killSignal?: NodeJS.Signals },
  body: (proc: Process, stdout: string, scope: CancelScope) => Promise<void>,
): Promise<Process> {
  let proc: Process | null = null;
  await openNursery(async (nursery) => {
    const scope = new CancelScope();
    proc = await nursery.start<Process>((taskStatus) =>
      scope.run(() => runProcess(NODE, args, { ...options, taskStatus, stdout: "pipe" })),
    );
    const ready = await readUntil(proc.stdout!, "ready\n");
    await body(proc, ready, scope);
  });
  await proc!.stdout!.aclose();
  return proc!;
}

describe("runProcess: cancellation", () => {
  test("cancelled mid-work, the child gets the polite signal first and may finish cleanly", async () => {
    await run(async () => {
      const proc = await withRunningProcess(POLITE, {}, async (proc, _ready, scope) => {
        scope.cancel();
        expect(await readToEnd(proc.stdout!)).toBe("bye SIGTERM\n");
      });
      expect(proc.exitCode).toBe(0);
      expect(exists(proc.pid)).toBe(false); // reaped before Cancelled propagated
    });
  });

  test.skipIf(process.platform === "win32")(
    "cancelled while capturing, a child that writes as it cleans up keeps its output pipe",
    async () => {
      // On SIGTERM the shell logs 2,000 lines to its captured stdout, then
      // exits with 7. Had runProcess closed the pipe before signalling (it
      // did), the first write would kill the shell with SIGPIPE: no clean
      // exit, no grace period. (A Node child would not show it: Node
      // ignores EPIPE on its stdout.)
      const chatty = [
        "-c",
        `trap 'i=0; while [ $i -lt 2000 ]; do echo "cleaning up, step $i"; i=$((i+1)); done; exit 7' TERM
         echo ready >&2
         while :; do sleep 0.05; done`,
      ];
      await run(async () => {
        let proc: Process | null = null;
        await openNursery(async (nursery) => {
          const scope = new CancelScope();
          proc = await nursery.start<Process>((taskStatus) =>
            scope.run(() => runProcess("/bin/sh", chatty, { taskStatus, stderr: "pipe" })),
          );
          await readUntil(proc.stderr!, "ready\n");
          scope.cancel();
        });
        await proc!.stderr!.aclose();
        expect([proc!.exitCode, proc!.signal]).toEqual([7, null]);
        expect(exists(proc!.pid)).toBe(false);
      });
    },
  );

  test("killSignal chooses the polite signal", async () => {
    await run(async () => {
      await withRunningProcess(POLITE, { killSignal: "SIGINT" }, async (proc, _ready, scope) => {
        scope.cancel();
        expect(await readToEnd(proc.stdout!)).toBe("bye SIGINT\n");
      });
    });
  });

  test("a child that ignores it is killed with SIGKILL once the grace period has passed on the run's clock", async () => {
    const clock = new MockClock(); // time moves only when we jump it
    await run(
      async () => {
        const proc = await withRunningProcess(
          STUBBORN,
          { gracePeriod: 10_000 },
          async (proc, _ready, scope) => {
            scope.cancel();
            await readUntil(proc.stdout!, "got SIGTERM"); // the polite signal came first
            clock.jump(9_999);
            await waitAllTasksBlocked();
            expect(proc.returnCode).toBeNull(); // still inside the grace period
            expect(exists(proc.pid)).toBe(true);
            clock.jump(1);
            expect(await proc.wait()).toBe(-os.constants.signals.SIGKILL);
          },
        );
        expect(proc.signal).toBe("SIGKILL");
        expect(exists(proc.pid)).toBe(false);
      },
      { clock },
    );
  });

  test("gracePeriod 0 sends SIGKILL at once", async () => {
    await run(async () => {
      const proc = await withRunningProcess(STUBBORN, { gracePeriod: 0 }, async (_p, _r, scope) => {
        scope.cancel();
      });
      expect(proc.signal).toBe("SIGKILL");
      expect(exists(proc.pid)).toBe(false);
    });
  });

  test("a timeout around a plain runProcess call kills the child and reaps it", async () => {
    await run(async () => {
      const before = hasProcChildren ? childPids() : [];
      const result = await moveOnAfter(50, () =>
        runProcess(NODE, script("setInterval(() => {}, 1000)")),
      );
      expect(result).toBeUndefined();
      if (hasProcChildren) expect(childPids()).toEqual(before);
    });
  });

  test("Cancelled propagates out of runProcess only once the child is gone", async () => {
    await run(async () => {
      let proc: Process | null = null;
      let caught: unknown = null;
      let existedWhenCaught = true;
      await openNursery(async (nursery) => {
        proc = await nursery.start<Process>(async (taskStatus) => {
          try {
            await runProcess(NODE, script("setInterval(() => {}, 1000)"), { taskStatus });
          } catch (error) {
            caught = error;
            existedWhenCaught = exists(proc!.pid);
            throw error;
          }
        });
        nursery.cancelScope.cancel();
      });
      expect(isCancelled(caught)).toBe(true);
      expect(existedWhenCaught).toBe(false);
      expect(proc!.signal).toBe("SIGTERM");
    });
  });
});

describe.skipIf(process.platform === "win32")(
  "runProcess: cancelled after the child exited, while a grandchild holds its output open",
  () => {
    /** sh starts a grandchild that shares its stdout and stderr, prints its pid on stderr, and exits. */
    const LEAVES_GRANDCHILD = ["-c", "sleep 30 & echo $! >&2"];

    /**
     * Runs LEAVES_GRANDCHILD (stdout captured, stderr a pipe we read), waits
     * until the child has exited, then cancels; returns the Process, the
     * grandchild's pid and how long runProcess took to return once cancelled.
     */
    async function cancelOnceChildExited(
      processGroup: boolean,
    ): Promise<[Process, number, number]> {
      let proc: Process | null = null;
      let grandchild = 0;
      let cancelledAt = 0;
      await openNursery(async (nursery) => {
        const scope = new CancelScope();
        proc = await nursery.start<Process>((taskStatus) =>
          scope.run(() =>
            runProcess("/bin/sh", LEAVES_GRANDCHILD, { taskStatus, stderr: "pipe", processGroup }),
          ),
        );
        grandchild = Number((await readUntil(proc.stderr!, "\n")).trim());
        expect(await proc.wait()).toBe(0); // the child is gone; the grandchild still holds stdout
        cancelledAt = performance.now();
        scope.cancel();
      });
      return [proc!, grandchild, performance.now() - cancelledAt];
    }

    test("runProcess returns promptly: the captured pipes are closed (the grandchild runs on)", async () => {
      await run(async () => {
        const [proc, grandchild, returnedAfter] = await cancelOnceChildExited(false);
        try {
          expect(returnedAfter).toBeLessThan(5_000); // not the grandchild's 30 s
          expect(exists(grandchild)).toBe(true); // not in a group of its own: the trade-off
        } finally {
          process.kill(grandchild, "SIGKILL");
        }
        await proc.stderr!.aclose();
      });
    });

    test("with processGroup, it returns promptly and kills the rest of the group", async () => {
      let reachedEof = false;
      let grandchild = 0;
      try {
        await run(async () => {
          const [proc, pid, returnedAfter] = await cancelOnceChildExited(true);
          grandchild = pid;
          expect(returnedAfter).toBeLessThan(5_000);
          // End of file on stderr: every holder of the pipe, the grandchild included, is dead.
          await readToEnd(proc.stderr!);
          reachedEof = true;
          await proc.stderr!.aclose();
        });
      } finally {
        if (!reachedEof && grandchild > 0) process.kill(grandchild, "SIGKILL"); // a failed run's orphan
      }
    });

    test("a timeout around a plain call ends it, rather than the grandchild's exit", async () => {
      await run(async () => {
        const startedAt = performance.now();
        const result = await moveOnAfter(300, () =>
          runProcess("/bin/sh", ["-c", "sleep 30 & echo hi"], { processGroup: true }),
        );
        expect(result).toBeUndefined();
        expect(performance.now() - startedAt).toBeLessThan(5_000);
      });
    });
  },
);

describe("runProcess as a task (nursery.start)", () => {
  test("reports the Process once it runs, then supervises it; its failure fails the nursery", async () => {
    await run(async () => {
      const error = await errorOf(() =>
        openNursery(async (nursery) => {
          const proc = await nursery.start<Process>((taskStatus) =>
            runProcess(NODE, script("process.stdin.once('data', () => process.exit(5))"), {
              taskStatus,
              stdin: "pipe",
            }),
          );
          expect(proc.returnCode).toBeNull();
          await proc.stdin!.sendAll(new Uint8Array([1]));
          await proc.stdin!.aclose();
        }),
      );
      // Strict nursery: the CalledProcessError comes in a group.
      expect(error).toBeInstanceOf(ExceptionGroup);
      const [failure] = (error as ExceptionGroup).errors;
      expect(failure).toBeInstanceOf(CalledProcessError);
      expect(failure).toMatchObject({ exitCode: 5 });
    });
  });
});

describe("nothing is left behind", () => {
  test.skipIf(!hasProcChildren)(
    "after run resolves: no child process, no pipe or process handle, whatever happened",
    async () => {
      const children = childPids();
      const handles = await processHandles();
      await run(async () => {
        await runProcess(NODE, script("console.log('ok')"), { input: "x" });
        await runProcess(NODE, script("process.exit(2)"), { check: false });
        await errorOf(() => runProcess(NODE, script("process.exit(2)")));
        await errorOf(() => runProcess("weft-no-such-program"));
        await moveOnAfter(20, () => runProcess(NODE, script("setInterval(() => {}, 1000)")));
        await withRunningProcess(STUBBORN, { gracePeriod: 0 }, async (_p, _r, scope) => {
          scope.cancel();
        });
        const proc = await openProcess(NODE, script("process.stdin.pipe(process.stdout)"), {
          stdin: "pipe",
          stdout: "pipe",
          stderr: "pipe",
        });
        await proc.aclose();
      });
      expect(childPids()).toEqual(children);
      expect(await processHandles()).toBe(handles);
    },
  );
});

describe("runProcess: bad input rejects (never a synchronous throw), naming the argument", () => {
  const bad = <T>(value: unknown) => value as T;
  const cases: [string, () => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    ["empty command", () => runProcess(""), TypeError, /command/],
    ["args", () => runProcess(NODE, bad([null])), TypeError, /args\[0\]/],
    ["input", () => runProcess(NODE, [], { input: bad(5) }), TypeError, /options\.input/],
    [
      "input and stdin",
      () => runProcess(NODE, [], { input: "x", stdin: "inherit" }),
      TypeError,
      /options\.input or options\.stdin/,
    ],
    [
      "stdout mode",
      () => runProcess(NODE, [], { stdout: bad("file") }),
      TypeError,
      /options\.stdout/,
    ],
    [
      "stderr mode",
      () => runProcess(NODE, [], { stderr: bad(null) }),
      TypeError,
      /options\.stderr/,
    ],
    [
      "stdin mode",
      () => runProcess(NODE, [], { stdin: bad("capture") }),
      TypeError,
      /options\.stdin/,
    ],
    [
      '"pipe" without taskStatus',
      () => runProcess(NODE, [], { stdout: "pipe" }),
      TypeError,
      /taskStatus/,
    ],
    ["check", () => runProcess(NODE, [], { check: bad("yes") }), TypeError, /options\.check/],
    [
      "encoding",
      () => runProcess(NODE, [], { encoding: bad("latin1") }),
      TypeError,
      /options\.encoding/,
    ],
    [
      "taskStatus",
      () => runProcess(NODE, [], { taskStatus: bad({}) }),
      TypeError,
      /options\.taskStatus/,
    ],
    ["gracePeriod", () => runProcess(NODE, [], { gracePeriod: -5 }), RangeError, /gracePeriod/],
    [
      "killSignal",
      () => runProcess(NODE, [], { killSignal: bad("TERM") }),
      RangeError,
      /killSignal/,
    ],
  ];
  test.each(cases)("%s", async (_label, call, errorClass, names) => {
    await expectRejects(call, errorClass, names);
  });

  test('"pipe" is accepted with a taskStatus', async () => {
    await run(async () => {
      const result = await runProcess(NODE, script("process.exit(0)"), {
        stdout: "pipe",
        taskStatus: TASK_STATUS_IGNORED,
      });
      expect(result.stdout).toBeNull();
    });
  });

  test("outside run(), runProcess rejects with an Error saying so", async () => {
    const error = await errorOf(() => runProcess(NODE, script("0")));
    expect(isCancelled(error)).toBe(false);
    expect((error as Error).message).toMatch(/runProcess\(\).*run\(\)/);
  });
});

describe("review: cancellation at every stage, odd children", () => {
  test.skipIf(!hasProcChildren)(
    "a child that never reads its huge input: cancellation is not held up by the pending write, nothing is left behind",
    async () => {
      const children = childPids();
      const handles = await processHandles();
      await run(async () => {
        // 32 MB: far more than a pipe holds, so the feeder is parked in sendAll when cancelled.
        const result = await moveOnAfter(100, () =>
          runProcess(NODE, script("setInterval(() => {}, 1000)"), {
            input: new Uint8Array(32 * 1024 * 1024),
          }),
        );
        expect(result).toBeUndefined();
      });
      expect(childPids()).toEqual(children);
      expect(await processHandles()).toBe(handles);
    },
  );

  test("a child that closes stdout and stderr early but keeps running: runProcess still waits for its exit", async () => {
    await run(async () => {
      const result = await runProcess(
        NODE,
        script(`
          const fs = require("fs");
          process.stdout.write("early", () => {
            fs.closeSync(1); fs.closeSync(2);
            setTimeout(() => process.exit(3), 100);
          });
        `),
        { check: false, encoding: "utf8" },
      );
      expect(result).toMatchObject({ exitCode: 3, stdout: "early", stderr: "" });
    });
  });

  test("the grace period ends as soon as the child exits: no virtual time has to pass", async () => {
    const clock = new MockClock(); // never jumped: a wait for the whole grace period would hang
    await run(
      async () => {
        const proc = await withRunningProcess(
          POLITE,
          { gracePeriod: 60_000 },
          async (proc, _ready, scope) => {
            scope.cancel();
            expect(await readToEnd(proc.stdout!)).toBe("bye SIGTERM\n");
          },
        );
        expect(proc.exitCode).toBe(0);
        expect(clock.currentTime()).toBe(0);
      },
      { clock },
    );
  });

  test("a second cancellation during the grace period does not cut it short", async () => {
    const clock = new MockClock();
    await run(
      async () => {
        let proc: Process | null = null;
        const outer = new CancelScope();
        await openNursery(async (nursery) => {
          nursery.startSoon(() =>
            outer.run(() =>
              withRunningProcess(STUBBORN, { gracePeriod: 10_000 }, async (p, _ready, scope) => {
                proc = p;
                scope.cancel();
                await readUntil(p.stdout!, "got SIGTERM"); // the grace period has begun
                outer.cancel(); // and now everything around runProcess is cancelled too
              }),
            ),
          );
          while (!outer.cancelCalled) await waitAllTasksBlocked();
          await waitAllTasksBlocked();
          expect(proc!.returnCode).toBeNull(); // still given its grace period
          clock.jump(10_000);
        });
        expect(proc!.signal).toBe("SIGKILL");
        expect(exists(proc!.pid)).toBe(false);
      },
      { clock },
    );
  });
});
