/** A weftTest that times out prints its run's task tree and cancels the run (a real vitest run). */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, test } from "vitest";

const fixture = fileURLToPath(new URL("./fixtures/weft-test-timeout/", import.meta.url));
const vitest = fileURLToPath(new URL("../../../node_modules/vitest/vitest.mjs", import.meta.url));

test("a weftTest that times out says what each task is stuck on, and its finally blocks run", async () => {
  const output = await promisify(execFile)(
    process.execPath,
    [vitest, "run", "--root", fixture, "--reporter", "default", "--color", "false"],
    { env: { ...process.env, CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" } },
  ).then(
    () => "(the fixture passed)",
    (error: { stdout: string; stderr: string }) => `${error.stdout}\n${error.stderr}`,
  );
  expect(output).toContain(
    "weft: Test timed out in 500ms. — the run's tasks at 0 ms (run's clock):\n" +
      '- task "<init>": blocked in nursery exit, waiting for 1 child task(s) for 0 ms\n' +
      '  - task "main": blocked in cancellable (foreign promise) for 0 ms\n' +
      '    - task "stuck on an event": blocked in Event.wait for 0 ms',
  );
  expect(output).toContain("cleanup ran");
}, 60_000);
