import {
  CancelScope,
  CapacityLimiter,
  Condition,
  cancellable,
  checkpoint,
  checkpointIfCancelled,
  Event,
  isCancelled,
  Lock,
  lowlevel,
  openMemoryChannel,
  openNursery,
  openSignalReceiver,
  run,
  Semaphore,
  sleep,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { runVirtual } from "../support/helpers.ts";
import { siblingStepsDuringSwallowingLoop } from "../support/swallowing-loop.ts";

// SEMANTICS.md, "Run loop": every operation that raises Cancelled is a
// schedule point first, so a loop that swallows Cancelled cannot starve other
// tasks, timers or signals.

/** Operations to call in a cancelled scope; each may take something it must give back. */
const operations: [string, () => () => Promise<unknown>][] = [
  ["checkpoint()", () => () => checkpoint()],
  ["checkpointIfCancelled()", () => () => checkpointIfCancelled()],
  ["sleep(10)", () => () => sleep(10)],
  [
    "MemoryReceiveChannel.receive()",
    () => {
      const [, receive] = openMemoryChannel<number>(1);
      return () => receive.receive();
    },
  ],
  [
    "MemorySendChannel.send() (room in the buffer)",
    () => {
      const [send, receive] = openMemoryChannel<number>(Infinity);
      void receive;
      return () => send.send(1);
    },
  ],
  [
    "Lock.acquire() (free)",
    () => {
      const lock = new Lock();
      return () => lock.acquire();
    },
  ],
  [
    "Semaphore.acquire() (value 1)",
    () => {
      const semaphore = new Semaphore(1);
      return () => semaphore.acquire();
    },
  ],
  [
    "CapacityLimiter.acquire() (a token free)",
    () => {
      const limiter = new CapacityLimiter(1);
      return () => limiter.acquire();
    },
  ],
  [
    "Event.wait() (set)",
    () => {
      const event = new Event();
      event.set();
      return () => event.wait();
    },
  ],
  [
    "Condition.wait()",
    () => {
      const condition = new Condition();
      return async () => {
        await condition.acquire();
        try {
          await condition.wait();
        } finally {
          condition.release();
        }
      };
    },
  ],
  [
    "ParkingLot.park()",
    () => {
      const lot = new lowlevel.ParkingLot();
      return () => lot.park();
    },
  ],
  ["cancellable(promise)", () => () => cancellable(new Promise(() => {}))],
];

describe("the cancel path is a schedule point", () => {
  for (const [name, make] of operations) {
    test(`${name}: a loop swallowing its Cancelled lets a sibling run every time`, async () => {
      const ITERATIONS = 50;
      const siblingSteps = await runVirtual(() =>
        siblingStepsDuringSwallowingLoop(make(), ITERATIONS),
      );
      expect(siblingSteps).toBeGreaterThanOrEqual(ITERATIONS - 1);
    });
  }

  test("a loop swallowing Cancelled from receive() lets host timers fire (and so signals be delivered)", async () => {
    const CAP = 100_000;
    let iterations = 0;
    let timerFired = false;
    await run(
      async () => {
        const [, receive] = openMemoryChannel<number>(0);
        setTimeout(() => {
          timerFired = true;
        }, 0);
        await new CancelScope().run(async (scope) => {
          scope.cancel();
          while (!timerFired && iterations < CAP) {
            iterations++;
            try {
              await receive.receive();
            } catch (error) {
              if (!isCancelled(error)) throw error;
            }
          }
        });
      },
      { handleSignals: false },
    );
    expect(timerFired).toBe(true);
    expect(iterations).toBeLessThan(CAP);
  });

  test("SignalReceiver.receive() in a cancelled scope yields before it throws", async () => {
    let siblingSteps = 0;
    let stepsSeen = -1;
    await run(
      () =>
        openNursery(async (nursery) => {
          const done = new Event();
          nursery.startSoon(async () => {
            while (!done.isSet()) {
              siblingSteps++;
              await checkpoint();
            }
          });
          using receiver = openSignalReceiver("SIGWINCH");
          await new CancelScope().run(async (scope) => {
            scope.cancel();
            for (let i = 0; i < 20; i++) {
              try {
                await receiver.receive();
              } catch (error) {
                if (!isCancelled(error)) throw error;
              }
            }
          });
          stepsSeen = siblingSteps;
          done.set();
        }),
      { handleSignals: false },
    );
    expect(stepsSeen).toBeGreaterThanOrEqual(19);
  });
});
