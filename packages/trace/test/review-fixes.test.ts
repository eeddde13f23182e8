/**
 * Edges found in review: names XML cannot hold, sizes too big to draw, a
 * recorder reused by a later run, and scopes whose entry was dropped.
 */
import { lowlevel, moveOnAfter, openNursery, run, sleep } from "@weft/core";
import { MockClock } from "@weft/testing";
import { renderTimelineSvg, TraceRecorder } from "@weft/trace";
import { describe, expect, test } from "vitest";
import { checkTraceFile } from "./support/trace-validator.ts";

describe("review edges", () => {
  test("a task named with control characters gives an SVG XML can hold (U+FFFD in their place)", async () => {
    const recorder = new TraceRecorder();
    await run(
      () =>
        openNursery(async (nursery) => {
          nursery.startSoon(() => sleep(1), { name: "bell\u0007ctl\u0000nul\ud800" });
        }),
      { instruments: [recorder] },
    );
    const svg = renderTimelineSvg(recorder.toTraceFile());
    expect(svg.includes("\u0000") || svg.includes("\u0007")).toBe(false);
    expect(svg).toContain("bell\uFFFDctl\uFFFDnul\uFFFD");
  });

  test("sizes too big to draw are RangeErrors naming the option", () => {
    const trace = new TraceRecorder().toTraceFile();
    expect(() => renderTimelineSvg(trace, { width: 1e9 })).toThrow(
      /options\.width must be at most 20000/,
    );
    expect(() => renderTimelineSvg(trace, { maxTasks: 0 })).toThrow(RangeError);
    expect(() => renderTimelineSvg(trace, { rowHeight: Number.NaN })).toThrow(/options\.rowHeight/);
  });

  test("a recorder used by a later run does not carry the earlier run's virtual clock", async () => {
    const recorder = new TraceRecorder();
    await run(() => sleep(1_005), {
      clock: new MockClock({ autojumpThreshold: 0 }),
      instruments: [recorder],
    });
    recorder.clear();
    await run(async () => {
      lowlevel.addInstrument(recorder);
      await sleep(1);
    });
    const clocks = recorder
      .toTraceFile()
      .traceEvents.filter((e) => e.ph === "X" && e.cat === "step")
      .map((e) => e.args?.clock);
    expect(clocks).not.toContain(1_005);
  });

  test("a scope entered before the kept records began has no deadline in its slice, not null", async () => {
    const recorder = new TraceRecorder({ capacity: 50 });
    await run(
      () =>
        moveOnAfter(10_000, async () => {
          for (let i = 0; i < 200; i++) await sleep(1);
        }),
      { clock: new MockClock({ autojumpThreshold: 0 }), instruments: [recorder] },
    );
    const file = recorder.toTraceFile();
    const json = JSON.stringify(file);
    expect(json).not.toContain('"deadline":null');
    checkTraceFile(json);
    const scopes = file.traceEvents.filter((e) => e.cat === "scope");
    expect(scopes.some((e) => e.args?.deadlineUnknown === true)).toBe(true);
  });
});
