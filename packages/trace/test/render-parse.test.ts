/** parseTraceFile: what counts as a trace file, and what the errors say. */
import { describe, expect, test } from "vitest";
import { parseTraceFile, TraceFileError } from "../src/index.ts";
import { sampleTrace } from "./trace-fixtures.ts";

const problem = (text: string): string => {
  try {
    parseTraceFile(text);
  } catch (error) {
    expect(error).toBeInstanceOf(TraceFileError);
    return (error as Error).message;
  }
  throw new Error("parsed");
};

describe("parseTraceFile", () => {
  test("reads a trace file as written", () => {
    const trace = sampleTrace(7);
    expect(parseTraceFile(JSON.stringify(trace))).toEqual(trace);
  });

  test("accepts a file without otherData.weft (0 dropped) and events of other phases", () => {
    const trace = parseTraceFile(
      JSON.stringify({ traceEvents: [{ ph: "B", name: "x", pid: 1, tid: 1, ts: 0 }] }),
    );
    expect(trace.otherData.weft).toEqual({ version: 1, dropped: 0 });
    expect(trace.traceEvents).toHaveLength(1);
  });

  test("says what is wrong", () => {
    expect(problem("")).toMatch(/^not JSON/);
    expect(problem("[]")).toMatch(/^a JSON array/);
    expect(problem("42")).toBe("not a JSON object with a traceEvents array");
    expect(problem("{}")).toBe('no "traceEvents" array: not a trace file');
    expect(problem('{"traceEvents":[1]}')).toBe("traceEvents[0] is not an object");
    expect(problem('{"traceEvents":[{"name":"x","pid":1}]}')).toBe(
      'traceEvents[0] has no "ph" (phase)',
    );
    expect(problem('{"traceEvents":[{"ph":"Q","name":"x","pid":1}]}')).toBe(
      'traceEvents[0] has an unknown phase "Q"',
    );
    expect(problem('{"traceEvents":[{"ph":"i","name":"x","pid":"a","ts":0}]}')).toBe(
      'traceEvents[0] has no numeric "pid"',
    );
    expect(problem('{"traceEvents":[{"ph":"i","name":"x","pid":1}]}')).toBe(
      'traceEvents[0] (ph "i") has no numeric "ts"',
    );
    expect(problem('{"traceEvents":[],"otherData":{"weft":{"version":2,"dropped":0}}}')).toBe(
      "unsupported weft trace format version 2 (this renderer reads version 1)",
    );
    expect(problem('{"traceEvents":[],"otherData":{"weft":{"version":1,"dropped":-1}}}')).toBe(
      '"otherData.weft.dropped" is not a non-negative number',
    );
  });
});
