import {
  checkpoint,
  Event,
  type Instrument,
  openNursery,
  type RunOptions,
  run,
  sleep,
} from "@weft/core";
import { DeterministicScheduler, MockClock } from "@weft/testing";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { runVirtual, withinRealTime } from "../support/helpers.ts";
import { propertyParameters } from "../support/property-parameters.ts";

// SEMANTICS.md, "Run loop": steps are atomic. A task's step runs from being
// resumed until it blocks in the runtime, finishes, or waits on a foreign
// promise still pending when the microtask queue drains; no other task's code
// runs inside it, even across plain awaits — under the default scheduler and
// the deterministic one alike.

/** Awaits that stay inside a step: each settles within the microtask queue. */
const PLAIN_AWAITS = {
  resolved: () => Promise.resolve(),
  // biome-ignore lint/suspicious/noThenProperty: a foreign thenable is the point
  thenable: () => ({ then: (resolve: () => void) => resolve() }) as PromiseLike<void>,
  asyncChain: async () => {
    await null;
    await Promise.resolve();
  },
  microtask: () => new Promise<void>((resolve) => queueMicrotask(resolve)),
} as const;
type PlainAwait = keyof typeof PLAIN_AWAITS;
const plainAwait = fc.constantFrom(...(Object.keys(PLAIN_AWAITS) as PlainAwait[]));

/**
 * A counter updated read–await–write, the lost-update pattern: `increment`
 * reads, awaits a resolved promise, then writes, tracing both. Atomic steps
 * keep every read next to its write.
 */
function racyCounter(): {
  readonly trace: string[];
  value: () => number;
  increment: (name: string) => Promise<void>;
} {
  const trace: string[] = [];
  let counter = 0;
  return {
    trace,
    value: () => counter,
    increment: async (name) => {
      const seen = counter;
      trace.push(`${name}:read`);
      await Promise.resolve();
      trace.push(`${name}:write`);
      counter = seen + 1;
    },
  };
}

const schedulers: [string, () => RunOptions][] = [
  ["the default FIFO scheduler", () => ({})],
  ["a DeterministicScheduler", () => ({ scheduler: new DeterministicScheduler({ seed: 7 }) })],
];

