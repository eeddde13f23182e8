/**
 * openTcpListeners and SocketListener over real sockets (SEMANTICS.md @weft/net,
 * Trio's test_highlevel_open_tcp_listeners.py and test_highlevel_socket.py):
 * which addresses get a listener, port sharing, busy ports, backlog and argument
 * checks, cancellation, and how SocketListener reports accept errors and closes.
 * Every socket is on loopback or a wildcard address of this machine; nothing
 * sleeps on real time.
 */
import * as dns from "node:dns";
import * as net from "node:net";
import {
  BrokenResourceError,
  CancelScope,
  ClosedResourceError,
  cancellable,
  failAfter,
  isCancelled,
  openNursery,
  run,
} from "@weft/core";
import { MockClock, waitAllTasksBlocked } from "@weft/testing";
import { afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import {
  openTcpListeners,
  openTcpStream,
  SocketListener,
  type SocketStream,
} from "../../src/index.ts";
import { errorOf, hasCode } from "../support/io.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Whether this machine can listen on IPv6 loopback (decided once, outside any run). */
let hasIPv6 = false;

beforeAll(async () => {
  const server = net.createServer();
  hasIPv6 = await new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen({ host: "::1", port: 0 }, () => resolve(true));
  });
  server.close();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * How many handles of `kind` (e.g. "TCPServerWrap") this process has open.
 * First lets libuv run the close callbacks of handles closed so far: a closed
 * handle leaves `getActiveResourcesInfo()` one or two event-loop turns after
 * `close()` (its file descriptor is closed at once). Turns of the loop, not a timer.
 */
async function countHandles(kind: string): Promise<number> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().filter((name) => name === kind).length;
}

/** A plain Node server holding `host:port` (outside weft), for "port busy" cases. */
async function holdPort(
  host: string,
  port: number,
  options: { ipv6Only?: boolean; reusePort?: boolean } = {},
): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, ...options }, () => resolve());
  });
  return server;
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

async function closeAll(listeners: readonly SocketListener[]): Promise<void> {
  for (const listener of listeners) await listener.aclose();
}

/**
 * Connects to `host:port` and returns the indexes of the listeners that
 * accepted the connection (each accepted stream is closed at once).
 */
async function whichAccepts(
  listeners: readonly SocketListener[],
  host: string,
  port: number,
): Promise<number[]> {
  const accepted: number[] = [];
  await openNursery(async (nursery) => {
    listeners.forEach((listener, i) => {
      nursery.startSoon(async () => {
        const stream = await listener.accept();
        accepted.push(i);
        await stream.aclose();
        nursery.cancelScope.cancel("accepted");
      });
    });
    const client = await openTcpStream(host, port);
    await client.aclose();
  });
  return accepted;
}

describe("openTcpListeners: addresses", () => {
  test("no host: 0.0.0.0 and (with IPv6) :: on one shared ephemeral port", async () => {
    await run(async () => {
      const listeners = await openTcpListeners(0);
      try {
        expect(listeners.length).toBe(hasIPv6 ? 2 : 1);
        const port = listeners[0]!.localAddress.port;
        expect(port).toBeGreaterThan(0);
        expect(listeners[0]!.localAddress).toEqual({ family: 4, address: "0.0.0.0", port });
        expect(await whichAccepts(listeners, "127.0.0.1", port)).toEqual([0]);
        if (hasIPv6) {
          expect(listeners[1]!.localAddress).toEqual({ family: 6, address: "::", port });
          // The IPv6 listener is IPv6-only: IPv4 clients reach the IPv4 one.
          expect(await whichAccepts(listeners, "::1", port)).toEqual([1]);
        }
      } finally {
        await closeAll(listeners);
      }
    });
  });

  test("host 127.0.0.1 gives one IPv4 listener", async () => {
    await run(async () => {
      const listeners = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        expect(listeners.length).toBe(1);
        const address = listeners[0]!.localAddress;
        expect(address.family).toBe(4);
        expect(address.address).toBe("127.0.0.1");
        expect(await whichAccepts(listeners, "127.0.0.1", address.port)).toEqual([0]);
      } finally {
        await closeAll(listeners);
      }
    });
  });

  test("host ::1 gives one IPv6 listener", async (context) => {
    if (!hasIPv6) context.skip("this machine cannot listen on IPv6");
    await run(async () => {
      const listeners = await openTcpListeners(0, { host: "::1" });
      try {
        expect(listeners.map((l) => l.localAddress)).toEqual([
          { family: 6, address: "::1", port: listeners[0]!.localAddress.port },
        ]);
      } finally {
        await closeAll(listeners);
      }
    });
  });

  test("host localhost gives one listener per resolved address, all on one port", async () => {
    const resolved = await dns.promises.lookup("localhost", { all: true, order: "verbatim" });
    const expected = [...new Set(resolved.map((a) => a.address))];
    await run(async () => {
      const listeners = await openTcpListeners(0, { host: "localhost" });
      try {
        expect(listeners.map((l) => l.localAddress.address)).toEqual(expected);
        const port = listeners[0]!.localAddress.port;
        expect(port).toBeGreaterThan(0);
        for (const listener of listeners) expect(listener.localAddress.port).toBe(port);
      } finally {
        await closeAll(listeners);
      }
    });
  });

  test("a fixed port is used as given", async () => {
    // Borrow a free port from the kernel, release it, then ask for it by number.
    const probe = await holdPort("127.0.0.1", 0);
    const port = portOf(probe);
    await new Promise((resolve) => probe.close(resolve));
    await run(async () => {
      const listeners = await openTcpListeners(port, { host: "127.0.0.1" });
      try {
        expect(listeners[0]!.localAddress.port).toBe(port);
      } finally {
        await closeAll(listeners);
      }
    });
  });
});

