/**
 * withTimeouts(): read, write and idle timeouts on memory streams at exact
 * virtual times (MockClock), what a timeout leaves behind, argument checks,
 * the stream conformance suite, and one smoke test over real TCP.
 */
import {
  BrokenResourceError,
  BusyResourceError,
  CancelScope,
  ClosedResourceError,
  currentTime,
  lowlevel,
  moveOnAfter,
  openNursery,
  run,
  sleep,
  sleepUntil,
  TooSlowError,
} from "@weft/core";
import { MockClock, waitAllTasksBlocked } from "@weft/testing";
import {
  checkHalfCloseableStream,
  lockstepStreamPair,
  MemorySendStream,
  memoryStreamOneWayPair,
  memoryStreamPair,
} from "@weft/testing/streams";
import { describe, expect, test } from "vitest";
import {
  openTcpListeners,
  openTcpStream,
  type SocketStream,
  StapledStream,
} from "../../src/index.ts";
import {
  HalfCloseableTimeoutStream,
  TimeoutStream,
  withTimeouts,
} from "../../src/streams/stream-timeouts.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function runVirtual<T>(fn: () => Promise<T>): Promise<T> {
  return run(fn, { clock: new MockClock({ autojumpThreshold: 0 }) });
}

/** Awaits `promise`, expecting it to reject; returns the error and the virtual time it rejected at. */
async function failure(promise: Promise<unknown>): Promise<{ error: unknown; at: number }> {
  try {
    await promise;
  } catch (error) {
    return { error, at: currentTime() };
  }
  throw new Error("expected a rejection");
}

describe("read timeout", () => {
  test("a receiveSome with no data fails after exactly `read` ms, and retrying is safe", async () => {
    await runVirtual(async () => {
      const [a, b] = memoryStreamPair();
      const ta = withTimeouts(a, { read: 100 });
      await sleepUntil(20);
      const { error, at } = await failure(ta.receiveSome());
      expect(error).toBeInstanceOf(TooSlowError);
      expect((error as Error).message).toBe(
        "receiveSome: read timeout of 100 ms expired (no data arrived)",
      );
      expect(at).toBe(120);
      // Nothing was lost and the stream still works, in both directions.
      await b.sendAll(bytes("late"));
      expect(text(await ta.receiveSome())).toBe("late");
      await ta.sendAll(bytes("ok"));
      expect(text(await b.receiveSome())).toBe("ok");
      expect(lowlevel.currentStatistics().msToNextDeadline).toBe(Infinity);
    });
  });

  test("data in time: no error; each receiveSome gets its own `read` ms", async () => {
    await runVirtual(async () => {
      const [a, b] = memoryStreamPair();
      const ta = withTimeouts(a, { read: 100 });
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleepUntil(90);
          await b.sendAll(bytes("one"));
          await sleepUntil(180);
          await b.sendAll(bytes("two"));
        });
        expect(text(await ta.receiveSome())).toBe("one");
        expect(currentTime()).toBe(90);
        // 90 ms into this call, 180 ms after the first call: still in time.
        expect(text(await ta.receiveSome())).toBe("two");
        expect(currentTime()).toBe(180);
      });
      expect(lowlevel.currentStatistics().msToNextDeadline).toBe(Infinity);
    });
  });

  test("cancellation from outside is passed on as Cancelled, not TooSlowError", async () => {
    await runVirtual(async () => {
      const [a] = memoryStreamPair();
      const ta = withTimeouts(a, { read: 100, idle: 100 });
      expect(await moveOnAfter(30, () => ta.receiveSome())).toBeUndefined();
      expect(currentTime()).toBe(30);
      expect(lowlevel.currentStatistics().msToNextDeadline).toBe(Infinity);
    });
  });

  test("read does not bound sends", async () => {
    await runVirtual(async () => {
      const [a, b] = lockstepStreamPair();
      const ta = withTimeouts(a, { read: 10 });
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleepUntil(500);
          expect(text(await b.receiveSome())).toBe("slow");
        });
        await ta.sendAll(bytes("slow"));
        expect(currentTime()).toBe(500);
      });
    });
  });
});

