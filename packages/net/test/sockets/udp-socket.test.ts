/**
 * UdpSocket / openUdpSocket over real UDP sockets on 127.0.0.1.
 */
import * as dgram from "node:dgram";
import { EventEmitter } from "node:events";
import {
  BrokenResourceError,
  CancelScope,
  ClosedResourceError,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
} from "@weft/core";
import { assertCheckpoints, MockClock, waitAllTasksBlocked } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { waitForEvent } from "../../src/host/io-wait.ts";
import { setCustomHostnameResolver, setCustomSocketFactory } from "../../src/sockets/tcp-seams.ts";
import { type Datagram, openUdpSocket, UdpSocket } from "../../src/sockets/udp-socket.ts";
import { rejection } from "../support/chunks.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const LOOPBACK = { address: "127.0.0.1" } as const;

async function withPair<T>(fn: (a: UdpSocket, b: UdpSocket) => Promise<T>): Promise<T> {
  const a = await openUdpSocket(LOOPBACK);
  try {
    const b = await openUdpSocket(LOOPBACK);
    try {
      return await fn(a, b);
    } finally {
      await b.aclose();
    }
  } finally {
    await a.aclose();
  }
}

/** Waits until `socket` has seen `n` more 'message' events (its UdpSocket's listener runs first). */
async function messagesSeen(socket: UdpSocket, n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await waitForEvent(socket.socket as dgram.Socket, "message", "test: message");
}

function udpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "UDPWrap").length;
}

