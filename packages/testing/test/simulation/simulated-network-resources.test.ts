/**
 * What the simulated network keeps per connection: ephemeral ports are reused
 * once freed (and run out like Node's, with EADDRNOTAVAIL), and a connection
 * whose ends have both closed, or that was reset, is forgotten by its hosts
 * and paths.
 */
import { ClosedResourceError, sleep } from "@weft/core";
import {
  openTcpListeners,
  openTcpStream,
  openUdpSocket,
  type SocketListener,
  serveTcp,
} from "@weft/net";
import { Simulation } from "@weft/testing/simulation";
import { describe, expect, test } from "vitest";
import { rejection } from "../../../core/test/support/helpers.ts";
import { currentSocketFactory } from "../../../net/src/sockets/tcp-seams.ts";
import type { SimulatedNetwork } from "../../src/simulation/simulated-network.ts";

const tracked = () => (currentSocketFactory() as SimulatedNetwork).statistics();

/** The innermost error under `cause` and `errors` (openTcpStream wraps its attempts' errors). */
function innermost(error: unknown): unknown {
  let current = error as { errors?: unknown[]; cause?: unknown };
  while (true) {
    if (Array.isArray(current.errors) && current.errors.length > 0)
      current = current.errors[0] as typeof current;
    else if (current.cause instanceof Error) current = current.cause;
    else return current;
  }
}

describe("the simulated network's resources", () => {
  test("a connection both ends closed is forgotten: hosts, paths and ports are back to empty", async () => {
    const stats: unknown[] = [];
    const sim = new Simulation({ seed: 1, latency: 1 });
    sim.host("s", () =>
      serveTcp(async (stream) => {
        for await (const _ of stream) {
        }
      }, 7),
    );
    sim.client("c", async () => {
      const stream = await openTcpStream("s", 7);
      stats.push(tracked());
      for (let i = 0; i < 2000; i++) {
        const other = await openTcpStream("s", 7);
        await other.sendAll(new Uint8Array(1));
        await other.sendEof();
        expect((await other.receiveSome()).length).toBe(0); // the server's end closed
        await other.aclose();
      }
      stats.push(tracked()); // only the first connection is live
      await stream.aclose();
      stats.push(tracked()); // the server's end has not seen the FIN yet
      await sleep(2);
      stats.push(tracked());
    });
    await sim.run();
    expect(stats).toEqual([
      { connections: 2, links: 2, connectionPorts: 1 },
      { connections: 2, links: 2, connectionPorts: 1 },
      { connections: 2, links: 2, connectionPorts: 1 },
      { connections: 0, links: 0, connectionPorts: 0 },
    ]);
  });

  test("a reset connection is forgotten at once (a crash resets every connection of the host)", async () => {
    const stats: unknown[] = [];
    const sim = new Simulation({ seed: 1, latency: 1 });
    sim.host("s", () =>
      serveTcp(async (stream) => {
        for await (const _ of stream) {
        }
      }, 7),
    );
    sim.client("c", async () => {
      await openTcpStream("s", 7);
      await openTcpStream("s", 7);
      stats.push(tracked());
      sim.crash("s");
      stats.push(tracked());
    });
    await sim.run();
    expect(stats).toEqual([
      { connections: 4, links: 4, connectionPorts: 2 },
      { connections: 0, links: 0, connectionPorts: 0 },
    ]);
  });

  // A few seconds: 16,394 connections.
  test("ephemeral ports wrap around: a host opens more than 16,384 connections one after another", {
    timeout: 60_000,
  }, async () => {
    const ports: number[] = [];
    const sim = new Simulation({ seed: 1, latency: 0 });
    sim.host("s", () =>
      serveTcp(async (stream) => {
        for await (const _ of stream) {
        }
      }, 7),
    );
    sim.client("c", async () => {
      for (let i = 0; i < 16_384 + 10; i++) {
        const stream = await openTcpStream("s", 7);
        ports.push(stream.localAddress.port);
        await stream.aclose();
      }
    });
    await sim.run();
    expect(ports.slice(0, 2)).toEqual([49_152, 49_153]);
    expect(ports[16_383]).toBe(65_535);
    expect(ports.slice(16_384)).toEqual([
      49_152, 49_153, 49_154, 49_155, 49_156, 49_157, 49_158, 49_159, 49_160, 49_161,
    ]);
  });

  test("with every ephemeral port in use, connect fails with EADDRNOTAVAIL; a closed connection frees its port", async () => {
    let opened = 0;
    let error: unknown;
    const ports: number[] = [];
    const sim = new Simulation({ seed: 1, latency: 0 });
    sim.host("s", () =>
      serveTcp(async (stream) => {
        for await (const _ of stream) {
        }
      }, 7),
    );
    sim.client("c", async () => {
      // Listeners take most ports (cheaper than connections), connections the rest.
      for (let i = 0; i < 16_380; i++) await openTcpListeners(0);
      const streams = [];
      while (true) {
        try {
          streams.push(await openTcpStream("s", 7));
        } catch (caught) {
          error = caught;
          break;
        }
      }
      opened = streams.length;
      ports.push(...streams.map((stream) => stream.localAddress.port));
      await streams[1]!.aclose(); // the server's end closes on the EOF
      await sleep(1);
      ports.push((await openTcpStream("s", 7)).localAddress.port);
    });
    await sim.run();
    expect(opened).toBe(4);
    expect(ports).toEqual([65_532, 65_533, 65_534, 65_535, 65_533]);
    const cause = innermost(error) as { code: string; message: string };
    expect(cause.code).toBe("EADDRNOTAVAIL");
    expect(cause.message).toMatch(
      /^connect EADDRNOTAVAIL 10\.0\.0\.\d:7: every ephemeral port of host "c"/,
    );
  });

  test("`await using` closes a simulated listener at the end of the block, even when it throws: its port is free again", async () => {
    const sim = new Simulation({ seed: 1, latency: 1 });
    sim.client("c", async () => {
      let listener: SocketListener | null = null;
      {
        await using tcpListener = (await openTcpListeners(7))[0]!;
        listener = tcpListener;
      }
      expect(await rejection(listener.accept())).toBeInstanceOf(ClosedResourceError);
      const boom = new Error("boom");
      const opened: { listener?: SocketListener } = {};
      const error = await rejection(
        (async () => {
          await using tcpListener = (await openTcpListeners(7))[0]!; // not EADDRINUSE
          opened.listener = tcpListener;
          throw boom;
        })(),
      );
      expect(error).toBe(boom);
      expect(await rejection(opened.listener!.accept())).toBeInstanceOf(ClosedResourceError);
      const [last] = await openTcpListeners(7); // the port is free again
      await last!.aclose();
    });
    await sim.run();
  });

  test("listen and UDP bind on port 0 skip the ports live connections use", async () => {
    const got: number[] = [];
    const sim = new Simulation({ seed: 1, latency: 0 });
    sim.host("s", () => serveTcp(async () => {}, 7));
    sim.client("c", async () => {
      const stream = await openTcpStream("s", 7); // 49152
      const [listener] = await openTcpListeners(0);
      got.push(stream.localAddress.port, (listener!.localAddress as { port: number }).port);
      const socket = await openUdpSocket();
      got.push(socket.localAddress.port);
    });
    await sim.run();
    expect(got).toEqual([49_152, 49_153, 49_154]);
  });
});
