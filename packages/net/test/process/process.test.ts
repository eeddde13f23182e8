/**
 * `openProcess` and `Process`: weft streams to a child's stdio, waiting,
 * signals, closing (and being cancelled while closing), spawn errors, the
 * process-group option, and bad arguments. Node (`process.execPath`) is the
 * child program throughout.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  BrokenResourceError,
  CancelScope,
  failAfter,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
} from "@weft/core";
import { assertCheckpoints, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { expectRejects } from "../../../core/test/support/helpers.ts";
import {
  openProcess,
  Process,
  runProcess,
  type SocketStream,
  SpawnError,
} from "../../src/index.ts";
import { cancelOnceBlocked, errorOf, filled } from "../support/io.ts";
import {
  bytes,
  childPids,
  exists,
  hasProcChildren,
  NODE,
  readToEnd,
  readUntil,
  script,
} from "../support/processes.ts";

/** Copies stdin to stdout: `cat`. */
const CAT = script("process.stdin.pipe(process.stdout)");
/** Runs until killed. */
const FOREVER = script("setInterval(() => {}, 1000)");

describe("openProcess: streams", () => {
  test("stdin and stdout are weft streams: data goes through a cat-like child and back", async () => {
    await run(async () => {
      await using proc = await openProcess(NODE, CAT, { stdin: "pipe", stdout: "pipe" });
      expect(proc.stderr).toBeNull(); // inherited
      expect(proc.pid).toBeGreaterThan(0);
      await proc.stdin.sendAll(bytes("hello "));
      expect(await readUntil(proc.stdout, "hello ")).toBe("hello ");
      await proc.stdio.sendAll(bytes("world"));
      await proc.stdio.sendEof(); // closes stdin: the child sees end of file and exits
      expect(await readToEnd(proc.stdout)).toBe("world");
      expect(await proc.wait()).toBe(0);
      expect(proc.returnCode).toBe(0);
      expect(proc.exitCode).toBe(0);
      expect(proc.signal).toBeNull();
      expect(String(proc)).toMatch(/pid \d+, exited with status 0\)$/);
    });
  });

  test("openProcess is a checkpoint", async () => {
    await run(async () => {
      const proc = await assertCheckpoints(() => openProcess(NODE, script("0")));
      expect(await proc.wait()).toBe(0);
    });
  });

  test("stdio defaults to inherit, as in Trio: no streams", async () => {
    await run(async () => {
      await using proc = await openProcess(NODE, script("process.exit(0)"));
      expect(proc.stdin).toBeNull();
      expect(proc.stdout).toBeNull();
      expect(proc.stderr).toBeNull();
      expect(proc.stdio).toBeNull();
      expect(await proc.wait()).toBe(0);
    });
  });

  test("stderr is a stream of its own", async () => {
    await run(async () => {
      await using proc = await openProcess(
        NODE,
        script("process.stdout.write('out'); process.stderr.write('err')"),
        { stdout: "pipe", stderr: "pipe", stdin: "ignore" },
      );
      expect(await readToEnd(proc.stderr)).toBe("err");
      expect(await readToEnd(proc.stdout)).toBe("out");
      expect(await proc.wait()).toBe(0);
    });
  });

  test("writing to a child that closed its stdin is a BrokenResourceError caused by EPIPE", async () => {
    await run(async () => {
      await using proc = await openProcess(
        NODE,
        script("require('fs').closeSync(0); console.log('closed'); setInterval(() => {}, 1000)"),
        { stdin: "pipe", stdout: "pipe", gracePeriod: 0 },
      );
      await readUntil(proc.stdout, "closed");
      const chunk = new Uint8Array(65536);
      // The first write may be accepted before the failure is reported.
      const error = await errorOf(async () => {
        for (let i = 0; i < 100; i++) await proc.stdin.sendAll(chunk);
      });
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).cause).toMatchObject({ code: "EPIPE" });
      proc.kill(); // aclose (await using) waits for the child to exit
    });
  });

  test("writing to a child that has exited is a BrokenResourceError with a cause", async () => {
    await run(async () => {
      await using proc = await openProcess(NODE, FOREVER, { stdin: "pipe" });
      proc.kill();
      await proc.wait();
      const error = await errorOf(() => proc.stdin.sendAll(bytes("too late")));
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).cause).toMatchObject({ code: "EPIPE" });
    });
  });
});