/** Handle closes finish in a later event-loop phase: let a few turns pass (no timers). */
async function loopTurns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("UdpSocket", () => {
  test("ping-pong with addresses; send and receive are checkpoints", async () => {
    await run(async () => {
      await withPair(async (a, b) => {
        expect(a.localAddress.family).toBe(4);
        expect(a.localAddress.address).toBe("127.0.0.1");
        expect(a.localAddress.port).toBeGreaterThan(0);
        expect(a.remoteAddress).toBeNull();
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            const ping = await b.receive();
            expect(text(ping.data)).toBe("ping");
            expect(ping.data).toBeInstanceOf(Uint8Array);
            expect(ping.remoteAddress).toEqual(a.localAddress);
            await b.send(bytes("pong"), ping.remoteAddress.port, ping.remoteAddress.address);
          });
          await assertCheckpoints(() => a.send(bytes("ping"), b.localAddress.port, "127.0.0.1"));
          const pong = await assertCheckpoints(() => a.receive());
          expect(text(pong.data)).toBe("pong");
          expect(pong.remoteAddress).toEqual(b.localAddress);
        });
        // An empty datagram is a datagram.
        await a.send(new Uint8Array(0), b.localAddress.port, "127.0.0.1");
        expect((await b.receive()).data.length).toBe(0);
      });
    });
  });

  test("IPv6 on ::1 (skipped where the host has no IPv6 loopback)", async () => {
    await run(async () => {
      let a: UdpSocket;
      try {
        a = await openUdpSocket({ address: "::1" });
      } catch {
        return;
      }
      const b = await openUdpSocket({ family: 6 });
      try {
        expect(a.localAddress).toMatchObject({ family: 6, address: "::1" });
        expect(b.localAddress).toMatchObject({ family: 6, address: "::" });
        await b.send(bytes("six"), a.localAddress.port, "::1");
        const d = await a.receive();
        expect(text(d.data)).toBe("six");
        expect(d.remoteAddress).toEqual({ family: 6, address: "::1", port: b.localAddress.port });
        await expect(b.send(bytes("x"), 9, "127.0.0.1")).rejects.toThrow(TypeError);
      } finally {
        await a.aclose();
        await b.aclose();
      }
    });
  });

  test("many datagrams arrive whole and in order on loopback", async () => {
    await run(async () => {
      await withPair(async (a, b) => {
        const WINDOW = 50; // well inside the kernel's receive buffer
        let next = 0;
        for (let window = 0; window < 10; window++) {
          for (let i = 0; i < WINDOW; i++) {
            const data = new Uint8Array(100 + (i % 7) * 100);
            new DataView(data.buffer).setUint32(0, window * WINDOW + i);
            await a.send(data, b.localAddress.port, "127.0.0.1");
          }
          for (let i = 0; i < WINDOW; i++) {
            const { data } = await b.receive();
            expect(new DataView(data.buffer, data.byteOffset).getUint32(0)).toBe(next++);
            expect(data.length).toBe(100 + (i % 7) * 100);
          }
        }
        expect(b.statistics().droppedDatagrams).toBe(0);
      });
    });
  });

  test("async iteration yields datagrams until the loop breaks", async () => {
    await run(async () => {
      await withPair(async (a, b) => {
        for (const word of ["one", "two", "three"]) {
          await a.send(bytes(word), b.localAddress.port, "127.0.0.1");
        }
        const got: string[] = [];
        for await (const datagram of b) {
          got.push(text(datagram.data));
          if (got.length === 3) break;
        }
        expect(got).toEqual(["one", "two", "three"]);
      });
    });
  });

  test("the receive queue is bounded: later datagrams are dropped and counted", async () => {
    await run(async () => {
      const a = await openUdpSocket(LOOPBACK);
      const b = await openUdpSocket({ ...LOOPBACK, maxQueuedDatagrams: 4 });
      try {
        expect(b.statistics()).toEqual({
          queuedDatagrams: 0,
          maxQueuedDatagrams: 4,
          droppedDatagrams: 0,
          tasksWaitingReceive: 0,
          tasksWaitingSend: 0,
        });
        await openNursery(async (nursery) => {
          nursery.startSoon(() => messagesSeen(b, 10));
          for (let i = 0; i < 10; i++)
            await a.send(bytes(`d${i}`), b.localAddress.port, "127.0.0.1");
        });
        expect(b.statistics()).toMatchObject({ queuedDatagrams: 4, droppedDatagrams: 6 });
        const kept: string[] = [];
        for (let i = 0; i < 4; i++) kept.push(text((await b.receive()).data));
        expect(kept).toEqual(["d0", "d1", "d2", "d3"]); // the oldest are kept, as the kernel does
        // With room again, datagrams are queued again.
        await openNursery(async (nursery) => {
          nursery.startSoon(() => messagesSeen(b, 1));
          await a.send(bytes("after"), b.localAddress.port, "127.0.0.1");
        });
        expect(text((await b.receive()).data)).toBe("after");
        expect(b.statistics().droppedDatagrams).toBe(6);
      } finally {
        await a.aclose();
        await b.aclose();
      }
    });
  });

  test("concurrent receivers are served first come, first served, one datagram each", async () => {
    await run(async () => {
      await withPair(async (a, b) => {
        const got: string[] = [];
        await openNursery(async (nursery) => {
          for (const name of ["r1", "r2", "r3"]) {
            nursery.startSoon(async () => {
              const d = await b.receive();
              got.push(`${name}:${text(d.data)}`);
            });
          }
          await waitAllTasksBlocked();
          expect(b.statistics().tasksWaitingReceive).toBe(3);
          for (const word of ["x", "y", "z"])
            await a.send(bytes(word), b.localAddress.port, "127.0.0.1");
        });
        expect(got).toEqual(["r1:x", "r2:y", "r3:z"]);
      });
    });
  });

  test("cancelling a pending receive loses no datagram (MockClock + moveOnAfter)", async () => {
    await run(
      async () => {
        await withPair(async (a, b) => {
          let result: Datagram | null = null;
          await moveOnAfter(5000, async () => {
            result = await b.receive();
          });
          expect(result).toBeNull();
          expect(b.statistics().tasksWaitingReceive).toBe(0);
          await a.send(bytes("later"), b.localAddress.port, "127.0.0.1");
          expect(text((await b.receive()).data)).toBe("later");
          // Already cancelled: receive and send raise Cancelled and send nothing.
          const scope = new CancelScope();
          scope.cancel();
          await scope.run(async () => {
            expect(isCancelled(await rejection(b.receive()))).toBe(true);
            expect(
              isCancelled(await rejection(a.send(bytes("no"), b.localAddress.port, "127.0.0.1"))),
            ).toBe(true);
          });
          await a.send(bytes("yes"), b.localAddress.port, "127.0.0.1");
          expect(text((await b.receive()).data)).toBe("yes");
        });
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("aclose wakes a pending receive with ClosedResourceError; later calls throw it too", async () => {
    await run(async () => {
      const sock = await openUdpSocket(LOOPBACK);
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await expect(sock.receive()).rejects.toThrow(ClosedResourceError);
        });
        await waitAllTasksBlocked();
        await sock.aclose();
      });
      await expect(sock.receive()).rejects.toThrow(ClosedResourceError);
      await expect(sock.send(bytes("x"), 9, "127.0.0.1")).rejects.toThrow(ClosedResourceError);
      await expect(sock.connect("127.0.0.1", 9)).rejects.toThrow(ClosedResourceError);
      await sock.aclose(); // idempotent
    });
  });

  test("`await using` closes the socket at the end of the block, even when it throws", async () => {
    await run(async () => {
      let socket: UdpSocket | null = null;
      {
        await using udp = await openUdpSocket(LOOPBACK);
        socket = udp;
        await udp.send(bytes("to myself"), udp.localAddress.port, "127.0.0.1");
        expect(text((await udp.receive()).data)).toBe("to myself");
      }
      await expect(socket.send(bytes("x"), 9, "127.0.0.1")).rejects.toThrow(ClosedResourceError);
      const boom = new Error("boom");
      const opened: { socket?: UdpSocket } = {};
      const error = await rejection(
        (async () => {
          await using udp = await openUdpSocket(LOOPBACK);
          opened.socket = udp;
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      await expect(opened.socket!.receive()).rejects.toThrow(ClosedResourceError);
    });
  });

  test("a socket closed behind our back → BrokenResourceError", async () => {
    await run(async () => {
      const sock = await openUdpSocket(LOOPBACK);
      try {
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            await expect(sock.receive()).rejects.toThrow(BrokenResourceError);
          });
          await waitAllTasksBlocked();
          sock.socket.close();
        });
        await expect(sock.receive()).rejects.toThrow(BrokenResourceError);
      } finally {
        await sock.aclose();
      }
    });
  });

  test("connected sockets: send(data) goes to the peer; only the peer's datagrams arrive", async () => {
    await run(async () => {
      await withPair(async (a, b) => {
        const stranger = await openUdpSocket(LOOPBACK);
        try {
          await a.connect("127.0.0.1", b.localAddress.port);
          expect(a.remoteAddress).toEqual(b.localAddress);
          await a.send(bytes("hi"));
          const d = await b.receive();
          expect(text(d.data)).toBe("hi");
          await stranger.send(bytes("spam"), a.localAddress.port, "127.0.0.1");
          await b.send(bytes("reply"), a.localAddress.port, "127.0.0.1");
          expect(text((await a.receive()).data)).toBe("reply");
          expect(a.statistics().queuedDatagrams).toBe(0);
          // Wrong forms for the socket's state.
          await expect(a.send(bytes("x"), b.localAddress.port, "127.0.0.1")).rejects.toThrow(
            TypeError,
          );
          await expect(b.send(bytes("x"))).rejects.toThrow(TypeError);
          await expect(a.connect("127.0.0.1", 9)).rejects.toThrow(/already connected/);
        } finally {
          await stranger.aclose();
        }
      });
    });
  });

  test("a connected socket's ICMP port unreachable surfaces in one receive, with cause ECONNREFUSED", async () => {
    await run(async () => {
      const closed = await openUdpSocket(LOOPBACK);
      const port = closed.localAddress.port;
      await closed.aclose();
      const sock = await openUdpSocket(LOOPBACK);
      try {
        await sock.connect("127.0.0.1", port);
        await sock.send(bytes("anyone?"));
        const error = await rejection(sock.receive());
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).toMatch(/ECONNREFUSED/);
        expect((error as Error).cause).toMatchObject({ code: "ECONNREFUSED" });
        // The socket is still usable.
        await sock.send(bytes("still here"));
      } finally {
        await sock.aclose();
      }
    });
  });

  test("send errors: EMSGSIZE over 65507 bytes, unresolvable host; the socket stays usable", async () => {
    await run(async () => {
      await withPair(async (a, b) => {
        const port = b.localAddress.port;
        const big = await rejection(a.send(new Uint8Array(70_000), port, "127.0.0.1"));
        expect((big as Error).message).toMatch(
          /could not send a 70000-byte datagram to 127\.0\.0\.1:\d+ \(EMSGSIZE\)/,
        );
        expect((big as Error).cause).toMatchObject({ code: "EMSGSIZE" });
        await a.send(new Uint8Array(65_507), port, "127.0.0.1"); // the IPv4 maximum
        expect((await b.receive()).data.length).toBe(65_507);

        const dns = await rejection(a.send(bytes("x"), port, "nonexistent.invalid"));
        expect((dns as Error).message).toMatch(/could not resolve nonexistent\.invalid/);
        expect((dns as Error).cause).toBeInstanceOf(Error);

        await expect(a.send(bytes("x"), port, "::1")).rejects.toThrow(
          /IPv6 address; this is an IPv4 socket/,
        );
        await a.send(bytes("ok"), port, "127.0.0.1");
        expect(text((await b.receive()).data)).toBe("ok");
      });
    });
  });

  test("host names go through the run's hostname resolver", async () => {
    await run(async () => {
      const asked: string[] = [];
      setCustomHostnameResolver({
        async getaddrinfo(host, port) {
          asked.push(host);
          if (host === "nowhere.test")
            throw Object.assign(new Error("no such host"), { code: "ENOTFOUND" });
          return [
            { family: 6, address: "::1", port },
            { family: 4, address: "127.0.0.1", port },
          ];
        },
      });
      await withPair(async (a, b) => {
        await a.send(bytes("named"), b.localAddress.port, "peer.test");
        expect(text((await b.receive()).data)).toBe("named");
        const error = await rejection(a.send(bytes("x"), b.localAddress.port, "nowhere.test"));
        expect((error as Error).message).toMatch(/could not resolve nowhere\.test \(ENOTFOUND\)/);
        await a.connect("peer.test", b.localAddress.port);
        expect(a.remoteAddress).toEqual(b.localAddress);
        expect(asked).toEqual(["peer.test", "nowhere.test", "peer.test"]);
      });
    });
  });

  test("bind failures and bad arguments", async () => {
    await run(async () => {
      await withPair(async (a) => {
        const inUse = await rejection(openUdpSocket({ ...LOOPBACK, port: a.localAddress.port }));
        expect((inUse as Error).message).toMatch(
          /could not bind a UDP socket to 127\.0\.0\.1:\d+ \(EADDRINUSE\)/,
        );
        expect((inUse as Error).cause).toMatchObject({ code: "EADDRINUSE" });

        await expect(a.send("x" as unknown as Uint8Array, 9, "127.0.0.1")).rejects.toThrow(
          TypeError,
        );
        await expect(a.send(bytes("x"), 70_000, "127.0.0.1")).rejects.toThrow(RangeError);
        await expect(a.send(bytes("x"), 0, "127.0.0.1")).rejects.toThrow(RangeError);
        await expect(a.send(bytes("x"), -1, "127.0.0.1")).rejects.toThrow(RangeError);
        await expect(a.send(bytes("x"), "9" as unknown as number, "127.0.0.1")).rejects.toThrow(
          TypeError,
        );
        await expect(a.send(bytes("x"), 9, 127 as unknown as string)).rejects.toThrow(TypeError);
        await expect(a.send(bytes("x"), 9)).rejects.toThrow(TypeError);
        await expect(a.connect(5 as unknown as string, 9)).rejects.toThrow(TypeError);
        await expect(a.connect("127.0.0.1", 65_536)).rejects.toThrow(RangeError);
      });
      await expect(openUdpSocket({ port: 65_536 })).rejects.toThrow(RangeError);
      await expect(openUdpSocket({ address: 5 as unknown as string })).rejects.toThrow(TypeError);
      await expect(openUdpSocket({ family: 5 as unknown as 4 })).rejects.toThrow(TypeError);
      await expect(openUdpSocket({ family: 4, address: "::1" })).rejects.toThrow(TypeError);
      await expect(openUdpSocket({ maxQueuedDatagrams: -1 })).rejects.toThrow(RangeError);
      await expect(openUdpSocket({ reuseAddress: 1 as unknown as boolean })).rejects.toThrow(
        TypeError,
      );
      await expect(openUdpSocket(7 as never)).rejects.toThrow(TypeError);
    });
    expect(() => new UdpSocket({} as never)).toThrow(TypeError);
    const unbound = dgram.createSocket("udp4");
    expect(() => new UdpSocket(unbound)).toThrow(/bound/);
    unbound.close();
  });

  test("no UDP handle is left open after the run", async () => {
    await loopTurns();
    const before = udpHandles();
    await run(async () => {
      await withPair(async (a, b) => {
        await a.send(bytes("x"), b.localAddress.port, "127.0.0.1");
        await b.receive();
      });
      // Cancelled while binding: the socket is closed.
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          await openUdpSocket(LOOPBACK);
          throw new Error("not cancelled");
        });
        nursery.startSoon(async () => nursery.cancelScope.cancel());
      });
      // reuseAddress lets two sockets bind one port.
      const first = await openUdpSocket({ ...LOOPBACK, reuseAddress: true });
      const second = await openUdpSocket({
        ...LOOPBACK,
        port: first.localAddress.port,
        reuseAddress: true,
      });
      await first.aclose();
      await second.aclose();
    });
    await loopTurns();
    expect(udpHandles()).toBe(before);
  });
});

