/** weftTest / weftRun: vitest tests whose body runs in a weft run on a MockClock. */
import {
  CancelScope,
  currentTime,
  failAfter,
  lowlevel,
  SystemClock,
  sleep,
  sleepForever,
  TooSlowError,
} from "@weft/core";
import { describe, expect, test } from "vitest";
import { MockClock } from "../src/index.ts";
import { weftRun, weftTest } from "../src/vitest.ts";

describe("weftTest", () => {
  weftTest("runs the body inside run() on an autojumping MockClock", async () => {
    expect(lowlevel.currentClock()).toBeInstanceOf(MockClock);
    expect(currentTime()).toBe(0);
    await sleep(3_600_000);
    expect(currentTime()).toBe(3_600_000);
  });

  weftTest("an hour-long timeout fires in virtual time", async () => {
    await expect(failAfter(3_600_000, () => sleepForever())).rejects.toThrow(TooSlowError);
    expect(currentTime()).toBe(3_600_000);
  });

  const clock = new MockClock({ autojumpThreshold: 0 });
  clock.jump(500);
  weftTest(
    "takes a clock and a timeout",
    async () => {
      expect(lowlevel.currentClock()).toBe(clock);
      expect(currentTime()).toBe(500);
    },
    { clock, timeout: 5000 },
  );

  weftTest(
    "passes other run options on",
    async () => {
      expect(lowlevel.currentClock()).toBeInstanceOf(SystemClock);
      await new CancelScope().run(async () => {});
    },
    { clock: new SystemClock() },
  );
});

describe("weftRun", () => {
  test("resolves with the body's value and rejects with its error", async () => {
    const time = await weftRun(async () => {
      await sleep(10);
      return currentTime();
    });
    expect(time).toBe(10);
    await expect(
      weftRun(async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
  });

  test("each call gets a fresh clock", async () => {
    const first = await weftRun(async () => lowlevel.currentClock());
    const second = await weftRun(async () => lowlevel.currentClock());
    expect(first).not.toBe(second);
  });
});
