/**
 * MockClock and waitAllTasksBlocked: the @weft/testing rules of SEMANTICS.md
 * about virtual time, plus deadlock reports and task dumps on a virtual clock.
 * Behaviour ported from Trio's src/trio/_core/_tests/test_mock_clock.py.
 */
import {
  currentTime,
  DeadlockError,
  Event,
  Lock,
  lowlevel,
  openMemoryChannel,
  openNursery,
  run,
  sleep,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { MockClock, waitAllTasksBlocked } from "../src/index.ts";

const autojump = () => new MockClock({ autojumpThreshold: 0 });

describe("MockClock", () => {
  test("starts at 0 with rate 0 and autojump off by default", async () => {
    const clock = new MockClock();
    expect(clock.currentTime()).toBe(0);
    expect(clock.rate).toBe(0);
    expect(clock.autojumpThreshold).toBe(Infinity);
    await run(
      async () => {
        expect(currentTime()).toBe(0);
        // rate 0: real time passing does not move virtual time
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(currentTime()).toBe(0);
      },
      { clock },
    );
  });

  test("time moves by jump(ms)", () => {
    const clock = new MockClock();
    clock.jump(5);
    expect(clock.currentTime()).toBe(5);
    clock.jump(0);
    expect(clock.currentTime()).toBe(5);
    expect(clock.deadlineToSleepTime(4)).toBe(0);
    // rate 0: a future deadline is never reached by waiting
    expect(clock.deadlineToSleepTime(10)).toBe(Infinity);
  });

  test("jump(-1) and rate < 0 → RangeError", () => {
    const clock = new MockClock();
    expect(() => clock.jump(-1)).toThrow(RangeError);
    expect(() => {
      clock.rate = -1;
    }).toThrow(RangeError);
    expect(() => new MockClock({ rate: -1 })).toThrow(RangeError);
    expect(() => new MockClock({ autojumpThreshold: -1 })).toThrow(RangeError);
    expect(clock.currentTime()).toBe(0);
    expect(clock.rate).toBe(0);
  });

  test("a positive rate moves virtual time with real time", () => {
    const clock = new MockClock({ rate: 2 });
    clock.startClock();
    expect(clock.deadlineToSleepTime(clock.currentTime() + 10)).toBeCloseTo(5, 0);
    const start = clock.currentTime();
    const realStart = performance.now();
    while (performance.now() - realStart < 2) {
      // spin for 2 real ms
    }
    expect(clock.currentTime()).toBeGreaterThan(start);
  });

  test("with autojumpThreshold 0, the clock jumps to the next deadline as soon as every task is blocked", async () => {
    const times: number[] = [];
    await run(
      async () => {
        await sleep(1000);
        times.push(currentTime());
        await sleep(0.5);
        times.push(currentTime());
      },
      { clock: autojump() },
    );
    expect(times).toEqual([1000, 1000.5]);
  });

  test("the clock jumps to the earliest deadline, not further", async () => {
    const log: string[] = [];
    await run(
      () =>
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            await sleep(300);
            log.push(`b@${currentTime()}`);
          });
          nursery.startSoon(async () => {
            await sleep(100);
            log.push(`a@${currentTime()}`);
          });
        }),
      { clock: autojump() },
    );
    expect(log).toEqual(["a@100", "b@300"]);
  });

  test("tasks in waitAllTasksBlocked are served before any jump", async () => {
    await run(
      () =>
        openNursery(async (nursery) => {
          nursery.startSoon(() => sleep(1000));
          await waitAllTasksBlocked();
          expect(currentTime()).toBe(0);
          await waitAllTasksBlocked(5);
          expect(currentTime()).toBe(0);
        }),
      { clock: autojump() },
    );
  });

  test("an hour of virtual time takes milliseconds of real time", async () => {
    const realStart = performance.now();
    const virtual = await run(
      async () => {
        await sleep(3_600_000);
        return currentTime();
      },
      { clock: autojump() },
    );
    const realMs = performance.now() - realStart;
    console.log(`1 hour of virtual sleep took ${realMs.toFixed(2)} ms of real time`);
    expect(virtual).toBe(3_600_000);
    expect(realMs).toBeLessThan(1000);
  });
});

