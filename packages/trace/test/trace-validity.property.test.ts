/**
 * Whatever a program does, and wherever the ring buffer cut the recording,
 * the trace file is valid: every event has its phase's fields, slices nest
 * per task, every flow has both ends. Random task trees (the core's property
 * tests' generator: nurseries, start(), scopes with deadlines, shields,
 * cancellations, errors, foreign awaits) run with a recorder of a random
 * capacity.
 */
import { checkpoint, openNursery, run, sleep } from "@weft/core";
import { MockClock } from "@weft/testing";
import { TraceRecorder } from "@weft/trace";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { propertyParameters } from "../../core/test/support/property-parameters.ts";
import {
  describeError,
  normalize,
  rawTreeArbitrary,
  runTree,
  showTree,
} from "../../core/test/support/task-tree.ts";
import { checkTraceFile } from "./support/trace-validator.ts";

const { numRuns: NUM_RUNS, parameters: PARAMETERS, timeout: TIMEOUT } = propertyParameters(300);

/** A long run: `tasks` tasks each sleeping and checkpointing `rounds` times. */
async function longRun(tasks: number, rounds: number): Promise<void> {
  await openNursery(async (nursery) => {
    for (let t = 0; t < tasks; t++) {
      nursery.startSoon(
        async () => {
          for (let r = 0; r < rounds; r++) {
            await sleep(1 + (t % 3));
            await checkpoint();
          }
        },
        { name: `worker ${t}` },
      );
    }
  });
}

/** A small valid file to break in the checks' own tests. */
function sample(): {
  traceEvents: Record<string, unknown>[];
  displayTimeUnit: "ms";
  otherData: unknown;
} {
  return {
    traceEvents: [
      { ph: "M", name: "process_name", pid: 1, args: { name: "nursery #1" } },
      { ph: "M", name: "thread_name", pid: 1, tid: 2, args: { name: "a #2" } },
      { ph: "X", cat: "step", name: "running", pid: 1, tid: 2, ts: 0, dur: 10 },
      { ph: "X", cat: "wait", name: "sleep", pid: 1, tid: 2, ts: 10, dur: 5 },
      { ph: "s", cat: "wake", name: "wake", id: 1, pid: 1, tid: 2, ts: 5 },
      { ph: "f", cat: "wake", name: "wake", id: 1, bp: "e", pid: 1, tid: 2, ts: 15 },
      { ph: "i", s: "t", cat: "cancel", name: "cancelled", pid: 1, tid: 2, ts: 3, args: {} },
    ],
    displayTimeUnit: "ms",
    otherData: { weft: { version: 1, dropped: 0 } },
  };
}

describe("the checks the tests use", () => {
  test("they accept a valid file and refuse each kind of broken one", () => {
    expect(() => checkTraceFile(sample())).not.toThrow();
    const broken = (change: (file: ReturnType<typeof sample>) => void): unknown => {
      const file = sample();
      change(file);
      return file;
    };
    const cases: [string, unknown][] = [
      ["a slice without dur", broken((f) => delete f.traceEvents[2]!.dur)],
      ["a negative dur", broken((f) => (f.traceEvents[2]!.dur = -1))],
      ["an instant without s", broken((f) => delete f.traceEvents[6]!.s)],
      ["a flow end without bp", broken((f) => delete f.traceEvents[5]!.bp)],
      ["a flow without its end", broken((f) => f.traceEvents.splice(5, 1))],
      ["a flow ending before it starts", broken((f) => (f.traceEvents[5]!.ts = 1))],
      ["overlapping slices", broken((f) => (f.traceEvents[3]!.ts = 8))],
      ["args that are not an object", broken((f) => (f.traceEvents[6]!.args = [1]))],
      ["an unnamed thread", broken((f) => f.traceEvents.splice(1, 1))],
      ["an unknown phase", broken((f) => (f.traceEvents[6]!.ph = "Q"))],
      ["no version", broken((f) => (f.otherData = {}))],
    ];
    for (const [what, file] of cases) expect(() => checkTraceFile(file), what).toThrow();
  });
});

describe("trace file validity", () => {
  test("a ring of 50 events on a long run drops the oldest, counts them, and still writes a valid file", async () => {
    const recorder = new TraceRecorder({ capacity: 50 });
    await run(() => longRun(10, 20), {
      clock: new MockClock({ autojumpThreshold: 0 }),
      instruments: [recorder],
    });
    const file = checkTraceFile(JSON.stringify(recorder.toTraceFile()));
    expect(recorder.dropped).toBeGreaterThan(500);
    expect(file.otherData.weft.dropped).toBe(recorder.dropped);
    expect(recorder.recorded - recorder.dropped).toBeGreaterThan(10);
    expect(recorder.recorded - recorder.dropped).toBeLessThanOrEqual(50);
    expect(file.traceEvents.some((event) => event.ph === "X")).toBe(true);
  });

  test("what the recorder remembers of ended tasks stays bounded as the ring drops events", async () => {
    const recorder = new TraceRecorder({ capacity: 20 });
    await run(
      async () => {
        for (let round = 0; round < 200; round++) await longRun(5, 1);
      },
      { clock: new MockClock({ autojumpThreshold: 0 }), instruments: [recorder] },
    );
    const file = checkTraceFile(recorder.toTraceFile());
    // Only the tracks of the last few tasks are named, not all thousand.
    const threads = file.traceEvents.filter((event) => event.name === "thread_name");
    expect(threads.length).toBeLessThan(20);
  });

  test(
    "random task trees with a random capacity: the file always validates, nests and pairs its flows",
    TIMEOUT,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          rawTreeArbitrary({ foreign: true }),
          fc.option(fc.nat(), { freq: 2 }),
          fc.oneof(fc.integer({ min: 1, max: 120 }), fc.constant(100_000)),
          async (raw, schedulerSeed, capacity) => {
            const tree = normalize(raw);
            const recorder = new TraceRecorder({ capacity });
            const report = await runTree(tree, { schedulerSeed, instruments: [recorder] });
            try {
              const file = checkTraceFile(JSON.stringify(recorder.toTraceFile()));
              // At most `capacity` kept; all kept while fewer than capacity / 3 were recorded.
              expect(file.otherData.weft.dropped).toBe(recorder.dropped);
              expect(recorder.dropped).toBeGreaterThanOrEqual(recorder.recorded - capacity);
              if (recorder.recorded * 5 <= capacity * 3) expect(recorder.dropped).toBe(0);
              if (file.otherData.weft.dropped === 0) {
                // Nothing dropped: every task of the run has its track.
                const threads = file.traceEvents.filter((event) => event.name === "thread_name");
                expect(threads.length).toBeGreaterThanOrEqual(report.tasks.size);
              }
            } catch (error) {
              throw new Error(
                `${error instanceof Error ? error.message : String(error)}\n` +
                  `tree:\n${showTree(tree)}\ncapacity ${capacity}, scheduler seed: ${schedulerSeed}\n` +
                  `outcome: ${report.settled} ${describeError(report.rejection)}`,
                { cause: error },
              );
            }
          },
        ),
        { numRuns: NUM_RUNS, ...PARAMETERS },
      );
    },
  );
});