describe("openTcpListeners: busy ports and SO_REUSEPORT", () => {
  test("a busy port → Error naming the address, cause code EADDRINUSE", async () => {
    const holder = await holdPort("127.0.0.1", 0);
    const port = portOf(holder);
    try {
      await run(async () => {
        const error = await errorOf(() => openTcpListeners(port, { host: "127.0.0.1" }));
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).toContain(`127.0.0.1:${port}`);
        expect((error as Error).cause).toMatchObject({ code: "EADDRINUSE" });
      });
    } finally {
      holder.close();
    }
  });

  test("when a later address is busy, listeners already opened are closed", async (context) => {
    if (!hasIPv6) context.skip("needs IPv6: the second wildcard listener is the busy one");
    // Hold [::]:P (IPv6-only), so 0.0.0.0:P opens first and then [::]:P fails.
    const holder = await holdPort("::", 0, { ipv6Only: true });
    const port = portOf(holder);
    const serversBefore = await countHandles("TCPServerWrap");
    try {
      await run(async () => {
        const error = await errorOf(() => openTcpListeners(port));
        expect((error as Error).message).toContain(`[::]:${port}`);
        expect((error as Error).cause).toMatchObject({ code: "EADDRINUSE" });
      });
      expect(await countHandles("TCPServerWrap")).toBe(serversBefore);
      // The IPv4 listener really let go of the port.
      const again = await holdPort("0.0.0.0", port);
      again.close();
    } finally {
      holder.close();
    }
  });

  test("reusePort: true lets two listener sets share a port; without it the second fails", async (context) => {
    if (process.platform !== "linux") context.skip("SO_REUSEPORT load balancing is Linux's");
    await run(async () => {
      const first = await openTcpListeners(0, { host: "127.0.0.1", reusePort: true });
      try {
        const port = first[0]!.localAddress.port;
        const second = await openTcpListeners(port, { host: "127.0.0.1", reusePort: true });
        try {
          expect(second[0]!.localAddress.port).toBe(port);
          // Whichever set the kernel picks accepts the connection.
          expect((await whichAccepts([...first, ...second], "127.0.0.1", port)).length).toBe(1);
        } finally {
          await closeAll(second);
        }
        const error = await errorOf(() => openTcpListeners(port, { host: "127.0.0.1" }));
        expect((error as Error).cause).toMatchObject({ code: "EADDRINUSE" });
      } finally {
        await closeAll(first);
      }
    });
  });

  test("without reusePort a second listener on the port fails even if the first had it", async (context) => {
    if (process.platform !== "linux") context.skip("SO_REUSEPORT load balancing is Linux's");
    await run(async () => {
      const first = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        const port = first[0]!.localAddress.port;
        const error = await errorOf(() =>
          openTcpListeners(port, { host: "127.0.0.1", reusePort: true }),
        );
        expect((error as Error).cause).toMatchObject({ code: "EADDRINUSE" });
      } finally {
        await closeAll(first);
      }
    });
  });
});