describe("write timeout", () => {
  test("a sendAll nobody takes fails after `write` ms and breaks the send side only", async () => {
    await runVirtual(async () => {
      const [a, b] = lockstepStreamPair();
      const ta = withTimeouts(a, { write: 100 });
      const { error, at } = await failure(ta.sendAll(bytes("stuck")));
      expect(error).toBeInstanceOf(TooSlowError);
      expect((error as Error).message).toBe(
        "sendAll: write timeout of 100 ms expired (the send did not complete)",
      );
      expect(at).toBe(100);
      for (const op of [
        () => ta.sendAll(bytes("again")),
        () => ta.waitSendAllMightNotBlock(),
        () => ta.sendEof(),
      ]) {
        const later = await failure(op());
        expect(later.error).toBeInstanceOf(BrokenResourceError);
        expect((later.error as Error).cause).toBe(error);
        expect((later.error as Error).message).toMatch(/write timeout of 100 ms/);
      }
      // Receiving still works.
      await openNursery(async (nursery) => {
        nursery.startSoon(() => b.sendAll(bytes("reply")));
        expect(text(await ta.receiveSome())).toBe("reply");
      });
      await ta.aclose();
    });
  });

  test("a sendAll taken in time succeeds", async () => {
    await runVirtual(async () => {
      const [a, b] = lockstepStreamPair();
      const ta = withTimeouts(a, { write: 100 });
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await sleepUntil(99);
          expect(text(await b.receiveSome())).toBe("x");
        });
        await ta.sendAll(bytes("x"));
        expect(currentTime()).toBe(99);
      });
      await ta.sendAll(new Uint8Array(0)); // still usable
    });
  });

  test("a timed-out waitSendAllMightNotBlock breaks nothing", async () => {
    await runVirtual(async () => {
      const [a, b] = lockstepStreamPair();
      const ta = withTimeouts(a, { write: 100 });
      const { error, at } = await failure(ta.waitSendAllMightNotBlock());
      expect((error as Error).message).toBe(
        "waitSendAllMightNotBlock: write timeout of 100 ms expired (the send did not complete)",
      );
      expect(at).toBe(100);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          expect(text(await b.receiveSome())).toBe("fine");
        });
        await ta.sendAll(bytes("fine"));
      });
    });
  });
});

describe("idle timeout", () => {
  test("counts from the last activity, including time when nobody was calling", async () => {
    await runVirtual(async () => {
      const [a] = memoryStreamPair();
      const ta = withTimeouts(a, { idle: 100 });
      expect(ta.idleDeadline).toBe(100);
      await sleepUntil(60);
      const first = await failure(ta.receiveSome());
      expect(first.at).toBe(100);
      expect(first.error).toBeInstanceOf(TooSlowError);
      expect((first.error as Error).message).toBe(
        "receiveSome: idle timeout of 100 ms expired (nothing sent or received for 100 ms)",
      );
      // Once expired it stays expired: the next operation fails at once.
      await sleepUntil(250);
      const second = await failure(ta.sendAll(bytes("x")));
      expect(second.at).toBe(250);
      expect((second.error as Error).message).toBe(
        "sendAll: idle timeout of 100 ms expired (nothing sent or received for 250 ms)",
      );
    });
  });

  test("each completed receive restarts the idle clock", async () => {
    await runVirtual(async () => {
      const [a, b] = memoryStreamPair();
      const ta = withTimeouts(a, { idle: 100 });
      const received: string[] = [];
      let failedAt = -1;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (const t of [80, 160, 240]) {
            await sleepUntil(t);
            await b.sendAll(bytes(`@${t}`));
          }
        });
        try {
          for await (const chunk of ta) received.push(text(chunk));
        } catch (error) {
          expect(error).toBeInstanceOf(TooSlowError);
          failedAt = currentTime();
        }
      });
      expect(received).toEqual(["@80", "@160", "@240"]);
      expect(ta.lastActivity).toBe(240);
      expect(failedAt).toBe(340);
    });
  });

  test("activity in the other direction moves a waiting receive's idle deadline", async () => {
    await runVirtual(async () => {
      const [a] = memoryStreamPair();
      const ta = withTimeouts(a, { idle: 100 });
      let failedAt = -1;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          const { at } = await failure(ta.receiveSome());
          failedAt = at;
        });
        await sleepUntil(80);
        await ta.sendAll(bytes("ping")); // the memory stream takes it at once
        await sleepUntil(150);
        await ta.sendAll(bytes("ping"));
      });
      expect(failedAt).toBe(250);
    });
  });

  test("an empty sendAll is not activity; sendEof and EOF are", async () => {
    await runVirtual(async () => {
      const [a, b] = memoryStreamPair();
      const ta = withTimeouts(a, { idle: 100 });
      await sleepUntil(50);
      await ta.sendAll(new Uint8Array(0));
      expect(ta.lastActivity).toBe(0);
      await ta.sendEof();
      expect(ta.lastActivity).toBe(50);
      await sleepUntil(120);
      await b.sendEof();
      expect((await ta.receiveSome()).length).toBe(0);
      expect(ta.lastActivity).toBe(120);
      expect(ta.idleDeadline).toBe(220);
    });
  });

  test("expiring during a sendAll breaks the send side like a write timeout", async () => {
    await runVirtual(async () => {
      const [a] = lockstepStreamPair();
      const ta = withTimeouts(a, { idle: 100, write: 1000 });
      const { error, at } = await failure(ta.sendAll(bytes("stuck")));
      expect(at).toBe(100);
      expect((error as Error).message).toMatch(/^sendAll: idle timeout of 100 ms expired/);
      const later = await failure(ta.sendAll(bytes("x")));
      expect(later.error).toBeInstanceOf(BrokenResourceError);
      expect((later.error as Error).cause).toBe(error);
    });
  });

  test("the timeout that fires first is the one named; on a tie, idle", async () => {
    await runVirtual(async () => {
      const [a, b] = memoryStreamPair();
      const ta = withTimeouts(a, { idle: 100, read: 50 });
      const read = await failure(ta.receiveSome());
      expect(read.at).toBe(50);
      expect((read.error as Error).message).toMatch(/^receiveSome: read timeout of 50 ms/);
      // Called at 50: the read deadline (100) and the idle deadline (100) coincide.
      const tie = await failure(ta.receiveSome());
      expect(tie.at).toBe(100);
      expect((tie.error as Error).message).toMatch(/^receiveSome: idle timeout of 100 ms/);
      await b.aclose();
    });
  });
});

