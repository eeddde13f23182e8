/**
 * Errors that explain themselves: a nursery's ExceptionGroup summarises its
 * leaves (class, message, raising task) in its message, so a log line alone
 * shows the cause; its stack starts at the user's call; run()'s own errors
 * are exported classes.
 */
import { Console } from "node:console";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { format, inspect } from "node:util";
import {
  type Cancelled,
  CancelScope,
  ExceptionGroup,
  InternalError,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
  sleep,
  sleepForever,
  taskNameOf,
  UsageError,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { rejection, runVirtual } from "../support/helpers.ts";

const thisFile = fileURLToPath(import.meta.url);

/** Two children fail (a TypeError, then a RangeError a millisecond later); the body waits. */
async function twoFailures(): Promise<unknown> {
  return rejection(
    runVirtual(async () => {
      await openNursery(async (nursery) => {
        nursery.startSoon(async function parser() {
          throw new TypeError("bad header");
        });
        nursery.startSoon(
          async () => {
            await new CancelScope({ shield: true }).run(() => sleep(1));
            throw new RangeError("port out of range");
          },
          { name: "listener" },
        );
        await sleepForever();
      });
    }),
  );
}

describe("an escaped nursery error, as a user sees it", () => {
  test("its message counts the leaves and names each one's class, message and task", async () => {
    const error = await twoFailures();
    expect(error).toBeInstanceOf(ExceptionGroup);
    expect((error as Error).message).toBe(
      'errors raised in a nursery: 2 errors: TypeError: bad header (in task "parser"); ' +
        'RangeError: port out of range (in task "listener")',
    );
  });

  test("String(e), a template, util.format('%s') and a JSON log line all carry the cause", async () => {
    const error = (await twoFailures()) as Error;
    const oneLine = [
      String(error),
      `${error}`,
      format("%s", error),
      JSON.stringify({ msg: error.message }),
    ];
    for (const line of oneLine) {
      expect(line).toContain("TypeError: bad header");
      expect(line).toContain("RangeError: port out of range");
      expect(line).toMatch(/task \\?"listener\\?"/);
    }
    expect(String(error)).toBe(`ExceptionGroup: ${error.message}`);
  });

  test("console.error shows the summary, then the tree with each leaf's stack", async () => {
    const error = await twoFailures();
    const out = new PassThrough();
    let text = "";
    out.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    new Console({ stdout: out, stderr: out }).error(error);
    expect(text.split("\n")[0]).toBe(`ExceptionGroup: ${(error as Error).message}`);
    expect(text).toMatch(/\[errors\]: \[\n\s+TypeError: bad header\n\s+at parser /);
    expect(text).toMatch(/RangeError: port out of range\n\s+at /);
    expect(inspect(error)).toBe(text.trimEnd());
  });

  test("the group's first stack frame is the user's openNursery call, not weft's internals", async () => {
    const error = (await twoFailures()) as Error;
    const frames = error.stack!.split("\n").filter((line) => line.trimStart().startsWith("at "));
    expect(frames[0]).toContain(thisFile);
    expect(error.stack!.split("\n")[0]).toBe(`ExceptionGroup: ${error.message}`);
  });

  test("a summary lists three leaves, then how many more; long and multi-line messages are clipped", async () => {
    const error = await rejection(
      runVirtual(() =>
        openNursery(async (nursery) => {
          for (const n of [1, 2, 3, 4, 5]) {
            nursery.startSoon(
              async () => {
                throw new Error(n === 1 ? "x".repeat(500) : `failure ${n}\nsecond line`);
              },
              { name: `t${n}` },
            );
          }
        }),
      ),
    );
    const message = (error as Error).message;
    expect(message).toMatch(
      /^errors raised in a nursery: 5 errors: Error: x{159}… \(in task "t1"\); /,
    );
    expect(message).toContain(
      'Error: failure 2 … (in task "t2"); Error: failure 3 … (in task "t3")',
    );
    expect(message).toMatch(/; and 2 more$/);
    expect(message).not.toContain("second line");
  });

  test("thrown non-errors are described by type and value (no task name: only objects can carry one)", async () => {
    const error = await rejection(
      runVirtual(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(
            async () => {
              throw "plain string";
            },
            { name: "a" },
          );
          nursery.startSoon(
            async () => {
              throw 42;
            },
            { name: "b" },
          );
        }),
      ),
    );
    expect((error as Error).message).toBe(
      'errors raised in a nursery: 2 errors: thrown string "plain string"; thrown number 42',
    );
  });

  test("when an enclosing scope removes the Cancelled it owns, what is left is summarised, and the stack stays where the group was raised", async () => {
    const error = await rejection(
      runVirtual(async () => {
        const outer = new CancelScope();
        await outer.run(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                await sleepForever();
              },
              { name: "sleeper" },
            );
            nursery.startSoon(
              async () => {
                await sleep(1);
                outer.cancel();
                throw new TypeError("after cancel");
              },
              { name: "canceller" },
            );
          }),
        );
      }),
    );
    const group = error as ExceptionGroup;
    expect(group.leafErrors()).toEqual([expect.any(TypeError)]);
    expect(group.message).toBe(
      'errors raised in a nursery: 1 error: TypeError: after cancel (in task "canceller")',
    );
    const frames = group.stack!.split("\n").filter((line) => line.trimStart().startsWith("at "));
    expect(frames[0]).toContain(thisFile);
    expect(group.stack!.split("\n")[0]).toBe(`ExceptionGroup: ${group.message}`);
  });

  test("a group nested in a group: the summary counts the leaves of both", async () => {
    const error = await rejection(
      runVirtual(() =>
        openNursery(async (outer) => {
          outer.startSoon(
            () =>
              openNursery(async (inner) => {
                inner.startSoon(
                  async () => {
                    throw new TypeError("deep");
                  },
                  { name: "deep-task" },
                );
              }),
            { name: "middle" },
          );
        }),
      ),
    );
    const group = error as ExceptionGroup;
    expect(group.message).toBe(
      'errors raised in a nursery: 1 error: TypeError: deep (in task "deep-task")',
    );
    expect(group.errors[0]).toBeInstanceOf(ExceptionGroup);
    // The inner group was raised by the task that opened it.
    expect(taskNameOf(group.errors[0])).toBe("middle");
  });
});