describe("waitAllTasksBlocked", () => {
  test("returns once every other task is blocked", async () => {
    const progress: number[] = [];
    await run(async () => {
      const release = new Event();
      await openNursery(async (nursery) => {
        for (let i = 0; i < 3; i++) {
          nursery.startSoon(async () => {
            for (let step = 0; step < 5; step++) await sleep(0);
            progress.push(i);
            await release.wait();
          });
        }
        await waitAllTasksBlocked();
        expect(progress.sort()).toEqual([0, 1, 2]);
        expect(release.statistics().tasksWaiting).toBe(3);
        release.set();
      });
    });
  });

  test("among several waiters the smallest cushion wakes first", async () => {
    const woken: number[] = [];
    await run(() =>
      openNursery(async (nursery) => {
        for (const cushion of [20, 5, 10, 0]) {
          nursery.startSoon(async () => {
            await waitAllTasksBlocked(cushion);
            woken.push(cushion);
          });
        }
      }),
    );
    expect(woken).toEqual([0, 5, 10, 20]);
  });

  test("an infinite cushion never wakes, and the clock still jumps to a pending deadline", async () => {
    const woken: string[] = [];
    await run(
      () =>
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            await lowlevel.waitAllTasksBlocked(Infinity);
            woken.push("waiter");
          });
          await sleep(1_000);
          woken.push(`sleeper at ${currentTime()}`);
          nursery.cancelScope.cancel();
        }),
      { clock: autojump() },
    );
    expect(woken).toEqual(["sleeper at 1000"]);
  });

  test("a negative cushion is refused", async () => {
    await run(async () => {
      await expect(waitAllTasksBlocked(-1)).rejects.toThrow(RangeError);
    });
  });
});

describe("deadlock reports and task dumps on a virtual clock", () => {
  test("a run that can make no progress rejects with DeadlockError naming each task and what it waits on", async () => {
    const event = new Event();
    const lock = new Lock();
    const [, receive] = openMemoryChannel<number>(0);
    const error = await run(
      () =>
        openNursery(async (nursery) => {
          nursery.startSoon(() => event.wait(), { name: "event waiter" });
          nursery.startSoon(
            async () => {
              await lock.acquire();
              await event.wait();
            },
            { name: "lock holder" },
          );
          nursery.startSoon(
            async () => {
              await sleep(0);
              await lock.acquire();
            },
            { name: "lock waiter" },
          );
          nursery.startSoon(() => receive.receive(), { name: "receiver" });
        }),
      { clock: autojump() },
    ).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeadlockError);
    const message = (error as Error).message;
    expect(message).toContain('task "event waiter": blocked in Event.wait');
    expect(message).toContain('task "lock holder": blocked in Event.wait');
    expect(message).toContain(
      'task "lock waiter": blocked in Lock.acquire (held by <task "lock holder">)',
    );
    expect(message).toContain('task "receiver": blocked in MemoryReceiveChannel.receive');
  });

  test("lowlevel.dumpTasks() describes the task tree on demand", async () => {
    let dump = "";
    await run(
      () =>
        openNursery(async (nursery) => {
          const event = new Event();
          nursery.startSoon(() => event.wait(), { name: "sleeper on event" });
          nursery.startSoon(() => sleep(50), { name: "napper" });
          await waitAllTasksBlocked();
          dump = lowlevel.dumpTasks();
          event.set();
        }),
      { clock: autojump() },
    );
    expect(dump).toContain('task "sleeper on event": blocked in Event.wait');
    expect(dump).toContain('task "napper": blocked in sleep');
    expect(dump).toMatch(/running/);
    // children are indented below their parent
    expect(dump).toMatch(/\n\s+- task "napper"/);
  });
});
