/**
 * serveHttp's cancellation: a client that goes away cancels its handler (and
 * what the handler awaits upstream); cancelling the server shuts it down
 * gracefully — idle connections closed, requests in flight given the grace
 * period, then cancelled, every finally run, every socket closed.
 */
import * as net from "node:net";
import {
  CancelScope,
  cancellable,
  Event,
  lowlevel,
  type Nursery,
  openNursery,
  run,
  sleep,
  sleepForever,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";
import {
  type HttpLogEntry,
  type SocketListener,
  serveHttp,
  fetch as weftFetch,
} from "../../src/index.ts";
import { rawExchange, withServer } from "../support/http-server.ts";

describe("a client that goes away cancels its handler", () => {
  test("the handler's finally runs within milliseconds, its signals abort, and it is logged as 499", async () => {
    const started = new Event();
    const done = new Event();
    const seen: string[] = [];
    await withServer(
      async (request) => {
        started.set();
        try {
          await sleepForever();
        } finally {
          seen.push(`finally: request.signal.aborted=${request.signal.aborted}`);
          done.set();
        }
        return new Response("never");
      },
      async ({ base, logged }) => {
        const controller = new AbortController();
        const response = globalThis.fetch(`${base}/wait`, { signal: controller.signal });
        response.catch(() => {});
        await started.wait();
        const abortedAt = performance.now();
        controller.abort();
        await done.wait();
        expect(performance.now() - abortedAt).toBeLessThan(1_000);
        expect(seen).toEqual(["finally: request.signal.aborted=true"]);
        await expect(response).rejects.toThrow();
        await sleep(10);
        expect(logged).toEqual([
          expect.objectContaining({ outcome: "client-disconnected", status: 499, url: "/wait" }),
        ]);
      },
    );
  });

  test("a fetch the handler made upstream is aborted too (the upstream handler sees its client leave)", async () => {
    const upstreamStarted = new Event();
    const upstreamCancelled = new Event();
    await withServer(
      async (request) => {
        const url = new URL(request.url);
        if (url.pathname === "/upstream") {
          upstreamStarted.set();
          try {
            await sleepForever();
          } finally {
            upstreamCancelled.set();
          }
        }
        // The front handler calls upstream with weft's fetch: cancelling the
        // handler's scope closes that connection.
        const upstream = await weftFetch(new URL("/upstream", url));
        return new Response(await upstream.text());
      },
      async ({ base }) => {
        const controller = new AbortController();
        globalThis.fetch(`${base}/front`, { signal: controller.signal }).catch(() => {});
        await upstreamStarted.wait();
        controller.abort();
        await upstreamCancelled.wait();
      },
    );
  });
});

/** serveHttp in a nursery of its own, so that a test can cancel it alone. */
async function startServer(
  outer: Nursery,
  handler: (request: Request) => Promise<Response>,
  options: { gracePeriod?: number; keepAliveTimeout?: number; requestTimeout?: number } = {},
): Promise<{ port: number; scope: CancelScope; logged: HttpLogEntry[]; stopped: Event }> {
  const scope = new CancelScope();
  const logged: HttpLogEntry[] = [];
  const stopped = new Event();
  const [listener] = await outer.start<SocketListener[]>(async (taskStatus) => {
    try {
      await scope.run(() =>
        serveHttp(handler, {
          port: 0,
          host: "127.0.0.1",
          log: (entry) => logged.push(entry),
          taskStatus,
          ...options,
        }),
      );
    } finally {
      stopped.set();
    }
  });
  return { port: listener!.localAddress.port, scope, logged, stopped };
}

/**
 * Sends `GET /` on a new connection and stops reading once the first bytes
 * of the response arrived; `readToEnd()` reads on until the server closes the
 * connection and says what came (the body's length, from the head's end).
 */
async function pausedDownload(port: number): Promise<{
  socket: net.Socket;
  readToEnd(): Promise<{ status: number; bodyBytes: number }>;
}> {
  const socket = await connectIdle(port);
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    if (chunks.length === 1) socket.pause();
  });
  socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  // Polled, not awaited: on an autojumping MockClock a wait with no deadline
  // of its own would let the clock jump to the connection's headersTimeout.
  while (chunks.length === 0) await sleep(1);
  return {
    socket,
    async readToEnd() {
      socket.resume();
      await cancellable(ended);
      const raw = Buffer.concat(chunks);
      const headEnd = raw.indexOf("\r\n\r\n");
      return {
        status: Number(raw.subarray(9, 12).toString()),
        bodyBytes: raw.length - headEnd - 4,
      };
    },
  };
}

function connectIdle(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) resolve();
    else socket.on("close", () => resolve());
    socket.resume();
  });
}

