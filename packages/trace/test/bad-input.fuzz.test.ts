/**
 * Bad-input fuzzing of every export of @weft/trace and @weft/trace/opentelemetry
 * (generated from the sources: see core's test/support/bad-input-fuzz.ts for the contract).
 */
import * as os from "node:os";
import * as path from "node:path";
import {
  ERROR_CONSTRUCTOR,
  fuzzBadInput,
  KERNEL_HOOK,
} from "../../core/test/support/bad-input-fuzz.ts";
import { TraceRecorder } from "../src/index.ts";
import { OpenTelemetryInstrument } from "../src/opentelemetry/index.ts";

const quiet = { stdout: () => {}, stderr: () => {} };
const emptyTrace = () => [
  { traceEvents: [], displayTimeUnit: "ms", otherData: { weft: { version: 1, dropped: 0 } } },
];

fuzzBadInput("@weft/trace", {
  receivers: { TraceRecorder: () => new TraceRecorder() },
  validArguments: {
    runWeftTrace: () => [["--help"], quiet],
    renderTimeline: emptyTrace,
    renderTimelineSvg: emptyTrace,
    renderTimelineHtml: emptyTrace,
    "TraceRecorder.prototype.writeTraceFile": () => [
      path.join(os.tmpdir(), `weft-fuzz-trace-${process.pid}.json`),
    ],
  },
  allow: {
    "new TraceFileError": ERROR_CONSTRUCTOR,
    "runWeftTrace(args)":
      "the command line's arguments: bad ones are reported on io.stderr with exit status 2, never thrown (its documented contract)",
  },
});

fuzzBadInput("@weft/trace/opentelemetry", {
  receivers: { OpenTelemetryInstrument: () => new OpenTelemetryInstrument() },
  allow: {
    "OpenTelemetryInstrument.prototype.taskContext": KERNEL_HOOK,
    "OpenTelemetryInstrument.prototype.cancelScopeEntered": KERNEL_HOOK,
    "OpenTelemetryInstrument.prototype.cancelScopeCancelled": KERNEL_HOOK,
    "OpenTelemetryInstrument.prototype.taskExited": KERNEL_HOOK,
  },
});