describe("openUdpSocket and custom socket factories", () => {
  test("a factory without bindUdp leaves UDP to Node", async () => {
    await run(async () => {
      setCustomSocketFactory({
        connect: () => Promise.reject(new Error("unused")),
      });
      const sock = await openUdpSocket(LOOPBACK);
      try {
        expect(sock.socket).toBeInstanceOf(dgram.Socket);
      } finally {
        await sock.aclose();
      }
    });
  });

  test("a factory's bindUdp must be a function", async () => {
    await run(async () => {
      const connect = () => Promise.reject(new Error("unused"));
      expect(() => setCustomSocketFactory({ connect, bindUdp: 5 as never })).toThrow(
        /factory\.bindUdp must be a function/,
      );
    });
  });

  test("a factory's bindUdp socket is used, its synchronous callbacks included", async () => {
    const sent: string[] = [];
    class FakeSocket extends EventEmitter {
      address() {
        return { family: "IPv4", address: "10.0.0.1", port: 5000 };
      }
      remoteAddress(): never {
        throw new Error("not connected");
      }
      send(msg: Buffer, port: number, address: string, callback: (e: Error | null) => void) {
        sent.push(`${text(msg)} → ${address}:${port}`);
        callback(null);
      }
      connect() {}
      close() {}
    }
    const asked: unknown[] = [];
    await run(async () => {
      setCustomSocketFactory({
        connect: () => Promise.reject(new Error("unused")),
        bindUdp: async (options) => {
          asked.push(options);
          return new FakeSocket() as never;
        },
      });
      const sock = await openUdpSocket({ port: 5000 });
      try {
        expect(sock.localAddress).toEqual({ family: 4, address: "10.0.0.1", port: 5000 });
        await sock.send(bytes("hi"), 9, "10.0.0.2");
        (sock.socket as unknown as FakeSocket).emit("message", Buffer.from("yo"), {
          family: "IPv4",
          address: "10.0.0.2",
          port: 9,
        });
        expect(text((await sock.receive()).data)).toBe("yo");
      } finally {
        await sock.aclose();
      }
    });
    expect(asked).toEqual([{ family: 4, port: 5000, reuseAddress: false }]);
    expect(sent).toEqual(["hi → 10.0.0.2:9"]);
  });
});