describe("openTcpListeners: backlog", () => {
  /** The `backlog` each `net.Server.listen` call of `fn` was given. */
  async function backlogsPassed(fn: () => Promise<SocketListener[]>): Promise<unknown[]> {
    const listen = vi.spyOn(net.Server.prototype, "listen");
    const listeners = await fn();
    await closeAll(listeners);
    const seen = listen.mock.calls.map((args) => (args[0] as net.ListenOptions).backlog);
    listen.mockRestore();
    return seen;
  }

  test("default and large values are capped at 65535; 0 and small values pass", async () => {
    await run(async () => {
      const host = "127.0.0.1";
      expect(await backlogsPassed(() => openTcpListeners(0, { host }))).toEqual([65535]);
      // Node truncates the backlog to 32 bits: 2 ** 32 uncapped would listen(fd, 0).
      for (const backlog of [65536, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
        expect(await backlogsPassed(() => openTcpListeners(0, { host, backlog }))).toEqual([65535]);
      }
      for (const backlog of [0, 1, 100]) {
        expect(await backlogsPassed(() => openTcpListeners(0, { host, backlog }))).toEqual([
          backlog,
        ]);
      }
    });
  });

  test("a listener holds at most `backlog` connections nobody has accepted; further ones are reset", async () => {
    await run(async () => {
      for (const backlog of [0, 1, 5]) {
        const held = Math.max(backlog, 1); // 0 keeps one, as Linux's listen queue does
        const [listener] = await openTcpListeners(0, { host: "127.0.0.1", backlog });
        const port = listener!.localAddress.port;
        const clients: SocketStream[] = [];
        try {
          // Nobody accepts: Node takes every connection from the kernel at once.
          for (let i = 0; i < held + 20; i++) {
            // The listener's own 'connection' handler runs first: once ours
            // runs, this connection has been queued or refused.
            const arrived = new Promise((resolve) => listener!.server.once("connection", resolve));
            try {
              clients.push(await openTcpStream("127.0.0.1", port));
            } catch (error) {
              // Refused before our side of the connect completed.
              expect(hasCode(error, "ECONNRESET")).toBe(true);
            }
            await cancellable(arrived);
          }
          expect(listener!.statistics()).toEqual({
            queuedConnections: held,
            maxQueuedConnections: held,
            refusedConnections: 20,
            tasksWaitingAccept: 0,
          });
          // The first ones waited and are served; the rest were reset.
          for (const [i, client] of clients.entries()) {
            if (i < held) {
              const server = await listener!.accept();
              await client.sendAll(bytes("x"));
              expect((await server.receiveSome()).length).toBe(1);
              await server.aclose();
            } else {
              const error = await errorOf(() => client.receiveSome());
              expect(error).toBeInstanceOf(BrokenResourceError);
              expect(hasCode(error, "ECONNRESET")).toBe(true);
            }
          }
          // The bound is on waiting connections: once they are taken, new ones wait again.
          const arrived = new Promise((resolve) => listener!.server.once("connection", resolve));
          clients.push(await openTcpStream("127.0.0.1", port));
          await cancellable(arrived);
          expect(listener!.statistics().queuedConnections).toBe(1);
          await (await listener!.accept()).aclose();
        } finally {
          for (const client of clients) await client.aclose();
          await listener!.aclose();
        }
      }
    });
  });

  test("a connection is handed straight to a waiting accept(), so it never counts against the bound", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1", backlog: 1 });
      const port = listener!.localAddress.port;
      try {
        await openNursery(async (nursery) => {
          for (let i = 0; i < 3; i++) {
            nursery.startSoon(async () => {
              await (await listener!.accept()).aclose();
            });
          }
          await waitAllTasksBlocked();
          expect(listener!.statistics().tasksWaitingAccept).toBe(3);
          for (let i = 0; i < 3; i++) await (await openTcpStream("127.0.0.1", port)).aclose();
        });
        expect(listener!.statistics()).toMatchObject({
          queuedConnections: 0,
          refusedConnections: 0,
        });
      } finally {
        await listener!.aclose();
      }
    });
  });

  test("a bad backlog → TypeError / RangeError naming it", async () => {
    await run(async () => {
      const host = "127.0.0.1";
      for (const backlog of ["10", null, true]) {
        await expect(
          openTcpListeners(0, { host, backlog: backlog as unknown as number }),
        ).rejects.toThrow(/^options\.backlog must be a number, got /);
      }
      for (const backlog of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(openTcpListeners(0, { host, backlog })).rejects.toThrow(RangeError);
        await expect(openTcpListeners(0, { host, backlog })).rejects.toThrow(/backlog/);
      }
    });
  });
});