describe("openProcess: a cancelled stdin.sendAll (SEMANTICS.md, I/O resources)", () => {
  test("breaks stdin: later sends raise BrokenResourceError saying a previous send was cancelled", async () => {
    await run(async () => {
      // The child never reads: a pipe holds 64 KiB, so 1 MiB blocks.
      await using proc = await openProcess(NODE, FOREVER, { stdin: "pipe", gracePeriod: 0 });
      try {
        const first = await cancelOnceBlocked(() => proc.stdin.sendAll(filled(1024 * 1024, 1)));
        expect(first).toEqual({ cancelled: true, error: null });
        // Refused at once (the bound only keeps a regression from hanging here).
        const error = await errorOf(() => failAfter(5000, () => proc.stdin.sendAll(bytes("more"))));
        expect(error).toBeInstanceOf(BrokenResourceError);
        expect((error as Error).message).toMatch(/a previous sendAll was cancelled/);
      } finally {
        proc.kill(); // aclose (await using) closes stdin and waits for the child to exit
      }
    });
  });
  test("repeated cancelled sends keep Node's write buffer for stdin within the documented 64 KiB", async () => {
    await run(async () => {
      await using proc = await openProcess(NODE, FOREVER, { stdin: "pipe", gracePeriod: 0 });
      try {
        // stdin is a SocketStream shown as a SendStream.
        const { socket } = proc.stdin as SocketStream;
        for (let i = 0; i < 5; i++) {
          await cancelOnceBlocked(() => proc.stdin.sendAll(filled(1024 * 1024, i)));
          expect(socket.writableLength).toBeLessThanOrEqual(64 * 1024);
        }
      } finally {
        proc.kill();
      }
    });
  });
});

describe("Process: waiting and signals", () => {
  test("wait() is a checkpoint, and any number of tasks may wait", async () => {
    await run(async () => {
      const proc = await openProcess(NODE, CAT, { stdin: "pipe" });
      const codes: number[] = [];
      await openNursery(async (nursery) => {
        for (let i = 0; i < 3; i++)
          nursery.startSoon(async () => void codes.push(await proc.wait()));
        await waitAllTasksBlocked();
        expect(codes).toEqual([]);
        await proc.stdin.aclose(); // end of file: cat exits
      });
      expect(codes).toEqual([0, 0, 0]);
      expect(await assertCheckpoints(() => proc.wait())).toBe(0); // exited: still a checkpoint
    });
  });

  test("cancelling wait() leaves the process running", async () => {
    await run(async () => {
      const proc = await openProcess(NODE, FOREVER);
      let waited = false;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await proc.wait();
          waited = true;
        });
        await waitAllTasksBlocked();
        nursery.cancelScope.cancel();
      });
      expect(waited).toBe(false);
      expect(proc.returnCode).toBeNull();
      expect(exists(proc.pid)).toBe(true);
      proc.kill();
      expect(await proc.wait()).toBe(-9);
      expect(proc.signal).toBe("SIGKILL");
      expect(proc.exitCode).toBeNull();
      expect(exists(proc.pid)).toBe(false); // reaped: not even a zombie
    });
  });

  test("sendSignal delivers named and numbered signals; terminate sends SIGTERM; signals after exit are ignored", async () => {
    await run(async () => {
      const proc = await openProcess(
        NODE,
        script(
          "process.on('SIGUSR2', () => console.log('usr2')); console.log('ready'); setInterval(() => {}, 1000)",
        ),
        { stdout: "pipe" },
      );
      await readUntil(proc.stdout, "ready");
      proc.sendSignal("SIGUSR2");
      await readUntil(proc.stdout, "usr2");
      proc.sendSignal(os.constants.signals.SIGUSR2);
      await readUntil(proc.stdout, "usr2");
      proc.terminate();
      expect(await proc.wait()).toBe(-os.constants.signals.SIGTERM);
      expect(proc.signal).toBe("SIGTERM");
      // The pid may belong to another process now: nothing is sent.
      proc.kill();
      proc.sendSignal("SIGINT");
      expect(proc.signal).toBe("SIGTERM");
      await proc.aclose();
    });
  });
});

