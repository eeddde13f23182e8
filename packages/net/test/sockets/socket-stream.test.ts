/**
 * SocketStream, SocketListener, openTcpStream and openTcpListeners over real
 * sockets on 127.0.0.1 (default clock, no sleeps).
 */
import {
  BrokenResourceError,
  BusyResourceError,
  Cancelled,
  CancelScope,
  ClosedResourceError,
  ExceptionGroup,
  isCancelled,
  openNursery,
  run,
} from "@weft/core";
import { MockClock, waitAllTasksBlocked } from "@weft/testing";
import { checkCancelledSendAll, checkHalfCloseableStream } from "@weft/testing/streams";
import { describe, expect, test } from "vitest";
import { siblingStepsDuringSwallowingLoop } from "../../../core/test/support/swallowing-loop.ts";
import {
  openTcpListeners,
  openTcpStream,
  type SocketListener,
  SocketStream,
} from "../../src/index.ts";
import {
  cancelOnceBlocked,
  clogged,
  errorOf,
  filled,
  receiveExactly,
  tcpStreamPair,
  withTcpListener,
} from "../support/io.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function cloggedPair(listener: SocketListener): Promise<[SocketStream, SocketStream]> {
  return clogged(await tcpStreamPair(listener));
}

function leaves(error: unknown): unknown[] {
  return error instanceof ExceptionGroup ? (error.errors as unknown[]).flatMap(leaves) : [error];
}

async function expectBusy(fn: () => Promise<unknown>): Promise<void> {
  let caught: unknown = null;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  const errors = leaves(caught).filter((e) => !isCancelled(e));
  expect(errors.length).toBe(1);
  expect(errors[0]).toBeInstanceOf(BusyResourceError);
}