describe("graceful shutdown", () => {
  test("cancelled: idle connections close at once, a request in flight finishes with Connection: close, then serveHttp returns", async () => {
    await run(
      async () => {
        await openNursery(async (nursery) => {
          const inFlight = new Event();
          const finish = new Event();
          const server = await startServer(
            nursery,
            async () => {
              inFlight.set();
              await finish.wait();
              return new Response("finished");
            },
            { gracePeriod: 10_000 },
          );
          const idle = await connectIdle(server.port);
          const idleClosed = closed(idle);
          const response = rawExchange(server.port, "GET /work HTTP/1.1\r\nHost: x\r\n\r\n");
          await inFlight.wait();
          server.scope.cancel();
          await idleClosed; // closed by the shutdown, not by a timeout
          expect(server.stopped.isSet()).toBe(false); // the request is still in flight
          // New connections are refused once the listener is closed.
          await sleep(20);
          await expect(connectIdle(server.port)).rejects.toThrow(/ECONNREFUSED/);
          finish.set();
          const raw = await response;
          expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
          expect(raw).toMatch(/\r\nConnection: close\r\n/i);
          expect(raw.endsWith("finished")).toBe(true);
          await server.stopped.wait();
        });
      },
      { handleSignals: false },
    );
  });

  test("a response still going out when the shutdown begins is sent in full before its connection closes", async () => {
    // Regression (found by serve-http-process-faults.test.ts): the request's
    // task ended at res.end() with most of a large body still in the socket's
    // buffer; the shutdown found the connection idle and destroyed it,
    // cutting the response short.
    const size = 4 * 1024 * 1024;
    await run(
      async () => {
        await openNursery(async (nursery) => {
          const server = await startServer(
            nursery,
            async () => new Response(new Uint8Array(size).fill(0x2e)),
            { gracePeriod: 10_000 },
          );
          const client = await pausedDownload(server.port);
          server.scope.cancel();
          // Whatever the shutdown does without the client reading, it has done.
          await lowlevel.waitAllTasksBlocked();
          expect(await client.readToEnd()).toEqual({ status: 200, bodyBytes: size });
          await server.stopped.wait();
        });
      },
      { handleSignals: false },
    );
  });

  test("after the grace period, requests still running are cancelled (their finally runs) and get 503", async () => {
    const order: string[] = [];
    await run(
      async () => {
        await openNursery(async (nursery) => {
          const inFlight = new Event();
          const server = await startServer(
            nursery,
            async (request) => {
              inFlight.set();
              try {
                await sleepForever();
              } finally {
                order.push(`handler finally: request.signal.aborted=${request.signal.aborted}`);
              }
              return new Response("never");
            },
            { gracePeriod: 50 },
          );
          const response = rawExchange(server.port, "GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n");
          await inFlight.wait();
          server.scope.cancel();
          await server.stopped.wait();
          order.push("serveHttp returned");
          const raw = await response;
          expect(raw).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
          expect(server.logged).toEqual([
            expect.objectContaining({ outcome: "shutdown", url: "/stuck" }),
          ]);
        });
      },
      { handleSignals: false },
    );
    expect(order).toEqual(["handler finally: request.signal.aborted=true", "serveHttp returned"]);
  });

  test("aborting run()'s signal shuts the server down the same way, and run() returns only when every socket is closed", async () => {
    const controller = new AbortController();
    let finallyRan = false;
    const outcome = run(
      async () => {
        await openNursery(async (nursery) => {
          const inFlight = new Event();
          const server = await startServer(
            nursery,
            async () => {
              inFlight.set();
              try {
                await sleep(30);
              } finally {
                finallyRan = true;
              }
              return new Response("done in time");
            },
            { gracePeriod: 5_000 },
          );
          const response = rawExchange(server.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
          await inFlight.wait();
          controller.abort(new Error("stop"));
          expect(await response).toMatch(/done in time$/);
        });
      },
      { handleSignals: false, signal: controller.signal },
    );
    await expect(outcome).rejects.toThrow("stop");
    expect(finallyRan).toBe(true);
    expect(process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap")).toEqual([]);
  });
});

describe("the keep-alive limit of a connection", () => {
  test("counts from the end of the last response's sending, not from the handler's return: a slow reader gets all of it", async () => {
    // Regression: the idle time began when the handler's task ended, at
    // res.end(), with most of a large body still in the socket's buffer; a
    // client reading it for longer than keepAliveTimeout lost the rest.
    const size = 4 * 1024 * 1024;
    await run(
      async () => {
        await openNursery(async (nursery) => {
          const server = await startServer(
            nursery,
            async () => new Response(new Uint8Array(size).fill(0x2e)),
            { keepAliveTimeout: 1_000, requestTimeout: Number.POSITIVE_INFINITY },
          );
          const client = await pausedDownload(server.port);
          await sleep(5_000); // the run's clock: past keepAliveTimeout, the client still not reading
          const done = client.readToEnd(); // the connection closes keepAliveTimeout after the response
          expect(await done).toEqual({ status: 200, bodyBytes: size });
          server.scope.cancel();
        });
      },
      { handleSignals: false, clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });
});