describe("taskNameOf", () => {
  test("names the task whose body ended with the error; the body of a nursery is its parent task", async () => {
    const child = new Error("child");
    const body = new Error("body");
    const error = await rejection(
      runVirtual(async function main() {
        await openNursery(async (nursery) => {
          nursery.startSoon(
            async () => {
              throw child;
            },
            { name: "kid" },
          );
          await sleep(1).catch(() => {});
          throw body;
        });
      }),
    );
    expect((error as ExceptionGroup).errors).toEqual([child, body]);
    expect(taskNameOf(child)).toBe("kid");
    expect(taskNameOf(body)).toBe("main");
    expect(taskNameOf(new Error("never raised in a task"))).toBeUndefined();
    expect(taskNameOf(42)).toBeUndefined();
    expect(taskNameOf(null)).toBeUndefined();
  });

  test("the first task to raise an error keeps it when a parent re-raises it", async () => {
    const error = new Error("once");
    await rejection(
      runVirtual(() =>
        openNursery(async (outer) => {
          outer.startSoon(
            async () => {
              try {
                await openNursery(async (inner) => {
                  inner.startSoon(
                    async () => {
                      throw error;
                    },
                    { name: "first" },
                  );
                });
              } catch (group) {
                throw (group as ExceptionGroup).errors[0];
              }
            },
            { name: "second" },
          );
        }),
      ),
    );
    expect(taskNameOf(error)).toBe("first");
  });
});

describe("run()'s own errors are exported classes", () => {
  test("misuse is a UsageError: outside run(), a scope entered twice, a nested run", async () => {
    expect(await rejection(openNursery(async () => {}))).toBeInstanceOf(UsageError);
    expect(await rejection(sleep(1))).toBeInstanceOf(UsageError);
    const twice = await rejection(
      runVirtual(async () => {
        const scope = new CancelScope();
        await scope.run(async () => {});
        await scope.run(async () => {});
      }),
    );
    expect(twice).toBeInstanceOf(UsageError);
    expect((twice as Error).name).toBe("UsageError");
    const nested = await rejection(runVirtual(() => run(async () => {})));
    expect(nested).toBeInstanceOf(UsageError);
    expect(String(nested)).toMatch(/^UsageError: run\(\) was called inside a task/);
  });

  test("UsageError and InternalError are Errors with their own names", () => {
    expect(new UsageError("x")).toBeInstanceOf(Error);
    expect(new InternalError("x").name).toBe("InternalError");
    expect(String(new UsageError("what went wrong"))).toBe("UsageError: what went wrong");
  });
});