describe("SocketStream over TCP", () => {
  test("echo roundtrip, addresses and EOF", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        expect(listener.localAddress.family).toBe(4);
        expect(listener.localAddress.address).toBe("127.0.0.1");
        expect(listener.localAddress.port).toBeGreaterThan(0);
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            const server = await listener.accept();
            try {
              while (true) {
                const chunk = await server.receiveSome();
                if (chunk.length === 0) break;
                await server.sendAll(chunk);
              }
              await server.sendEof();
            } finally {
              await server.aclose();
            }
          });
          const client = await openTcpStream("127.0.0.1", listener.localAddress.port);
          try {
            expect(client.remoteAddress).toEqual(listener.localAddress);
            expect(client.localAddress.family).toBe(4);
            expect(client.localAddress.address).toBe("127.0.0.1");
            await client.sendAll(bytes("hello, "));
            await client.sendAll(bytes("world"));
            expect(text(await receiveExactly(client, 12))).toBe("hello, world");
            await client.sendEof();
            expect((await client.receiveSome()).length).toBe(0);
          } finally {
            await client.aclose();
          }
        });
      });
    });
  });

  test("receiveSome respects maxBytes and keeps the rest in order", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          const data = new Uint8Array(200_000);
          for (let i = 0; i < data.length; i++) data[i] = i % 251;
          await openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              await a.sendAll(data);
              await a.sendEof();
            });
            const got: number[] = [];
            let max = 1;
            while (true) {
              const chunk = await b.receiveSome(max);
              if (chunk.length === 0) break;
              expect(chunk.length).toBeLessThanOrEqual(max);
              for (const x of chunk) got.push(x);
              max = (max * 7 + 3) % 10_000 || 1;
            }
            expect(got.length).toBe(data.length);
            expect(Uint8Array.from(got)).toEqual(data);
          });
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
  });

  test("I/O waits are external: no DeadlockError on an autojumping MockClock", async () => {
    await run(
      async () => {
        await withTcpListener(async (listener) => {
          const [a, b] = await tcpStreamPair(listener);
          try {
            await openNursery(async (nursery) => {
              nursery.startSoon(async () => {
                const chunk = await b.receiveSome();
                await b.sendAll(chunk);
              });
              await a.sendAll(bytes("ping"));
              expect(text(await receiveExactly(a, 4))).toBe("ping");
            });
          } finally {
            await a.aclose();
            await b.aclose();
          }
        });
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("passes checkHalfCloseableStream", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        await checkHalfCloseableStream(
          () => tcpStreamPair(listener),
          () => cloggedPair(listener),
        );
      });
    });
  }, 60_000);

  test("passes checkCancelledSendAll", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        await checkCancelledSendAll(() => cloggedPair(listener));
      });
    });
  });

  test("concurrent receiveSome / sendAll throw BusyResourceError", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          await expectBusy(() =>
            openNursery(async (nursery) => {
              nursery.startSoon(() => a.receiveSome());
              nursery.startSoon(() => a.receiveSome());
            }),
          );
          // sendAll holds the send side until its write callback fires.
          await expectBusy(() =>
            openNursery(async (nursery) => {
              nursery.startSoon(() => b.sendAll(new Uint8Array(10)));
              nursery.startSoon(() => b.sendAll(new Uint8Array(10)));
            }),
          );
          await expectBusy(() =>
            openNursery(async (nursery) => {
              nursery.startSoon(() => b.sendAll(new Uint8Array(10)));
              nursery.startSoon(() => b.sendEof());
            }),
          );
          // Both streams still work afterwards.
          await b.sendAll(bytes("ok"));
          expect(text(await receiveExactly(a, 20 + 2)).endsWith("ok")).toBe(true);
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
  });

  test("peer reset → BrokenResourceError with cause; our close → ClosedResourceError", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          b.socket.resetAndDestroy();
          let error: unknown;
          try {
            await a.receiveSome();
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(BrokenResourceError);
          expect((error as Error).cause).toMatchObject({ code: "ECONNRESET" });
          await expect(a.sendAll(bytes("x"))).rejects.toThrow(BrokenResourceError);
          await a.aclose();
          await expect(a.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
          await expect(a.receiveSome()).rejects.toThrow(ClosedResourceError);
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
  });

  test("a socket destroyed under the stream after its peer's EOF refuses sends, still reads EOF", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          await b.sendEof();
          expect((await a.receiveSome()).length).toBe(0);
          a.socket.destroy(); // not through aclose: Node, or someone else, did it
          await expect(a.sendAll(bytes("lost?"))).rejects.toThrow(BrokenResourceError);
          expect((await a.receiveSome()).length).toBe(0);
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
  });

  test("accept after the listener is closed throws ClosedResourceError", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await expect(listener!.accept()).rejects.toThrow(ClosedResourceError);
        });
        await listener!.aclose();
      });
      await expect(listener!.accept()).rejects.toThrow(ClosedResourceError);
    });
  });

  test("`await using` closes the listener and the stream at the end of the block: the peer sees EOF", async () => {
    await run(async () => {
      let listener: SocketListener | null = null;
      let client: SocketStream | null = null;
      let server: SocketStream | null = null;
      {
        await using tcpListener = (await openTcpListeners(0, { host: "127.0.0.1" }))[0]!;
        listener = tcpListener;
        [client, server] = await tcpStreamPair(tcpListener);
        await using stream = client;
        await stream.sendAll(bytes("hi"));
        expect(text(await receiveExactly(server, 2))).toBe("hi");
      }
      try {
        expect((await server.receiveSome()).length).toBe(0);
        await expect(client.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
        await expect(listener.accept()).rejects.toThrow(ClosedResourceError);
      } finally {
        await server.aclose();
      }
    });
  });

  test("`await using` closes the listener and the stream when the block throws", async () => {
    await run(async () => {
      const boom = new Error("boom");
      const opened: {
        listener?: SocketListener;
        client?: SocketStream;
        server?: SocketStream;
      } = {};
      const error = await errorOf(async () => {
        await using listener = (await openTcpListeners(0, { host: "127.0.0.1" }))[0]!;
        opened.listener = listener;
        [opened.client, opened.server] = await tcpStreamPair(listener);
        await using _client = opened.client;
        throw boom;
      });
      expect(error).toBe(boom);
      try {
        expect((await opened.server!.receiveSome()).length).toBe(0);
        await expect(opened.client!.sendAll(bytes("x"))).rejects.toThrow(ClosedResourceError);
        await expect(opened.listener!.accept()).rejects.toThrow(ClosedResourceError);
      } finally {
        await opened.server!.aclose();
      }
    });
  });

  test("connecting to a closed port fails", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      const port = listener!.localAddress.port;
      await listener!.aclose();
      await expect(openTcpStream("127.0.0.1", port)).rejects.toThrow(
        /all attempts to connect to 127.0.0.1:\d+ failed/,
      );
    });
  });

  test("bad arguments", async () => {
    await run(async () => {
      await expect(openTcpStream(1 as unknown as string, 80)).rejects.toThrow(TypeError);
      await expect(openTcpStream("127.0.0.1", "80" as unknown as number)).rejects.toThrow(
        TypeError,
      );
      await expect(openTcpStream("127.0.0.1", -1)).rejects.toThrow(RangeError);
      await expect(openTcpStream("127.0.0.1", 65536)).rejects.toThrow(RangeError);
      await expect(openTcpStream("127.0.0.1", 1.5)).rejects.toThrow(RangeError);
      await expect(openTcpListeners(70_000)).rejects.toThrow(RangeError);
      await expect(openTcpListeners(0, { host: 5 as unknown as string })).rejects.toThrow(
        TypeError,
      );
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          await expect(a.receiveSome(0)).rejects.toThrow(RangeError);
          await expect(a.sendAll("x" as unknown as Uint8Array)).rejects.toThrow(TypeError);
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
    expect(() => new SocketStream({} as never)).toThrow(TypeError);
  });
});

