/**
 * Simulated TCP streams pass the stream conformance suites, clogged variants
 * included, and keep the cancelled-sendAll rule (SEMANTICS.md, "I/O resources").
 */
import { run } from "@weft/core";
import { describe, test } from "vitest";
import {
  checkCancelledSendAll,
  checkHalfCloseableStream,
  DeterministicScheduler,
  MockClock,
  type SimulatedTcpPairOptions,
  type SimulatedTcpStream,
  seededRandom,
  simulatedTcpPair,
} from "../../src/index.ts";

const inRun = (fn: () => Promise<void>) =>
  run(fn, { clock: new MockClock({ autojumpThreshold: 0 }) });

const WINDOW = 8192;

/** A pair whose windows are full in both directions: sends block until the peer reads. */
async function clogged(
  options: SimulatedTcpPairOptions,
): Promise<[SimulatedTcpStream, SimulatedTcpStream]> {
  const pair = simulatedTcpPair({ ...options, window: WINDOW });
  for (const side of pair) await side.sendAll(new Uint8Array(WINDOW).fill(120));
  return pair;
}

const variants: [string, () => SimulatedTcpPairOptions][] = [
  ["no latency", () => ({})],
  ["fixed latency", () => ({ latency: 3 })],
  ["random latency", () => ({ latency: (random) => random() * 20, random: seededRandom(7) })],
];

describe.each(variants)("simulatedTcpPair (%s)", (_name, options) => {
  test("passes checkHalfCloseableStream, clogged variant included", async () => {
    await inRun(() =>
      checkHalfCloseableStream(
        async () => simulatedTcpPair(options()),
        () => clogged(options()),
      ),
    );
  });

  test("passes checkCancelledSendAll", async () => {
    await inRun(() => checkCancelledSendAll(() => clogged(options())));
  });
});

describe("simulatedTcpPair under DeterministicScheduler", () => {
  test.each([1, 2])(
    "passes checkHalfCloseableStream and checkCancelledSendAll (schedule seed %i)",
    async (seed) => {
      const options = (): SimulatedTcpPairOptions => ({
        latency: (random) => random() * 5,
        random: seededRandom(seed),
      });
      await run(
        async () => {
          await checkHalfCloseableStream(
            async () => simulatedTcpPair(options()),
            () => clogged(options()),
          );
          await checkCancelledSendAll(() => clogged(options()));
        },
        {
          clock: new MockClock({ autojumpThreshold: 0 }),
          scheduler: new DeterministicScheduler({ seed }),
        },
      );
    },
  );
});
