/**
 * examples/automation.ts runs end to end: `main()` is called with
 * `console.log` captured, and the lines that carry the point of the example
 * are checked (not the timings: they are real time).
 */
import { describe, expect, test } from "vitest";
import { main as automationMain } from "../../../../examples/automation.ts";
import { captureLines } from "../../../core/test/support/console.ts";

describe("automation example", () => {
  test("checks run as processes; the failing one is reported with its status and stderr; the deploy is cut short and reaped", async () => {
    const lines = await captureLines(automationMain);
    const line = (pattern: RegExp) => lines.find((l) => pattern.test(l));

    // The three checks: two pass, the type check fails and its stderr is shown.
    expect(line(/✓ lint .*checked 42 files/)).toBeDefined();
    expect(line(/✓ unit tests .*128 tests passed; coverage 91%/)).toBeDefined();
    expect(line(/✗ typecheck .*exited with status 2/)).toBeDefined();
    expect(line(/^ {6}src\/report\.ts\(12,7\): error TS2322/)).toBeDefined();
    expect(line(/checks done in .* 1 failed$/)).toBeDefined();

    // Input through stdin.
    expect(line(/word count: 3 lines, 11 words/)).toBeDefined();

    // The deploy: output read live, then the deadline's SIGTERM, the rollback
    // it triggers, and a process that is gone afterwards. (How many files got
    // uploaded depends on real time: not checked.)
    expect(line(/deploy .*\| connected/)).toBeDefined();
    expect(line(/deploy .*\| deployed/)).toBeUndefined();
    expect(line(/deploy .*\| interrupted after \d+ files: rolling back/)).toBeDefined();
    expect(line(/deploy ended .* with status 1 .* is gone \(exited and reaped\)/)).toBeDefined();
  });
});