describe("openTcpListeners: arguments and cancellation", () => {
  test("bad port, host and options", async () => {
    await run(async () => {
      await expect(openTcpListeners("80" as unknown as number)).rejects.toThrow(TypeError);
      await expect(openTcpListeners(undefined as unknown as number)).rejects.toThrow(/port/);
      for (const port of [-1, 65536, 1.5, Number.NaN]) {
        await expect(openTcpListeners(port)).rejects.toThrow(RangeError);
        await expect(openTcpListeners(port)).rejects.toThrow(/port/);
      }
      await expect(openTcpListeners(0, { host: "" })).rejects.toThrow(TypeError);
      await expect(openTcpListeners(0, { host: 5 as unknown as string })).rejects.toThrow(/host/);
      for (const options of [null, "127.0.0.1", 5]) {
        await expect(openTcpListeners(0, options as unknown as { host: string })).rejects.toThrow(
          /^options must be an object, got /,
        );
      }
      await expect(
        openTcpListeners(0, { host: "127.0.0.1", reusePort: "yes" as unknown as boolean }),
      ).rejects.toThrow(new TypeError('options.reusePort must be a boolean, got the string "yes"'));
    });
  });

  test("a host that does not resolve → the lookup's error, nothing left listening", async () => {
    const serversBefore = await countHandles("TCPServerWrap");
    // A scripted lookup failure: a real one may wait for an unreachable DNS server.
    const notFound = Object.assign(new Error("getaddrinfo ENOTFOUND no-such-host.invalid"), {
      code: "ENOTFOUND",
    });
    const lookup = vi.spyOn(dns.promises, "lookup").mockRejectedValue(notFound);
    const listen = vi.spyOn(net.Server.prototype, "listen");
    await run(async () => {
      const error = await errorOf(() => openTcpListeners(0, { host: "no-such-host.invalid" }));
      expect(error).toBe(notFound);
    });
    expect(lookup).toHaveBeenCalledWith("no-such-host.invalid", expect.anything());
    expect(listen).not.toHaveBeenCalled();
    expect(await countHandles("TCPServerWrap")).toBe(serversBefore);
  });

  test("cancelled before listening → Cancelled, and no port is held", async () => {
    const serversBefore = await countHandles("TCPServerWrap");
    await run(async () => {
      const scope = new CancelScope();
      scope.cancel("test");
      let caught: unknown = null;
      await scope.run(async () => {
        try {
          await openTcpListeners(0, { host: "127.0.0.1" });
        } catch (error) {
          caught = error;
          throw error;
        }
      });
      expect(isCancelled(caught)).toBe(true);
      expect(scope.cancelledCaught).toBe(true);
    });
    expect(await countHandles("TCPServerWrap")).toBe(serversBefore);
  });

  test("cancelled after listen() was called, before 'listening' → no port is held", async () => {
    const serversBefore = await countHandles("TCPServerWrap");
    const realListen = net.Server.prototype.listen;
    await run(async () => {
      // Cancel right after the n-th listen() call: that listener is waiting for
      // 'listening' (Node reports it from the event loop), the ones before are open.
      for (const [options, n] of [
        [{ host: "127.0.0.1" }, 1],
        [{}, 1],
        [{}, hasIPv6 ? 2 : 1],
      ] as const) {
        const scope = new CancelScope();
        let calls = 0;
        const listen = vi.spyOn(net.Server.prototype, "listen").mockImplementation(function (
          this: net.Server,
          ...args: unknown[]
        ) {
          const result = (realListen as (...a: unknown[]) => net.Server).apply(this, args);
          if (++calls === n) scope.cancel("test");
          return result;
        });
        let caught: unknown = null;
        await scope.run(async () => {
          try {
            await openTcpListeners(0, options);
          } catch (error) {
            caught = error;
            throw error;
          }
        });
        listen.mockRestore();
        expect(calls).toBe(n);
        expect(isCancelled(caught)).toBe(true);
      }
    });
    expect(await countHandles("TCPServerWrap")).toBe(serversBefore);
  });

  test("cancelled while resolving the host → Cancelled, nothing listens", async () => {
    const serversBefore = await countHandles("TCPServerWrap");
    const realLookup = dns.promises.lookup;
    const listen = vi.spyOn(net.Server.prototype, "listen");
    await run(async () => {
      const scope = new CancelScope();
      vi.spyOn(dns.promises, "lookup").mockImplementation(((...args: unknown[]) => {
        const result = (realLookup as (...a: unknown[]) => Promise<unknown>)(...args);
        scope.cancel("test");
        return result;
      }) as typeof dns.promises.lookup);
      let caught: unknown = null;
      await scope.run(async () => {
        try {
          await openTcpListeners(0, { host: "localhost" });
        } catch (error) {
          caught = error;
          throw error;
        }
      });
      expect(isCancelled(caught)).toBe(true);
    });
    expect(listen).not.toHaveBeenCalled();
    expect(await countHandles("TCPServerWrap")).toBe(serversBefore);
  });

  test("I/O waits are external: no DeadlockError on an autojumping MockClock", async () => {
    await run(
      async () => {
        const listeners = await openTcpListeners(0, { host: "localhost" });
        await closeAll(listeners);
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });
});

describe("SocketListener", () => {
  const emfile = () => Object.assign(new Error("accept EMFILE"), { code: "EMFILE" });

  test("an EMFILE accept error is thrown once as BrokenResourceError; the next accept works", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        const cause = emfile();
        listener!.server.emit("error", cause);
        const error = await errorOf(() => listener!.accept());
        expect(error).toBeInstanceOf(BrokenResourceError);
        expect((error as Error).cause).toBe(cause);
        // Reported once: the listener is fine afterwards.
        const client = await openTcpStream("127.0.0.1", listener!.localAddress.port);
        const server = await listener!.accept();
        await client.sendAll(bytes("hi"));
        expect(new TextDecoder().decode(await server.receiveSome())).toBe("hi");
        await server.aclose();
        await client.aclose();
      } finally {
        await listener!.aclose();
      }
    });
  });

  test("an EMFILE error wakes a pending accept; two errors are thrown one at a time", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        const first = emfile();
        const second = Object.assign(new Error("accept ENFILE"), { code: "ENFILE" });
        let pendingError: unknown = null;
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            pendingError = await errorOf(() => listener!.accept());
          });
          await waitAllTasksBlocked();
          listener!.server.emit("error", first);
          listener!.server.emit("error", second);
        });
        expect((pendingError as Error).cause).toBe(first);
        expect(((await errorOf(() => listener!.accept())) as Error).cause).toBe(second);
        const client = await openTcpStream("127.0.0.1", listener!.localAddress.port);
        const server = await listener!.accept();
        await server.aclose();
        await client.aclose();
      } finally {
        await listener!.aclose();
      }
    });
  });

  test("a non-capacity accept error breaks the listener for good", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        const cause = Object.assign(new Error("accept EINVAL"), { code: "EINVAL" });
        listener!.server.emit("error", cause);
        for (let i = 0; i < 2; i++) {
          const error = await errorOf(() => listener!.accept());
          expect(error).toBeInstanceOf(BrokenResourceError);
          expect((error as Error).cause).toBe(cause);
        }
      } finally {
        await listener!.aclose();
      }
      // Closing a broken listener then reports it closed.
      await expect(listener!.accept()).rejects.toThrow(ClosedResourceError);
    });
  });

  test("a connection arriving after a non-capacity accept error is not handed out", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        const cause = Object.assign(new Error("accept EINVAL"), { code: "EINVAL" });
        listener!.server.emit("error", cause);
        await expect(listener!.accept()).rejects.toThrow(BrokenResourceError);
        // Node keeps listening after a failed accept and queues this one; a
        // broken listener must keep failing rather than hand it out.
        const queued = new Promise((resolve) => listener!.server.once("connection", resolve));
        const client = await openTcpStream("127.0.0.1", listener!.localAddress.port);
        await cancellable(queued);
        let outcome: unknown;
        try {
          const stream = await listener!.accept();
          await stream.aclose();
          outcome = stream;
        } catch (error) {
          outcome = error;
        }
        await client.aclose();
        expect(outcome).toBeInstanceOf(BrokenResourceError);
        expect((outcome as Error).cause).toBe(cause);
      } finally {
        await listener!.aclose();
      }
    });
  });

  test("a connection reset while queued is not handed out as a stream that hangs", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      const port = listener!.localAddress.port;
      try {
        const queued = new Promise<net.Socket>((resolve) =>
          listener!.server.once("connection", resolve),
        );
        const doomed = await openTcpStream("127.0.0.1", port);
        const serverSide = await cancellable(queued);
        const gone = new Promise((resolve) => serverSide.once("close", resolve));
        doomed.socket.resetAndDestroy();
        // Node reads the RST while the socket waits in the queue and closes it.
        await cancellable(gone);
        const good = await openTcpStream("127.0.0.1", port);
        await good.sendAll(bytes("hi"));
        // Either accept() skips the dead connection, or its stream reports the
        // reset at once; it must not wait for events that already happened.
        const stream = await listener!.accept();
        let outcome: unknown;
        try {
          // A guard against hanging, not a timing assertion.
          outcome = await failAfter(1000, () => stream.receiveSome());
        } catch (error) {
          outcome = error;
        }
        await stream.aclose();
        await good.aclose();
        await doomed.aclose();
        if (outcome instanceof Uint8Array) {
          expect(["hi", ""]).toContain(new TextDecoder().decode(outcome));
        } else {
          expect(outcome).toBeInstanceOf(BrokenResourceError);
        }
      } finally {
        await listener!.aclose();
      }
    });
  });

  test("the constructor's backlog: Node's 511 by default; a bad one → TypeError / RangeError", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      try {
        const server = listener!.server;
        expect(new SocketListener(server).statistics().maxQueuedConnections).toBe(511);
        expect(new SocketListener(server, { backlog: 7 }).statistics().maxQueuedConnections).toBe(
          7,
        );
        expect(() => new SocketListener(server, { backlog: "7" as unknown as number })).toThrow(
          /^options\.backlog must be a number, got the string "7"$/,
        );
        expect(() => new SocketListener(server, { backlog: -1 })).toThrow(RangeError);
      } finally {
        await listener!.aclose();
      }
    });
  });

  test("aclose wakes a pending accept with ClosedResourceError", async () => {
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      let pendingError: unknown = null;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          pendingError = await errorOf(() => listener!.accept());
        });
        await waitAllTasksBlocked();
        await listener!.aclose();
      });
      expect(pendingError).toBeInstanceOf(ClosedResourceError);
    });
  });

  test("connections queued but never accepted are destroyed on aclose", async () => {
    const socketsBefore = await countHandles("TCPSocketWrap");
    const serversBefore = await countHandles("TCPServerWrap");
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      const port = listener!.localAddress.port;
      const clients = [];
      for (let i = 0; i < 3; i++) {
        // The listener's own 'connection' handler runs first: once ours runs
        // the socket is in its queue.
        const queued = new Promise((resolve) => listener!.server.once("connection", resolve));
        clients.push(await openTcpStream("127.0.0.1", port));
        await cancellable(queued);
      }
      await listener!.aclose();
      for (const client of clients) {
        // The server side was destroyed with nothing unread: a clean EOF.
        expect((await client.receiveSome()).length).toBe(0);
        await client.aclose();
      }
    });
    expect(await countHandles("TCPSocketWrap")).toBe(socketsBefore);
    expect(await countHandles("TCPServerWrap")).toBe(serversBefore);
  });

  test("aclose is idempotent and closes even when cancelled", async () => {
    const serversBefore = await countHandles("TCPServerWrap");
    await run(async () => {
      const [listener] = await openTcpListeners(0, { host: "127.0.0.1" });
      const scope = new CancelScope();
      scope.cancel("test");
      await scope.run(() => listener!.aclose());
      expect(scope.cancelledCaught).toBe(true);
      expect(listener!.server.listening).toBe(false);
      await listener!.aclose();
      await expect(listener!.accept()).rejects.toThrow(ClosedResourceError);
    });
    expect(await countHandles("TCPServerWrap")).toBe(serversBefore);
  });
});
