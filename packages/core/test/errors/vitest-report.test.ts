/** How an escaped nursery error reads in vitest's own failure report (a real vitest run). */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, test } from "vitest";

const fixture = fileURLToPath(new URL("../fixtures/vitest-report/", import.meta.url));
const vitest = fileURLToPath(
  new URL("../../../../node_modules/vitest/vitest.mjs", import.meta.url),
);

test("vitest's report of a test that fails with a nursery error shows the leaf: its class, message and where it was thrown", async () => {
  const result = await promisify(execFile)(
    process.execPath,
    [vitest, "run", "--root", fixture, "--reporter", "default", "--color", "false"],
    { env: { ...process.env, CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" } },
  ).then(
    () => ({ failed: false, output: "" }),
    (error: { stdout: string; stderr: string }) => ({
      failed: true,
      output: `${error.stdout}\n${error.stderr}`,
    }),
  );
  expect(result.failed).toBe(true);
  // Vitest reports an AggregateError by its errors: the leaf, with a code frame.
  expect(result.output).toContain("TypeError: bad header");
  expect(result.output).toMatch(/escaped-nursery-error\.fixture\.ts:10:19/);
}, 60_000);