describe("wrapping", () => {
  test("keeps sendEof exactly when the wrapped stream has it", async () => {
    await runVirtual(async () => {
      const [a, b] = memoryStreamPair();
      const ta = withTimeouts(a, { idle: 1000 });
      expect(ta).toBeInstanceOf(HalfCloseableTimeoutStream);
      expect(ta.stream).toBe(a);
      await ta.sendEof();
      expect((await b.receiveSome()).length).toBe(0);

      const [send, receive] = memoryStreamOneWayPair();
      const ts = withTimeouts(send, { write: 100 });
      expect(ts).toBeInstanceOf(TimeoutStream);
      expect("sendEof" in ts).toBe(false);
      // StapledStream falls back to closing a send stream without sendEof.
      const tr = withTimeouts(receive, { read: 100 });
      const stapled = new StapledStream(ts, tr);
      await stapled.sendEof();
      await expect(ts.sendAll(bytes("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      await expect((tr as unknown as TimeoutStream).sendAll(bytes("x"))).rejects.toBeInstanceOf(
        TypeError,
      );
      await expect((ts as unknown as TimeoutStream).receiveSome()).rejects.toBeInstanceOf(
        TypeError,
      );
    });
  });

  test("timeouts: the normalised values, Infinity when absent", async () => {
    await runVirtual(async () => {
      const ta = withTimeouts(new MemorySendStream(), { write: 5 });
      expect(ta.timeouts).toEqual({ idle: Infinity, read: Infinity, write: 5 });
      expect(ta.idleDeadline).toBe(Infinity);
      expect(Object.isFrozen(ta.timeouts)).toBe(true);
    });
  });

  test("concurrent receivers or senders: BusyResourceError", async () => {
    await runVirtual(async () => {
      const [a] = lockstepStreamPair();
      const ta = withTimeouts(a, { read: 100, write: 100 });
      await openNursery(async (nursery) => {
        nursery.startSoon(() => failure(ta.receiveSome()));
        nursery.startSoon(() => failure(ta.sendAll(bytes("x"))));
        await sleep(1);
        await expect(ta.receiveSome()).rejects.toBeInstanceOf(BusyResourceError);
        await expect(ta.waitSendAllMightNotBlock()).rejects.toBeInstanceOf(BusyResourceError);
      });
    });
  });

  test("after aclose: ClosedResourceError; aclose closes even when cancelled", async () => {
    await runVirtual(async () => {
      const [a, b] = memoryStreamPair();
      const ta = withTimeouts(a, { idle: 100 });
      const scope = new CancelScope();
      scope.cancel();
      await scope.run(() => ta.aclose());
      await expect(ta.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);
      await expect(ta.sendAll(bytes("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      await expect(b.sendAll(bytes("x"))).rejects.toBeInstanceOf(BrokenResourceError);
    });
  });

  test("`await using` closes the wrapped stream at the end of the block, even when it throws", async () => {
    await runVirtual(async () => {
      const [a, b] = memoryStreamPair();
      let wrapped: TimeoutStream<StapledStream> | null = null;
      {
        await using stream = withTimeouts(a, { idle: 100 });
        wrapped = stream;
        await stream.sendAll(bytes("hi"));
        expect(text(await b.receiveSome())).toBe("hi");
      }
      await expect(wrapped.sendAll(bytes("x"))).rejects.toBeInstanceOf(ClosedResourceError);
      expect((await b.receiveSome()).length).toBe(0); // the peer sees EOF

      const [c, d] = memoryStreamPair();
      const boom = new Error("boom");
      const opened: { stream?: TimeoutStream<StapledStream> } = {};
      await expect(
        (async () => {
          await using stream = new TimeoutStream(c, { idle: 100 });
          opened.stream = stream;
          throw boom;
        })(),
      ).rejects.toBe(boom);
      await expect(opened.stream!.receiveSome()).rejects.toBeInstanceOf(ClosedResourceError);
      expect((await d.receiveSome()).length).toBe(0);
    });
  });

  test("bad input: TypeError / RangeError naming the argument", async () => {
    await runVirtual(async () => {
      const [a] = memoryStreamPair();
      expect(() => withTimeouts(a, { read: 0 })).toThrow(RangeError);
      expect(() => withTimeouts(a, { read: 0 })).toThrow(/timeouts\.read/);
      expect(() => withTimeouts(a, { idle: -5 })).toThrow(/timeouts\.idle must be greater than 0/);
      expect(() => withTimeouts(a, { write: "5" as never })).toThrow(TypeError);
      expect(() => withTimeouts(a, { write: Number.NaN })).toThrow(/timeouts\.write/);
      expect(() => withTimeouts(a, null as never)).toThrow(/timeouts must be an object/);
      expect(() => withTimeouts(null as never, {})).toThrow(TypeError);
      expect(() => withTimeouts({} as never, {})).toThrow(/stream must be/);
      const ta = withTimeouts(a, { read: 10 });
      await expect(ta.receiveSome(0)).rejects.toBeInstanceOf(RangeError);
      await expect(ta.sendAll("x" as never)).rejects.toBeInstanceOf(TypeError);
    });
  });

  test("passes the half-closeable stream conformance suite", async () => {
    await run(async () => {
      const timeouts = { idle: 60_000, read: 60_000, write: 60_000 };
      const wrap = <S extends StapledStream>([x, y]: [S, S]) =>
        Promise.resolve([withTimeouts(x, timeouts), withTimeouts(y, timeouts)] as [
          HalfCloseableTimeoutStream<S>,
          HalfCloseableTimeoutStream<S>,
        ]);
      await checkHalfCloseableStream(
        () => wrap(memoryStreamPair()),
        () => wrap(lockstepStreamPair()),
      );
    });
  });
});

describe("over real TCP", () => {
  test("a read timeout on a SocketStream at a virtual time, then the stream still works", async () => {
    // No autojump: the clock moves only when the test jumps it, so data in
    // flight on the socket can never race a jump.
    const clock = new MockClock();
    await run(
      async () => {
        const [listener] = await openTcpListeners(0);
        let server: SocketStream | undefined;
        let client: SocketStream | undefined;
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            server = await listener!.accept();
          });
          client = await openTcpStream("127.0.0.1", listener!.localAddress.port);
        });
        const conn = withTimeouts(server!, { read: 5000 });
        try {
          let timedOutAt = -1;
          await openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              const { error, at } = await failure(conn.receiveSome());
              expect(error).toBeInstanceOf(TooSlowError);
              timedOutAt = at;
            });
            await waitAllTasksBlocked();
            clock.jump(5000);
          });
          expect(timedOutAt).toBe(5000);
          await client!.sendAll(bytes("hello"));
          expect(text(await conn.receiveSome())).toBe("hello");
          await conn.sendAll(bytes("world"));
          expect(text(await client!.receiveSome())).toBe("world");
        } finally {
          await conn.aclose();
          await client!.aclose();
          await listener!.aclose();
        }
      },
      { clock },
    );
  });
});