describe("debug mode: where each task was spawned", () => {
  async function nestedFailure(options: { debug?: boolean } = {}): Promise<Error> {
    const error = await rejection(
      runVirtual(async function main() {
        await openNursery(async (nursery) => {
          nursery.startSoon(async function fetcher() {
            await openNursery(async (inner) => {
              inner.startSoon(async function parse() {
                await sleep(1);
                throw new TypeError("bad json");
              });
            });
          });
        });
      }, options),
    );
    return (error as ExceptionGroup).leafErrors()[0] as Error;
  }

  test("an error's stack ends with the spawn trail up to run(), each site in the user's code", async () => {
    const stack = (await nestedFailure({ debug: true })).stack!;
    const trail = stack.slice(stack.indexOf("\n    task "));
    const headings = trail.split("\n").filter((line) => line.startsWith("    task "));
    expect(headings).toEqual([
      '    task "parse" was spawned by task "fetcher"',
      '    task "fetcher" was spawned by task "main"',
      '    task "main" was spawned by run()',
    ]);
    // Each heading is followed by the test's frames (weft's own frames are left out).
    const frames = trail.split("\n").filter((line) => line.trimStart().startsWith("at "));
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const frame of frames) expect(frame).not.toContain("/packages/core/src/");
    for (const heading of headings) {
      const next = trail.split("\n")[trail.split("\n").indexOf(heading) + 1]!;
      expect(next).toContain("/packages/core/test/");
    }
    expect(trail).toMatch(/spawned by task "fetcher"\n\s+at .*error-reports\.test\.ts:\d+:\d+/);
  });

  test("off by default: no trail, no cost", async () => {
    expect((await nestedFailure()).stack).not.toContain("was spawned by");
    expect((await nestedFailure({ debug: false })).stack).not.toContain("was spawned by");
  });

  test("WEFT_DEBUG=1 turns it on; WEFT_DEBUG=0 does not; the option wins over the variable", async () => {
    const saved = process.env.WEFT_DEBUG;
    try {
      process.env.WEFT_DEBUG = "1";
      expect((await nestedFailure()).stack).toContain('task "parse" was spawned by task "fetcher"');
      expect((await nestedFailure({ debug: false })).stack).not.toContain("was spawned by");
      process.env.WEFT_DEBUG = "0";
      expect((await nestedFailure()).stack).not.toContain("was spawned by");
    } finally {
      if (saved === undefined) delete process.env.WEFT_DEBUG;
      else process.env.WEFT_DEBUG = saved;
    }
  });

  test("the main task's own error gets the trail to the run() call; a bad option is a TypeError", async () => {
    const error = await rejection(
      run(
        async () => {
          throw new RangeError("main failed");
        },
        { debug: true, handleSignals: false },
      ),
    );
    expect((error as Error).stack).toMatch(
      /task "main" was spawned by run\(\)\n\s+at .*error-reports\.test\.ts/,
    );
    expect(taskNameOf(error)).toBe("main");
    await expect(run(async () => {}, { debug: "yes" as unknown as boolean })).rejects.toThrow(
      /^options\.debug must be a boolean/,
    );
  });
});

