/**
 * The examples of the package README and of docs/guides/from-effection-and-effect.md,
 * on a virtual clock (the weft side of each side-by-side pair; the docs' sample
 * checker also runs every sample of the guide as written, with its output).
 */
import {
  gather,
  moveOnAfter,
  openMemoryChannel,
  openNursery,
  race,
  run,
  sleep,
  sleepForever,
} from "@weft/core";
import { runOperation, weftOperation } from "@weft/effection";
import { MockClock } from "@weft/testing";
import { sleep as effectionSleep } from "effection";
import { describe, expect, test } from "vitest";

const virtual = () => ({ clock: new MockClock({ autojumpThreshold: 0 }), handleSignals: false });

describe("docs examples", () => {
  test("the package README example returns the inner weft value", async () => {
    const greeting = await run(async () =>
      moveOnAfter(60_000, () =>
        runOperation(function* () {
          try {
            yield* effectionSleep(1);
            return yield* weftOperation(async () => {
              await sleep(10);
              return "hello";
            });
          } finally {
            yield* effectionSleep(1);
          }
        }),
      ),
    ); // the system clock: the minute never passes
    expect(greeting).toBe("hello");
  });

  test("guide: a resource started with nursery.start is closed when its nursery's scope ends", async () => {
    const log: string[] = [];
    await run(async () => {
      await openNursery(async (nursery) => {
        const socket = await nursery.start<{ close(): void }>(async (status) => {
          const socket = { close: () => log.push("closed") };
          try {
            status.started(socket);
            await sleepForever();
          } finally {
            socket.close();
          }
        });
        log.push("using");
        expect(typeof socket.close).toBe("function");
        nursery.cancelScope.cancel();
      });
    }, virtual());
    expect(log).toEqual(["using", "closed"]);
  });

  test("guide: producer and consumer over a memory channel", async () => {
    const seen: number[] = [];
    await run(async () => {
      const [send, receive] = openMemoryChannel<number>(0);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for await (const value of receive) seen.push(value);
        });
        for (let i = 1; i <= 3; i++) await send.send(i);
        send.close();
      });
    }, virtual());
    expect(seen).toEqual([1, 2, 3]);
  });

  test("guide: race, gather and moveOnAfter", async () => {
    const lookup = async (name: string, ms: number) => {
      await sleep(ms);
      return name;
    };
    const results = await run(async () => {
      const winner = await race(
        () => lookup("a", 10),
        () => lookup("b", 20),
      );
      const [a, b] = await gather(
        () => lookup("a", 10),
        () => lookup("b", 20),
      );
      const maybe = await moveOnAfter(5, () => lookup("a", 10));
      return { winner, a, b, maybe };
    }, virtual());
    expect(results).toEqual({ winner: "a", a: "a", b: "b", maybe: undefined });
  });
});