// SEMANTICS.md, "Run loop": every operation that raises Cancelled is a
// schedule point first, so a loop that swallows Cancelled cannot starve other
// tasks, timers or signals.
describe("the cancel path of socket operations is a schedule point", () => {
  type MakeOperation = (
    pair: [SocketStream, SocketStream],
    listener: SocketListener,
  ) => () => Promise<unknown>;
  const operations: [string, MakeOperation][] = [
    [
      "SocketStream.receiveSome()",
      ([client]) =>
        () =>
          client.receiveSome(),
    ],
    [
      "SocketStream.sendAll()",
      ([client]) =>
        () =>
          client.sendAll(bytes("x")),
    ],
    [
      "SocketStream.waitSendAllMightNotBlock()",
      ([c]) =>
        () =>
          c.waitSendAllMightNotBlock(),
    ],
    ["SocketListener.accept()", (_, listener) => () => listener.accept()],
  ];
  for (const [name, make] of operations) {
    test(`${name}: a loop swallowing its Cancelled lets a sibling run every time`, async () => {
      const ITERATIONS = 20;
      const siblingSteps = await run(
        () =>
          withTcpListener(async (listener) => {
            const pair = await tcpStreamPair(listener);
            try {
              return await siblingStepsDuringSwallowingLoop(make(pair, listener), ITERATIONS);
            } finally {
              for (const stream of pair) await stream.aclose();
            }
          }),
        { handleSignals: false },
      );
      expect(siblingSteps).toBeGreaterThanOrEqual(ITERATIONS - 1);
    });
  }
});

