/**
 * examples/cpu-workers.ts runs end to end: `main()` is called with
 * console.log captured, and the lines that carry the point of the example
 * are checked (never its timings: they are real time).
 */
import { expect, test } from "vitest";
import { main } from "../../../../examples/cpu-workers.ts";
import { captureLines } from "../support/console.ts";

test("cpu-workers: both counts are right, the cut-short count stops, no worker thread is left", async () => {
  const lines = await captureLines(main);
  // π(3,000,000) = 216,816, with one worker and with one per CPU.
  expect(lines).toContainEqual(
    expect.stringMatching(/^1 worker: 216816 primes below 3,000,000 in /),
  );
  expect(lines).toContainEqual(
    expect.stringMatching(/^\d+ workers?: 216816 primes below 3,000,000 in [\d.]+ s$/),
  );
  expect(lines).toContainEqual(expect.stringMatching(/^speed-up with \d+ workers?: [\d.]+x$/));
  // The progress bar advanced chunk by chunk to the end, in both full counts.
  const bars = lines.filter((l) => /^ {2}\[[#-]{20}\] \d+\/10 chunks$/.test(l));
  expect(bars).toHaveLength(20);
  expect(bars.filter((l) => l.includes("[####################] 10/10 chunks"))).toHaveLength(2);
  // The third count was cut short: some chunks were cancelled.
  const cut = lines
    .map((l) => /^cut short after 200 ms: (\d+) of 40 chunks counted, (\d+) cancelled/.exec(l))
    .find((m) => m !== null);
  expect(cut).toBeDefined();
  const [counted, cancelled] = [Number(cut![1]), Number(cut![2])];
  expect(counted + cancelled).toBe(40);
  expect(cancelled).toBeGreaterThan(0);
  expect(lines.at(-1)).toMatch(
    /^worker threads started: \d+, still running after run\(\) returned: 0$/,
  );
});