describe("odd thrown values never break the report of an error", () => {
  const withThrowingGetters = new Error("x");
  Object.defineProperty(withThrowingGetters, "message", {
    get() {
      throw new Error("message getter");
    },
  });
  class HttpError extends Error {
    constructor(body: unknown) {
      super();
      this.message = body as string; // some clients put the response body here
    }
  }
  const cases: [string, unknown, RegExp][] = [
    [
      "an Error whose message is an object",
      new HttpError({ status: 500 }),
      /^Error: \[object Object\]/,
    ],
    ["an Error whose message is a number", new HttpError(404), /^Error: 404/],
    ["a null-prototype object", Object.create(null), /^thrown object with no prototype/],
    ["an Error whose message getter throws", withThrowingGetters, /cannot be described/],
    ["a symbol", Symbol("s"), /^thrown symbol Symbol\(s\)/],
    ["a BigInt", 10n, /^thrown bigint 10/],
  ];
  for (const [what, thrown, described] of cases) {
    test(`${what}: the nursery raises its group, which describes it`, async () => {
      const error = await rejection(
        runVirtual(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                throw thrown;
              },
              { name: "odd" },
            );
            nursery.startSoon(
              async () => {
                throw new TypeError("plain");
              },
              { name: "plain" },
            );
          }),
        ),
      );
      expect(error).toBeInstanceOf(ExceptionGroup);
      const group = error as ExceptionGroup;
      expect(group.errors[0]).toBe(thrown);
      const first = group.message.slice("errors raised in a nursery: 2 errors: ".length);
      expect(first).toMatch(described);
      expect(group.message).toContain('TypeError: plain (in task "plain")');
    });
  }

  test("debug mode: an error whose stack getter throws keeps its report, with no trail", async () => {
    const strange = new Error("strange");
    Object.defineProperty(strange, "stack", {
      get() {
        throw new Error("stack getter");
      },
    });
    const error = await rejection(
      runVirtual(
        () =>
          openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              throw strange;
            });
          }),
        { debug: true },
      ),
    );
    expect((error as ExceptionGroup).errors).toEqual([strange]);
  });
});

describe("debug mode stays bounded", () => {
  test("a deep chain of spawns shows the eight nearest spawns, not the whole chain", async () => {
    const error = await rejection(
      runVirtual(
        async () => {
          async function level(n: number): Promise<void> {
            if (n === 20) throw new Error("deep");
            await openNursery(async (nursery) => {
              nursery.startSoon(() => level(n + 1), { name: `level ${n + 1}` });
            });
          }
          await level(0);
        },
        { debug: true },
      ),
    );
    const leaf = (error as ExceptionGroup).leafErrors()[0] as Error;
    const headings = leaf.stack!.split("\n").filter((line) => line.includes("was spawned by"));
    expect(headings).toHaveLength(8);
    expect(headings[0]).toBe('    task "level 20" was spawned by task "level 19"');
    expect(headings[7]).toBe('    task "level 13" was spawned by task "level 12"');
  });
});

describe("attribution across runs and names", () => {
  test("an error object raised again in another run is that run's task's", async () => {
    const shared = new Error("upstream timeout");
    for (const name of ["alpha", "beta"]) {
      const error = await rejection(
        runVirtual(() =>
          openNursery(async (nursery) => {
            nursery.startSoon(
              async () => {
                throw shared;
              },
              { name },
            );
          }),
        ),
      );
      expect(taskNameOf(shared)).toBe(name);
      expect((error as Error).message).toContain(`(in task "${name}")`);
    }
  });

  test("CancelScope keeps its public name in logs and inspect output", () => {
    expect(CancelScope.name).toBe("CancelScope");
    expect(new CancelScope().constructor.name).toBe("CancelScope");
    expect(inspect(new CancelScope())).toMatch(/^CancelScope /);
  });

  test("names the task a Cancelled came from, without showing it on the error", async () => {
    let caught: unknown;
    await runVirtual(async () => {
      await moveOnAfter(5, async () => {
        try {
          await openNursery(async (nursery) => {
            nursery.startSoon(() => sleepForever(), { name: "sleeper" });
          });
        } catch (error) {
          caught = error;
          throw error;
        }
      });
    });
    const cancelled = (caught instanceof ExceptionGroup ? caught.errors[0] : caught) as Cancelled;
    expect(isCancelled(cancelled)).toBe(true);
    expect(taskNameOf(cancelled)).toBe("sleeper");
    // The record is not an own property: the error prints and serialises as before.
    expect(Object.keys(cancelled).sort()).toEqual(["source"]);
    expect(Object.getOwnPropertySymbols(cancelled)).toEqual([]);
    expect(inspect(cancelled)).not.toContain("sleeper");
    expect(JSON.stringify(cancelled)).toBe('{"source":"deadline"}');
  });
});