describe("Process.aclose", () => {
  test("closes the pipes and waits: closing stdin ends a filter", async () => {
    await run(async () => {
      const proc = await openProcess(NODE, CAT, { stdin: "pipe", stdout: "pipe" });
      await proc.aclose();
      expect(proc.returnCode).toBe(0);
      await expect(proc.stdout.receiveSome()).rejects.toThrow(/closed/);
    });
  });

  test("cancelled while waiting, it stops the child and reaps it before Cancelled propagates", async () => {
    await run(async () => {
      const proc = await openProcess(NODE, FOREVER, { stdin: "pipe" });
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => proc.aclose()); // stdin closed, but the child does not care
      expect(scope.cancelledCaught).toBe(true);
      expect(proc.signal).toBe("SIGTERM"); // the polite signal was enough
      expect(exists(proc.pid)).toBe(false); // reaped
      await expect(proc.stdin.sendAll(bytes("x"))).rejects.toThrow(/closed/);
    });
  });
});

describe("openProcess: starting", () => {
  test("a program that does not exist is a SpawnError whose code is ENOENT", async () => {
    await run(async () => {
      const error = await errorOf(() => openProcess("weft-no-such-program", ["x"]));
      expect(error).toBeInstanceOf(SpawnError);
      expect(error).toMatchObject({ code: "ENOENT", command: "weft-no-such-program", args: ["x"] });
      expect((error as Error).cause).toMatchObject({ code: "ENOENT" });
      expect((error as Error).message).toContain("weft-no-such-program");
    });
  });

  test("a missing working directory is ENOENT too, and the message says which", async () => {
    await run(async () => {
      const error = await errorOf(() => openProcess(NODE, [], { cwd: "/weft/no/such/dir" }));
      expect(error).toMatchObject({ code: "ENOENT" });
      expect((error as Error).message).toMatch(/working directory does not exist/);
    });
  });

  test.skipIf(process.platform === "win32")(
    "a file that is not executable is a SpawnError whose code is EACCES",
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-proc-"));
      const file = path.join(dir, "not-executable");
      fs.writeFileSync(file, "#!/bin/sh\necho hi\n", { mode: 0o644 });
      try {
        await run(async () => {
          const error = await errorOf(() => openProcess(file));
          expect(error).toBeInstanceOf(SpawnError);
          expect(error).toMatchObject({ code: "EACCES" });
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test.skipIf(!hasProcChildren)(
    "in a cancelled scope, openProcess throws Cancelled and starts nothing",
    async () => {
      const before = childPids();
      await run(async () => {
        const scope = new CancelScope();
        scope.cancel();
        await scope.run(async () => {
          const error = await errorOf(() => openProcess(NODE, FOREVER));
          expect(isCancelled(error)).toBe(true);
          expect(childPids()).toEqual(before);
        });
      });
    },
  );
});

describe("process groups", () => {
  /**
   * A child that starts a grandchild sharing its stdout, prints the
   * grandchild's pid, and runs until killed. The grandchild ignores SIGTERM.
   * Our end of stdout reaches end of file only once both are dead.
   */
  const PARENT_OF_STUBBORN = script(`
    const { spawn } = require("child_process");
    const g = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); console.log('grandchild ready'); setInterval(() => {}, 1000)"], { stdio: ["ignore", "inherit", "ignore"] });
    console.log("grandchild " + g.pid);
    setInterval(() => {}, 1000);
  `);

  /** Starts PARENT_OF_STUBBORN, cancels it once the grandchild runs; returns it and the output so far. */
  async function startParent(processGroup: boolean): Promise<[Process, string]> {
    let proc: Process | null = null;
    let text = "";
    await openNursery(async (nursery) => {
      const scope = new CancelScope();
      proc = await nursery.start<Process>((taskStatus) =>
        scope.run(() =>
          runProcess(NODE, PARENT_OF_STUBBORN, { taskStatus, stdout: "pipe", processGroup }),
        ),
      );
      text = await readUntil(proc.stdout!, "grandchild ready");
      scope.cancel(); // runProcess stops the child (and, with processGroup, its group)
    });
    return [proc!, text];
  }

  /** The grandchild's pid, from the child's output. */
  const grandchildOf = (text: string) => Number(/grandchild (\d+)/.exec(text)![1]);

  test.skipIf(process.platform === "win32")(
    "with processGroup, cancellation also kills what the child started",
    async () => {
      let grandchild = 0;
      let reachedEof = false;
      try {
        await run(async () => {
          const [proc, text] = await startParent(true);
          grandchild = grandchildOf(text);
          expect(proc.signal).toBe("SIGTERM");
          // End of file: every holder of the pipe, the grandchild included, is dead.
          await readToEnd(proc.stdout!);
          reachedEof = true;
          await proc.stdout!.aclose();
        });
      } finally {
        if (!reachedEof && grandchild > 0) process.kill(grandchild, "SIGKILL"); // a failed run's orphan
      }
    },
  );

  test.skipIf(process.platform === "win32")(
    "without it (the default), a grandchild outlives a cancelled child: the trade-off",
    async () => {
      await run(async () => {
        const [proc, text] = await startParent(false);
        const grandchild = grandchildOf(text);
        try {
          expect(proc.signal).toBe("SIGTERM");
          expect(exists(grandchild)).toBe(true);
        } finally {
          process.kill(grandchild, "SIGKILL");
        }
        await readToEnd(proc.stdout!);
        await proc.stdout!.aclose();
      });
    },
  );
});

describe("bad input rejects (never a synchronous throw), naming the argument", () => {
  const bad = <T>(value: unknown) => value as T;
  const cases: [string, () => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
    ["empty command", () => openProcess(""), TypeError, /command/],
    ["command not a string", () => openProcess(bad(42)), TypeError, /command/],
    ["args not an array", () => openProcess(NODE, bad("-v")), TypeError, /args/],
    ["args with a number", () => openProcess(NODE, bad(["-e", 1])), TypeError, /args\[1\]/],
    ["NUL in an argument", () => openProcess(NODE, ["a\0b"]), TypeError, /args\[0\]/],
    ["options not an object", () => openProcess(NODE, [], bad(3)), TypeError, /options/],
    ["stdin mode", () => openProcess(NODE, [], { stdin: bad("pip") }), TypeError, /options\.stdin/],
    ["stdout mode", () => openProcess(NODE, [], { stdout: bad(1) }), TypeError, /options\.stdout/],
    ["cwd", () => openProcess(NODE, [], { cwd: bad(5) }), TypeError, /options\.cwd/],
    ["env", () => openProcess(NODE, [], { env: bad("A=1") }), TypeError, /options\.env/],
    [
      "env as a Map",
      () => openProcess(NODE, [], { env: bad(new Map([["A", "1"]])) }),
      TypeError,
      /options\.env must be an object of strings, got a Map/,
    ],
    [
      "env value",
      () => openProcess(NODE, [], { env: bad({ A: 1 }) }),
      TypeError,
      /options\.env\.A/,
    ],
    [
      "env key",
      () => openProcess(NODE, [], { env: { "A=B": "1" } }),
      TypeError,
      /options\.env key/,
    ],
    ["shell", () => openProcess(NODE, [], { shell: bad("yes") }), TypeError, /options\.shell/],
    ["shell with args", () => openProcess("echo", ["hi"], { shell: true }), TypeError, /args/],
    [
      "processGroup",
      () => openProcess(NODE, [], { processGroup: bad(1) }),
      TypeError,
      /options\.processGroup/,
    ],
    [
      "gracePeriod type",
      () => openProcess(NODE, [], { gracePeriod: bad("5") }),
      TypeError,
      /options\.gracePeriod/,
    ],
    [
      "negative gracePeriod",
      () => openProcess(NODE, [], { gracePeriod: -1 }),
      RangeError,
      /gracePeriod/,
    ],
    [
      "NaN gracePeriod",
      () => openProcess(NODE, [], { gracePeriod: Number.NaN }),
      RangeError,
      /gracePeriod/,
    ],
    [
      "infinite gracePeriod",
      () => openProcess(NODE, [], { gracePeriod: Number.POSITIVE_INFINITY }),
      RangeError,
      /gracePeriod/,
    ],
    [
      "unknown killSignal",
      () => openProcess(NODE, [], { killSignal: bad("SIGNOPE") }),
      RangeError,
      /options\.killSignal/,
    ],
    [
      "killSignal type",
      () => openProcess(NODE, [], { killSignal: bad(15) }),
      TypeError,
      /killSignal/,
    ],
  ];
  test.each(cases)("openProcess: %s", async (_label, call, errorClass, names) => {
    await expectRejects(call, errorClass, names);
  });

  test("sendSignal: unknown names and numbers are RangeErrors", async () => {
    await run(async () => {
      await using proc = await openProcess(NODE, FOREVER, { gracePeriod: 0 });
      expect(() => proc.sendSignal(bad("SIGNOPE"))).toThrow(RangeError);
      expect(() => proc.sendSignal(bad("SIGNOPE"))).toThrow(/signal/);
      expect(() => proc.sendSignal(9999)).toThrow(RangeError);
      expect(() => proc.sendSignal(bad(null))).toThrow(TypeError);
      expect(proc.returnCode).toBeNull(); // nothing was sent
      proc.kill();
    });
  });

  test("Process has no public constructor", () => {
    const construct = () => new Process(bad(Symbol("fake")), bad(null), "x", [], bad({}), bad({}));
    expect(construct).toThrow(TypeError);
    expect(construct).toThrow(/openProcess/);
  });
});

describe("review: edge cases", () => {
  test('args with a hole is a TypeError naming it, not a child run with the argument "undefined"', async () => {
    const sparse = ["-e", "0"];
    sparse[3] = "x"; // sparse[2] is a hole: forEach and Array.prototype.every skip it
    await expectRejects(() => openProcess(NODE, sparse), TypeError, /args\[2\]/);
  });

  test("aclose() of a child that has exited is still a checkpoint, and may be repeated", async () => {
    await run(async () => {
      const proc = await openProcess(NODE, script("0"), { stdout: "pipe" });
      expect(await proc.wait()).toBe(0);
      await assertCheckpoints(() => proc.aclose());
      await proc.aclose();
      await expect(proc.stdout.receiveSome()).rejects.toThrow(/closed/);
    });
  });

  test.skipIf(process.platform === "win32")(
    "wait() and aclose() wait for the child only, not for a grandchild that holds its pipes",
    async () => {
      let grandchild = 0;
      try {
        await run(async () => {
          const proc = await openProcess("/bin/sh", ["-c", "sleep 30 & echo $!"], {
            stdout: "pipe",
          });
          grandchild = Number((await readUntil(proc.stdout, "\n")).trim());
          expect(await proc.wait()).toBe(0);
          await proc.aclose(); // closes our end of stdout; the grandchild's 30 s do not matter
        });
      } finally {
        if (grandchild > 0) process.kill(grandchild, "SIGKILL");
      }
    },
  );

  test.skipIf(process.platform === "win32")(
    "with processGroup, terminate() reaches what the child started, not only the child",
    async () => {
      // Child and grandchild share our stdout pipe: end of file means both died of the SIGTERM.
      const parent = script(`
        const g = require("child_process").spawn(process.execPath, ["-e", "console.log('grandchild ' + process.pid); setInterval(() => {}, 1000)"], { stdio: ["ignore", "inherit", "ignore"] });
        setInterval(() => {}, 1000);
      `);
      let grandchild = 0;
      let reachedEof = false;
      try {
        await run(async () => {
          await using proc = await openProcess(NODE, parent, {
            stdout: "pipe",
            processGroup: true,
          });
          grandchild = Number(/grandchild (\d+)/.exec(await readUntil(proc.stdout, "\n"))![1]);
          proc.terminate();
          expect(await proc.wait()).toBe(-os.constants.signals.SIGTERM);
          // End of file: the grandchild died too (an orphan's zombie may linger: no `exists`).
          const rest = await moveOnAfter(2000, () => readToEnd(proc.stdout));
          expect(rest).toBe("");
          reachedEof = true;
        });
      } finally {
        if (!reachedEof && grandchild > 0) process.kill(grandchild, "SIGKILL"); // a failed run's orphan
      }
    },
  );
});