describe("a cancelled sendAll breaks sending (SEMANTICS.md, I/O resources)", () => {
  const MiB = 1024 * 1024;
  /** The documented bound on what sendAll leaves in Node's write buffer. */
  const SEND_BUFFER_BOUND = 64 * 1024;

  /** Reads `stream` to EOF; returns how many bytes of each value arrived. */
  async function countBytes(stream: SocketStream): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    for await (const chunk of stream) {
      for (const b of chunk) counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    return counts;
  }

  function expectPreviousSendCancelled(error: unknown): void {
    expect(error).toBeInstanceOf(BrokenResourceError);
    expect((error as Error).message).toMatch(/a previous sendAll was cancelled/);
    expect((error as Error).cause).toBeInstanceOf(Cancelled);
  }

  test("later sendAll calls raise BrokenResourceError and write nothing; the peer gets a prefix of the cancelled data", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          // The peer does not read yet: 16 MiB is more than loopback buffers hold.
          const first = await cancelOnceBlocked(() => a.sendAll(filled(16 * MiB, 0x11)));
          expect(first).toEqual({ cancelled: true, error: null });
          let counts = new Map<number, number>();
          await openNursery(async (nursery) => {
            nursery.startSoon(async () => {
              counts = await countBytes(b); // the peer reads from now on
            });
            for (const value of [0x22, 0x33]) {
              expectPreviousSendCancelled(await errorOf(() => a.sendAll(filled(8 * MiB, value))));
            }
            expectPreviousSendCancelled(await errorOf(() => a.waitSendAllMightNotBlock()));
            await a.sendEof(); // still works: the peer sees EOF after the prefix
          });
          expect([...counts.keys()]).toEqual([0x11]);
          expect(counts.get(0x11)).toBeLessThanOrEqual(16 * MiB);
          // Receiving is unaffected.
          await b.sendAll(bytes("still receiving"));
          expect(text(await receiveExactly(a, 15))).toBe("still receiving");
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
  });

  test("a sendAll cancelled before it writes anything breaks sending too", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          const scope = new CancelScope();
          scope.cancel();
          await scope.run(() => a.sendAll(bytes("never")));
          expect(scope.cancelledCaught).toBe(true);
          expectPreviousSendCancelled(await errorOf(() => a.sendAll(bytes("not either"))));
          await a.sendEof();
          expect((await b.receiveSome()).length).toBe(0);
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
  });

  test("repeated cancelled sends keep Node's write buffer within the documented 64 KiB", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          // The peer never reads. The first sends fill the kernel's buffers;
          // one blocks and is cancelled; every later one is refused.
          const outcomes: string[] = [];
          for (let i = 0; i < 40; i++) {
            const outcome = await cancelOnceBlocked(() => a.sendAll(filled(MiB, i)));
            outcomes.push(
              outcome.cancelled ? "cancelled" : outcome.error === null ? "sent" : "refused",
            );
            if (outcome.error !== null) expectPreviousSendCancelled(outcome.error);
            expect(a.socket.writableLength).toBeLessThanOrEqual(SEND_BUFFER_BOUND);
          }
          const firstCancelled = outcomes.indexOf("cancelled");
          expect(firstCancelled).toBeGreaterThan(0);
          expect(outcomes.slice(firstCancelled + 1).every((o) => o === "refused")).toBe(true);
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
  });

  test("a sendAll that blocks keeps at most 64 KiB of its data in Node's write buffer", async () => {
    await run(async () => {
      await withTcpListener(async (listener) => {
        const [a, b] = await tcpStreamPair(listener);
        try {
          await openNursery(async (nursery) => {
            nursery.startSoon(() => a.sendAll(filled(16 * MiB, 0x44)));
            await waitAllTasksBlocked(); // the send is parked: the kernel is full
            expect(a.socket.writableLength).toBeGreaterThan(0);
            expect(a.socket.writableLength).toBeLessThanOrEqual(SEND_BUFFER_BOUND);
            // Once the peer reads, the send completes.
            const got = await receiveExactly(b, 16 * MiB);
            expect(got.every((x) => x === 0x44)).toBe(true);
          });
        } finally {
          await a.aclose();
          await b.aclose();
        }
      });
    });
  });
});
