/**
 * The instrument hooks tracers build on: blocks (with what the task waits
 * for), wake-ups (with the waker), nurseries, cancel scopes and their
 * cancellations (with the reason), and the async context a task runs in.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  CancelScope,
  Event,
  type Instrument,
  lowlevel,
  moveOnAfter,
  openNursery,
  run,
  sleep,
  type Task,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";

/** An instrument that logs every new hook as a line. */
function recorder(): { instrument: Instrument; log: string[] } {
  const log: string[] = [];
  const name = (task: Task | null) => (task === null ? "outside" : task.name);
  const instrument: Instrument = {
    taskBlocked: (task, waitingFor) => log.push(`blocked ${task.name}: ${waitingFor}`),
    taskWoken: (task, waker) => log.push(`woken ${task.name} by ${name(waker)}`),
    nurseryOpened: (nursery) => log.push(`nursery opened in ${nursery.parentTask.name}`),
    nurseryClosed: (nursery) => log.push(`nursery closed in ${nursery.parentTask.name}`),
    cancelScopeEntered: (scope, task) =>
      log.push(`entered scope (deadline ${scope.deadline}) in ${task.name}`),
    cancelScopeExited: (_scope, task) => log.push(`exited scope in ${task.name}`),
    cancelScopeCancelled: (_scope, reason) =>
      log.push(`scope cancelled: ${reason.source}${reason.reason ? ` (${reason.reason})` : ""}`),
  };
  return { instrument, log };
}

const virtual = (instruments: Instrument[]) => ({
  clock: new MockClock({ autojumpThreshold: 0 }),
  instruments,
});

describe("instrument hooks", () => {
  test("a block says what the task waits for; a wake-up names the task that woke it, or none", async () => {
    const { instrument, log } = recorder();
    await run(
      async () => {
        const ready = new Event();
        await openNursery(async (nursery) => {
          nursery.startSoon(() => ready.wait(), { name: "waiter" });
          nursery.startSoon(
            async () => {
              await sleep(5);
              ready.set();
            },
            { name: "setter" },
          );
        });
      },
      virtual([instrument]),
    );
    expect(log).toContain("blocked waiter: Event.wait");
    expect(log).toContain("blocked setter: sleep");
    expect(log).toContain("woken setter by outside"); // its deadline
    expect(log).toContain("woken waiter by setter");
  });

  test("nurseries and cancel scopes open and close around their tasks; a cancellation carries its source and reason", async () => {
    const { instrument, log } = recorder();
    await run(
      async () => {
        await moveOnAfter(10, () => sleep(100));
        await new CancelScope().run(async (scope) => {
          scope.cancel("enough");
          await sleep(1);
        });
        await openNursery(async () => {});
      },
      virtual([instrument]),
    );
    const lines = log.filter((line) => !line.startsWith("blocked") && !line.startsWith("woken"));
    // A nursery enters its own scope, then opens; the run's system nursery is <init>'s.
    expect(lines).toEqual([
      "entered scope (deadline Infinity) in <init>",
      "nursery opened in <init>",
      "entered scope (deadline 10) in main",
      "scope cancelled: deadline",
      "exited scope in main",
      "entered scope (deadline Infinity) in main",
      "scope cancelled: explicit (enough)",
      "exited scope in main",
      "entered scope (deadline Infinity) in main",
      "nursery opened in main",
      "nursery closed in main",
      "exited scope in main",
      "scope cancelled: shutdown",
      "nursery closed in <init>",
      "exited scope in <init>",
    ]);
  });

  test("taskContext wraps the capture of a child's async context: the child runs in what the instrument set", async () => {
    const storage = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const instrument: Instrument = {
      taskContext: (task, capture) => storage.run(`span of ${task.name}`, capture),
    };
    await run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(
            async () => {
              seen.push(storage.getStore());
              await sleep(1);
              seen.push(storage.getStore()); // every step, not only the first
            },
            { name: "child" },
          );
        });
      },
      { instruments: [instrument] },
    );
    expect(seen).toEqual(["span of child", "span of child"]);
  });

  test("a taskContext hook that forgets capture() or throws still starts the task, and a thrower is removed", async () => {
    const ran: string[] = [];
    const forgetful: Instrument = { taskContext: () => {} };
    const thrower: Instrument = {
      taskContext: () => {
        throw new Error("broken instrument");
      },
    };
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      await run(
        async () => {
          await openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              ran.push("child");
            });
          });
        },
        { instruments: [forgetful, thrower] },
      );
    } finally {
      console.error = original;
    }
    expect(ran).toEqual(["child"]);
    expect(errors).toHaveLength(1);
  });

  test("with several taskContext instruments, each wraps each task's capture exactly once, nested in order", async () => {
    const calls = [0, 0, 0];
    const storages = [0, 1, 2].map(() => new AsyncLocalStorage<string>());
    const layers = [0, 1, 2].map(
      (i): Instrument => ({
        taskContext: (task, capture) => {
          calls[i]!++;
          storages[i]!.run(task.name, capture);
        },
      }),
    );
    const seen: (string | undefined)[][] = [];
    await run(
      async () => {
        await openNursery(async (nursery) => {
          for (let i = 0; i < 4; i++) {
            nursery.startSoon(async () => void seen.push(storages.map((st) => st.getStore())), {
              name: `child ${i}`,
            });
          }
        });
      },
      { instruments: layers },
    );
    // Every task (root, main, four children) once per instrument.
    expect(calls).toEqual([6, 6, 6]);
    expect(seen).toEqual([0, 1, 2, 3].map((i) => Array(3).fill(`child ${i}`)));
  });

  test("a wait whose description throws does not break the park or a dump, with an instrument installed", async () => {
    const lot = new lowlevel.ParkingLot(() => {
      throw new Error("describe bug");
    });
    const blocked: string[] = [];
    const result = await run(
      async () => {
        await moveOnAfter(20, () => lot.park());
        const dump = lowlevel.dumpTasks();
        await sleep(1);
        return dump;
      },
      {
        clock: new MockClock({ autojumpThreshold: 0 }),
        instruments: [{ taskBlocked: (_task, waitingFor) => blocked.push(waitingFor) }],
      },
    );
    expect(blocked).toContain("(its description threw: describe bug)");
    expect(result).toContain('task "main": running');
  });
});
