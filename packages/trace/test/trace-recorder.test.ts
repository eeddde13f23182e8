/**
 * The trace recorder on real weft programs: the file it writes is a valid
 * Chrome trace whose slices nest and whose flows have both ends, and it says
 * what happened — which tasks ran, what they waited for, who spawned and who
 * woke whom, which scope was cancelled and why.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CancelScope,
  checkpoint,
  Event,
  type Instrument,
  lowlevel,
  moveOnAfter,
  openMemoryChannel,
  openNursery,
  run,
  sleep,
  sleepForever,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import { type TraceEvent, type TraceFile, TraceRecorder } from "@weft/trace";
import { describe, expect, test } from "vitest";
import { checkFlows, checkTraceFile, slicesByThread } from "./support/trace-validator.ts";

const virtual = (instruments: Instrument[]) => ({
  clock: new MockClock({ autojumpThreshold: 0 }),
  instruments,
});

/** The tid of the task named `name` (its thread is "name #id"). */
function tidOf(file: TraceFile, name: string): number {
  const matches = file.traceEvents.filter(
    (event) =>
      event.ph === "M" &&
      event.name === "thread_name" &&
      String(event.args?.name).replace(/ #\d+$/, "") === name,
  );
  expect(matches, `one thread named ${name}`).toHaveLength(1);
  return matches[0]!.tid!;
}

function eventsOf(file: TraceFile, tid: number, ph: TraceEvent["ph"], cat?: string): TraceEvent[] {
  return file.traceEvents.filter(
    (event) => event.tid === tid && event.ph === ph && (cat === undefined || event.cat === cat),
  );
}

/** The program of the content tests: every kind of event the recorder writes. */
async function program(): Promise<void> {
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
    nursery.startSoon(() => moveOnAfter(3, () => sleep(100)), { name: "timeout" });
    nursery.startSoon(
      () =>
        new CancelScope().run(async (scope) => {
          scope.cancel("enough");
          await sleep(1);
        }),
      { name: "explicit" },
    );
    nursery.startSoon(
      async () => {
        await openNursery(async (inner) => {
          inner.startSoon(sleepForever, { name: "sibling" });
          inner.startSoon(
            async () => {
              await sleep(2);
              throw new Error("boom");
            },
            { name: "failing" },
          );
        }).catch(() => {});
      },
      { name: "supervisor" },
    );
    const [send, receive] = openMemoryChannel<number>(0);
    nursery.startSoon(
      async () => {
        // Blocks until the consumer takes each value (it wakes the producer)…
        for (let i = 0; i < 3; i++) await send.send(i);
        // …and the consumer then waits for this one (the producer wakes it).
        await sleep(10);
        await send.send(3);
        send.close();
      },
      { name: "producer" },
    );
    nursery.startSoon(
      async () => {
        for await (const _ of receive) await sleep(1);
      },
      { name: "consumer" },
    );
  });
}

async function recordProgram(): Promise<{ recorder: TraceRecorder; file: TraceFile }> {
  const recorder = new TraceRecorder();
  await run(program, virtual([recorder]));
  const file = checkTraceFile(JSON.stringify(recorder.toTraceFile()));
  return { recorder, file };
}