describe("steps are atomic", () => {
  for (const [schedulerName, options] of schedulers) {
    test(`under ${schedulerName}, read-await-write increments are never lost`, async () => {
      let counter = 0;
      await runVirtual(
        () =>
          openNursery(async (nursery) => {
            for (let t = 0; t < 4; t++) {
              nursery.startSoon(async () => {
                for (let i = 0; i < 100; i++) {
                  const seen = counter;
                  await Promise.resolve();
                  counter = seen + 1;
                  await checkpoint();
                }
              });
            }
          }),
        options(),
      );
      expect(counter).toBe(400);
    });
  }

  test("instruments see one step at a time: every beforeTaskStep is closed by its afterTaskStep", async () => {
    const events: string[] = [];
    const instrument: Instrument = {
      beforeTaskStep: (task) => events.push(`+${task.name}`),
      afterTaskStep: (task) => events.push(`-${task.name}`),
    };
    await runVirtual(
      () =>
        openNursery(async (nursery) => {
          for (const name of ["a", "b", "c"]) {
            nursery.startSoon(
              async () => {
                await Promise.resolve();
                await checkpoint();
                await Promise.resolve();
              },
              { name },
            );
          }
        }),
      { instruments: [instrument] },
    );
    for (let i = 0; i < events.length; i += 2) {
      expect(events[i]!.startsWith("+")).toBe(true);
      expect(events[i + 1]).toBe(`-${events[i]!.slice(1)}`);
    }
  });

  test("tasks woken from a process.nextTick callback take their steps one at a time", async () => {
    // The waker is a nextTick queued by the first step of a fresh batch, so it
    // runs before the kernel's drain check: the check must not mistake the
    // step it starts for one awaiting a foreign promise.
    const { trace, value, increment } = racyCounter();
    await withinRealTime(
      runVirtual(() =>
        openNursery(async (nursery) => {
          const go = new Event();
          for (const name of ["b", "c"]) {
            nursery.startSoon(
              async () => {
                await go.wait();
                await increment(name);
              },
              { name },
            );
          }
          nursery.startSoon(async () => {
            await sleep(1); // b and c are parked; this step starts a fresh batch
            process.nextTick(() => go.set());
          });
        }),
      ),
    );
    expect(trace).toEqual(["b:read", "b:write", "c:read", "c:write"]);
    expect(value()).toBe(2);
  });

  // A task's code after a foreign await is not inside any step, but it must
  // not run inside another task's step either: the other step would no longer
  // be atomic.
  test("a task that wakes others after a foreign await finishes its microtasks before they step", async () => {
    const { trace, increment } = racyCounter();
    await withinRealTime(
      runVirtual(() =>
        openNursery(async (nursery) => {
          const go = new Event();
          nursery.startSoon(async () => {
            await go.wait();
            await increment("b");
          });
          nursery.startSoon(async () => {
            await new Promise((resolve) => setImmediate(resolve)); // foreign
            go.set();
            await increment("a");
          });
        }),
      ),
    );
    expect(trace).toEqual(["a:read", "a:write", "b:read", "b:write"]);
  });

  test("a task whose foreign promise is settled by process.nextTick does not run inside another task's step", async () => {
    const { trace, value, increment } = racyCounter();
    await withinRealTime(
      runVirtual(() =>
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            await new Promise<void>((resolve) => process.nextTick(resolve));
            await increment("a");
          });
          nursery.startSoon(() => increment("b"));
        }),
      ),
    );
    expect(value()).toBe(2);
    for (let i = 0; i < trace.length; i += 2) {
      expect(trace[i + 1]).toBe(trace[i]!.replace("read", "write"));
    }
  });

  test("a step that awaits a promise only the host can settle ends there, and the batch goes on", async () => {
    const log: string[] = [];
    await run(
      () =>
        openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            log.push("a: before the foreign await");
            await new Promise((resolve) => setTimeout(resolve, 20));
            log.push("a: after");
          });
          nursery.startSoon(async () => {
            log.push("b: step 1");
            await checkpoint();
            log.push("b: step 2");
          });
        }),
      { handleSignals: false },
    );
    expect(log).toEqual(["a: before the foreign await", "b: step 1", "b: step 2", "a: after"]);
  });

  test("a task that went foreign rejoins the kernel at its next operation", async () => {
    const times: number[] = [];
    await run(
      async () => {
        await new Promise((resolve) => setImmediate(resolve));
        await sleep(1_000); // virtual: the clock autojumps once main blocks again
        times.push(performance.now());
      },
      { clock: new MockClock({ autojumpThreshold: 0 }), handleSignals: false },
    );
    expect(times).toHaveLength(1);
  });

  const { numRuns, parameters, timeout } = propertyParameters(60);
  const scenario = fc.record({
    // Per task, per increment: the plain awaits between its read and its write.
    tasks: fc.array(
      fc.array(fc.array(plainAwait, { maxLength: 3 }), { minLength: 1, maxLength: 5 }),
      { minLength: 2, maxLength: 5 },
    ),
    between: fc.constantFrom("checkpoint", "sleep0", "sleep1"),
  });
  for (const [schedulerName, options] of schedulers) {
    test(
      `under ${schedulerName}, no task's code runs between another's read and write (property)`,
      timeout,
      async () => {
        await fc.assert(
          fc.asyncProperty(scenario, async ({ tasks, between }) => {
            const trace: string[] = [];
            let counter = 0;
            await runVirtual(
              () =>
                openNursery(async (nursery) => {
                  tasks.forEach((increments, t) => {
                    nursery.startSoon(async () => {
                      for (const awaits of increments) {
                        const seen = counter;
                        trace.push(`${t}:read`);
                        for (const kind of awaits) await PLAIN_AWAITS[kind]();
                        trace.push(`${t}:write`);
                        counter = seen + 1;
                        if (between === "checkpoint") await checkpoint();
                        else await sleep(between === "sleep0" ? 0 : 1);
                      }
                    });
                  });
                }),
              options(),
            );
            expect(counter).toBe(tasks.reduce((sum, increments) => sum + increments.length, 0));
            for (let i = 0; i < trace.length; i += 2) {
              const task = trace[i]!.split(":")[0];
              expect(trace[i + 1]).toBe(`${task}:write`);
            }
          }),
          { numRuns, ...parameters },
        );
      },
    );
  }
});
