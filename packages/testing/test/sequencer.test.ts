/**
 * Sequencer: the @weft/testing rules of SEMANTICS.md. Behaviour ported from
 * Trio's src/trio/testing/_sequencer.py and its tests.
 */
import { CancelScope, checkpoint, moveOnAfter, openNursery, run, sleep } from "@weft/core";
import { describe, expect, test } from "vitest";
import { MockClock, Sequencer, waitAllTasksBlocked } from "../src/index.ts";

const autojump = () => new MockClock({ autojumpThreshold: 0 });

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("Sequencer", () => {
  test("at(n) waits until position n-1 has finished, whatever order the tasks start in", async () => {
    const log: string[] = [];
    await run(
      () =>
        openNursery(async (nursery) => {
          const seq = new Sequencer();
          nursery.startSoon(async () => {
            await seq.at(3, async () => log.push("3"));
          });
          nursery.startSoon(async () => {
            await seq.at(1, async () => {
              log.push("1 start");
              await sleep(10);
              await checkpoint();
              log.push("1 end");
            });
            await seq.at(4, async () => log.push("4"));
          });
          nursery.startSoon(async () => {
            await seq.at(2, async () => log.push("2"));
          });
          nursery.startSoon(async () => {
            await seq.at(0, async () => log.push("0"));
          });
        }),
      { clock: autojump() },
    );
    expect(log).toEqual(["0", "1 start", "1 end", "2", "3", "4"]);
  });

  test("at() resolves with fn's value; a failing fn still lets the next position go", async () => {
    const log: string[] = [];
    await run(
      () =>
        openNursery(async (nursery) => {
          const seq = new Sequencer();
          nursery.startSoon(async () => {
            log.push(`1 got ${await seq.at(1, async () => "one")}`);
          });
          nursery.startSoon(async () => {
            const error = await caught(
              seq.at(0, async () => {
                throw new Error("boom");
              }),
            );
            log.push(`0 failed with ${(error as Error).message}`);
          });
        }),
      { clock: autojump() },
    );
    expect(log).toEqual(["0 failed with boom", "1 got one"]);
  });

  test("reusing a position → Error", async () => {
    await run(async () => {
      const seq = new Sequencer();
      await seq.at(0, async () => {});
      await expect(seq.at(0, async () => {})).rejects.toThrow(/already used/);
      await seq.at(1, async () => {});
    });
  });

  test("a cancelled waiter breaks the sequence for everyone (Error)", async () => {
    const errors: string[] = [];
    await run(
      () =>
        openNursery(async (nursery) => {
          const seq = new Sequencer();
          const scope = new CancelScope();
          nursery.startSoon(async () => {
            const error = await caught(scope.run(() => seq.at(1, async () => {})));
            errors.push(`1: ${(error as Error).message}`);
          });
          nursery.startSoon(async () => {
            const error = await caught(seq.at(2, async () => {}));
            errors.push(`2: ${(error as Error).message}`);
          });
          await waitAllTasksBlocked();
          scope.cancel();
          await waitAllTasksBlocked();
          // a later waiter, even at the next free position, fails at once
          await expect(seq.at(0, async () => {})).rejects.toThrow(/sequence is broken/);
          await expect(seq.at(5, async () => {})).rejects.toThrow(/sequence is broken/);
        }),
      { clock: autojump() },
    );
    expect(errors).toHaveLength(2);
    expect(errors).toContainEqual(expect.stringMatching(/^1: .*cancelled.*sequence is broken/));
    expect(errors).toContainEqual(expect.stringMatching(/^2: .*sequence is broken/));
  });

  test("a waiter cancelled by a timeout breaks it too", async () => {
    await run(
      async () => {
        const seq = new Sequencer();
        const error = await caught(moveOnAfter(10, () => seq.at(1, async () => {})));
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).toMatch(/sequence is broken/);
        await expect(seq.at(0, async () => {})).rejects.toThrow(/sequence is broken/);
      },
      { clock: autojump() },
    );
  });

  test("bad positions → TypeError / RangeError", async () => {
    await run(async () => {
      const seq = new Sequencer();
      await expect(seq.at("1" as unknown as number, async () => {})).rejects.toThrow(TypeError);
      await expect(seq.at(-1, async () => {})).rejects.toThrow(RangeError);
      await expect(seq.at(1.5, async () => {})).rejects.toThrow(RangeError);
      await expect(seq.at(Number.NaN, async () => {})).rejects.toThrow(RangeError);
      await expect(seq.at(0, null as unknown as () => Promise<void>)).rejects.toThrow(TypeError);
      // nothing was claimed
      await seq.at(0, async () => {});
    });
  });
});