describe("TraceRecorder", () => {
  test("the file is valid: every event has its phase's fields, slices nest per task, flows have both ends", async () => {
    const { file, recorder } = await recordProgram();
    expect(file.otherData.weft).toEqual({ version: 1, dropped: 0 });
    expect(recorder.dropped).toBe(0);
    expect(recorder.recorded).toBeGreaterThan(50);
    expect(file.traceEvents.filter((event) => event.ph === "X").length).toBeGreaterThan(30);
  });

  test("every task has a track named after it, in the process of the nursery it was spawned into", async () => {
    const { file } = await recordProgram();
    const names = file.traceEvents
      .filter((event) => event.name === "thread_name")
      .map((event) => String(event.args?.name).replace(/ #\d+$/, ""));
    for (const name of [
      "<init>",
      "program",
      "waiter",
      "setter",
      "timeout",
      "explicit",
      "supervisor",
    ]) {
      expect(names).toContain(name);
    }
    for (const name of ["sibling", "failing", "producer", "consumer"])
      expect(names).toContain(name);
    const waiter = file.traceEvents.find(
      (event) => event.name === "thread_name" && event.tid === tidOf(file, "waiter"),
    )!;
    const process = file.traceEvents.find(
      (event) => event.name === "process_name" && event.pid === waiter.pid,
    )!;
    expect(process.args?.name).toMatch(/^nursery #\d+ in task "program #\d+"$/);
    // Tree order: a parent's sort index is below its children's.
    const sortIndex = (tid: number) =>
      file.traceEvents.find((event) => event.name === "thread_sort_index" && event.tid === tid)!
        .args?.sort_index as number;
    expect(sortIndex(tidOf(file, "program"))).toBeLessThan(sortIndex(tidOf(file, "supervisor")));
    expect(sortIndex(tidOf(file, "supervisor"))).toBeLessThan(sortIndex(tidOf(file, "failing")));
  });

  test("a blocked task has a wait slice named after what it waits for, with the run's clock", async () => {
    const { file } = await recordProgram();
    const waits = (name: string) =>
      eventsOf(file, tidOf(file, name), "X", "wait").map((event) => event.name);
    expect(waits("waiter")).toContain("Event.wait");
    expect(waits("setter")).toContain("sleep");
    expect(waits("consumer").some((name) => name.startsWith("MemoryReceiveChannel.receive"))).toBe(
      true,
    );
    const sleepSlice = eventsOf(file, tidOf(file, "setter"), "X", "wait").find(
      (event) => event.name === "sleep",
    )!;
    expect(sleepSlice.args?.clock).toBe(0);
    expect(eventsOf(file, tidOf(file, "setter"), "X", "step").length).toBeGreaterThanOrEqual(2);
  });

  test("a deadline's cancellation is an instant on the scope's task, source deadline, inside its scope slice", async () => {
    const { file } = await recordProgram();
    const tid = tidOf(file, "timeout");
    const cancels = eventsOf(file, tid, "i", "cancel");
    expect(cancels.map((event) => event.args)).toEqual([{ source: "deadline", clock: 3 }]);
    const scopes = eventsOf(file, tid, "X", "scope");
    expect(scopes).toHaveLength(1);
    expect(scopes[0]!.args).toMatchObject({ deadline: 3, clock: 0 });
    const scope = scopes[0]!;
    expect(cancels[0]!.ts!).toBeGreaterThanOrEqual(scope.ts!);
    expect(cancels[0]!.ts!).toBeLessThanOrEqual(scope.ts! + scope.dur!);
    // The step that entered the scope is split there, so that the slices nest.
    const steps = eventsOf(file, tid, "X", "step");
    expect(steps.some((step) => step.ts! + step.dur! === scope.ts)).toBe(true);
    expect(steps.some((step) => step.ts === scope.ts)).toBe(true);
  });

  test("an explicit cancellation carries its reason; a failing child's cancellation of its siblings is on the nursery's task", async () => {
    const { file } = await recordProgram();
    expect(eventsOf(file, tidOf(file, "explicit"), "i", "cancel")[0]!.args).toMatchObject({
      source: "explicit",
      reason: "enough",
    });
    const supervisorCancels = eventsOf(file, tidOf(file, "supervisor"), "i", "cancel");
    expect(supervisorCancels.map((event) => event.args?.source)).toEqual(["nursery"]);
    expect(supervisorCancels[0]!.args?.clock).toBe(2);
    // Only scopes with a deadline get a slice: not the explicit scope, not nurseries.
    expect(eventsOf(file, tidOf(file, "explicit"), "X", "scope")).toEqual([]);
    expect(eventsOf(file, tidOf(file, "supervisor"), "X", "scope")).toEqual([]);
  });

  test("spawn flows go from the spawner's step to the child's first step", async () => {
    const { file } = await recordProgram();
    const flows = [...checkFlows(file).values()];
    const main = tidOf(file, "program");
    for (const child of ["waiter", "setter", "timeout", "producer", "consumer"]) {
      const tid = tidOf(file, child);
      const flow = flows.find(([start, end]) => start.cat === "spawn" && end.tid === tid);
      expect(flow, `a spawn flow to ${child}`).toBeDefined();
      const [start, end] = flow!;
      expect(start.tid).toBe(main);
      const firstStep = eventsOf(file, tid, "X", "step")[0]!;
      expect(end.ts).toBe(firstStep.ts);
      expect(enclosingStep(file, start)).toBeDefined();
    }
    const failing = flows.find(([, end]) => end.tid === tidOf(file, "failing"))!;
    expect(failing[0].tid).toBe(tidOf(file, "supervisor"));
  });

  test("wake flows go from the waker's step to the woken task's next step", async () => {
    const { file } = await recordProgram();
    const flows = [...checkFlows(file).values()].filter(([start]) => start.cat === "wake");
    const wake = flows.find(
      ([start, end]) => start.tid === tidOf(file, "setter") && end.tid === tidOf(file, "waiter"),
    );
    expect(wake).toBeDefined();
    const [start, end] = wake!;
    expect(enclosingStep(file, start)).toBeDefined();
    const next = eventsOf(file, end.tid!, "X", "step").find((step) => step.ts === end.ts);
    expect(next).toBeDefined();
    // The channel: producer and consumer wake each other.
    const producer = tidOf(file, "producer");
    const consumer = tidOf(file, "consumer");
    expect(flows.some(([s, f]) => s.tid === producer && f.tid === consumer)).toBe(true);
    expect(flows.some(([s, f]) => s.tid === consumer && f.tid === producer)).toBe(true);
    // Flow ids are unique across kinds.
    const ids = file.traceEvents.filter((event) => event.ph === "s").map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("a recorder added with lowlevel.addInstrument picks up tasks that started before it", async () => {
    const recorder = new TraceRecorder();
    await run(async () => {
      await openNursery(async (nursery) => {
        nursery.startSoon(() => sleep(1), { name: "early" });
        await checkpoint();
        lowlevel.addInstrument(recorder);
        nursery.startSoon(() => sleep(1), { name: "late" });
        await sleep(2);
        lowlevel.removeInstrument(recorder);
      });
    }, virtual([]));
    const file = checkTraceFile(recorder.toTraceFile());
    expect(tidOf(file, "early")).toBeGreaterThan(0);
    expect(tidOf(file, "late")).toBeGreaterThan(0);
    // Its block came before the recorder: no wait slice, but the step after it.
    expect(eventsOf(file, tidOf(file, "early"), "X", "wait")).toEqual([]);
    expect(eventsOf(file, tidOf(file, "early"), "X", "step").length).toBeGreaterThan(0);
    expect(eventsOf(file, tidOf(file, "late"), "X", "wait").map((event) => event.name)).toEqual([
      "sleep",
    ]);
  });

  test("toTraceFile() during the run ends the slices still open at the present", async () => {
    const recorder = new TraceRecorder();
    let during: TraceFile | undefined;
    async function program(): Promise<void> {
      await openNursery(async (nursery) => {
        nursery.startSoon(() => sleep(10), { name: "sleeper" });
        await sleep(1);
        during = recorder.toTraceFile();
      });
    }
    await run(program, virtual([recorder]));
    const file = checkTraceFile(during);
    const sleeper = eventsOf(file, tidOf(file, "sleeper"), "X", "wait");
    expect(sleeper.map((event) => event.name)).toEqual(["sleep"]);
    // main's own step is open: its slice ends at the end of the file.
    const main = slicesByThread(file).get(tidOf(file, "program"))!;
    const end = Math.max(...file.traceEvents.map((event) => (event.ts ?? 0) + (event.dur ?? 0)));
    expect(main.some((slice) => slice.ts! + slice.dur! === end)).toBe(true);
  });

  test("one recorder across runs, one after another: every task of each has its own track", async () => {
    const recorder = new TraceRecorder();
    await run(program, virtual([recorder]));
    await run(program, { instruments: [recorder] }); // the real clock this time
    const file = checkTraceFile(recorder.toTraceFile());
    const waiters = file.traceEvents.filter(
      (event) => event.name === "thread_name" && String(event.args?.name).startsWith("waiter #"),
    );
    expect(waiters).toHaveLength(2);
    // On the real clock steps carry no clock (ts says it); waits do.
    const second = waiters[1]!.tid!;
    expect(
      eventsOf(file, second, "X", "step").every((step) => step.args?.clock === undefined),
    ).toBe(true);
    expect(eventsOf(file, second, "X", "wait")[0]!.args?.clock).toEqual(expect.any(Number));
  });

  test("writeTraceFile writes the file as JSON", async () => {
    const { recorder } = await recordProgram();
    const dir = await mkdtemp(join(tmpdir(), "weft-trace-"));
    try {
      const path = join(dir, "trace.json");
      await recorder.writeTraceFile(path);
      const file = checkTraceFile(await readFile(path, "utf8"));
      expect(file).toEqual(JSON.parse(JSON.stringify(recorder.toTraceFile())));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("clear() forgets what was recorded", async () => {
    const { recorder } = await recordProgram();
    recorder.clear();
    expect(recorder.recorded).toBe(0);
    const file = checkTraceFile(recorder.toTraceFile());
    expect(file.traceEvents.filter((event) => event.ph !== "M")).toEqual([]);
  });

  test("bad options are refused with a TypeError or RangeError naming them", () => {
    expect(() => new TraceRecorder(null as never)).toThrow(TypeError);
    expect(() => new TraceRecorder("big" as never)).toThrow(/options/);
    expect(() => new TraceRecorder({ capacity: "10" as never })).toThrow(TypeError);
    expect(() => new TraceRecorder({ capacity: "10" as never })).toThrow(/options\.capacity/);
    expect(() => new TraceRecorder({ capacity: 0 })).toThrow(RangeError);
    expect(() => new TraceRecorder({ capacity: 1.5 })).toThrow(/options\.capacity/);
    expect(() => new TraceRecorder({ capacity: -1 })).toThrow(RangeError);
    expect(() => new TraceRecorder({ capacity: Number.NaN })).toThrow(RangeError);
    expect(() => new TraceRecorder({ capacity: Infinity })).toThrow(RangeError);
    expect(() => new TraceRecorder({ capacity: 2 ** 40 })).toThrow(/options\.capacity/);
    expect(new TraceRecorder({}).capacity).toBe(100_000);
    expect(new TraceRecorder({ capacity: 1 }).capacity).toBe(1);
  });

  test("writeTraceFile refuses a path that is not a string", async () => {
    await expect(new TraceRecorder().writeTraceFile(42 as never)).rejects.toThrow(TypeError);
  });
});

/** The step slice of the event's task that contains the event's time. */
function enclosingStep(file: TraceFile, event: TraceEvent): TraceEvent | undefined {
  return eventsOf(file, event.tid!, "X", "step").find(
    (step) => step.ts! <= event.ts! && event.ts! <= step.ts! + step.dur!,
  );
}
