/**
 * serveHttp against what an adversarial review found: each test failed on the
 * code before its fix (HEAD on endless bodies, Host injection, absolute-form
 * targets, a stalled upload outliving its deadline, a pre-cancelled server,
 * an unread body stalling keep-alive, resets mid-upload logged as errors,
 * 100-continue past the limit).
 */
import * as net from "node:net";
import { Event, moveOnAfter, openNursery, run, sleepForever } from "@weft/core";
import { describe, expect, test } from "vitest";
import { openTcpListeners, serveHttp } from "../../src/index.ts";
import { rawExchange, statuses, withServer } from "../support/http-server.ts";

const endless = () =>
  new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(1000));
      },
    }),
  );

describe("serveHttp: review findings", () => {
  test("HEAD on an endless body answers the head at once and reads nothing; a pipelined GET behind it is served", async () => {
    await withServer(
      async (request) =>
        new URL(request.url).pathname === "/endless" ? endless() : new Response("next"),
      async ({ port }) => {
        const raw = await rawExchange(
          port,
          "HEAD /endless HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        expect(statuses(raw)).toEqual([200, 200]);
        expect(raw.endsWith("next")).toBe(true);
      },
    );
  });

  test("a Host that is not just a host and port is a 400: it cannot move the path", async () => {
    const paths: string[] = [];
    await withServer(
      async (request) => {
        paths.push(new URL(request.url).pathname);
        return new Response("ok");
      },
      async ({ port }) => {
        for (const host of ["x/admin#", "x/admin?", "x\\admin#", "user@x", "x y"]) {
          const raw = await rawExchange(port, `GET /public HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
          expect(statuses(raw), host).toEqual([400]);
        }
        const ok = await rawExchange(
          port,
          "GET /public HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n",
        );
        expect(statuses(ok)).toEqual([200]);
      },
    );
    expect(paths).toEqual(["/public"]);
  });

  test("absolute-form targets are taken as the URL; OPTIONS * becomes the path /*", async () => {
    await withServer(
      async (request) => new Response(`${request.method} ${request.url}`),
      async ({ port }) => {
        const absolute = await rawExchange(
          port,
          "GET http://other.example/y?z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        expect(absolute.endsWith("GET http://other.example/y?z")).toBe(true);
        const star = await rawExchange(
          port,
          "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        expect(star.endsWith("OPTIONS http://x/*")).toBe(true);
      },
    );
  });

  test("a handler awaiting a stalled upload is unblocked by its deadline: the request is destroyed and logged as a timeout", async () => {
    const unblocked = new Event();
    await withServer(
      async (request) => {
        try {
          return new Response(await request.text());
        } finally {
          unblocked.set();
        }
      },
      async ({ port, logged }) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.on("error", () => {});
        socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc");
        await unblocked.wait();
        socket.destroy();
        expect(logged).toEqual([expect.objectContaining({ outcome: "timeout", status: 503 })]);
      },
      { requestTimeout: 100 },
    );
  });

  test("cancelled before it serves, serveHttp returns at once and closes the listeners it was given", async () => {
    await run(
      async () => {
        const listeners = await openTcpListeners(0, { host: "127.0.0.1" });
        await moveOnAfter(0, () => serveHttp(() => new Response("never"), { listeners }));
        expect(listeners.map((listener) => listener.server.listening)).toEqual([false]);
      },
      { handleSignals: false },
    );
  });

  test("a request body the handler never read: the response closes the connection instead of stalling the next request", async () => {
    await withServer(
      () => new Response("ignored your body"),
      async ({ port }) => {
        const body = "x".repeat(300_000);
        const raw = await rawExchange(
          port,
          `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}GET / HTTP/1.1\r\nHost: x\r\n\r\n`,
          10_000,
        );
        expect(statuses(raw)[0]).toBe(200);
        expect(raw).toMatch(/\r\nConnection: close\r\n/i);
      },
      { maxBodySize: 1_000_000 },
    );
  });

  test("a client that resets mid-upload is logged as a disconnect, not as a handler error", async () => {
    const reading = new Event();
    const done = new Event();
    await withServer(
      async (request) => {
        reading.set();
        try {
          return new Response(await request.text());
        } finally {
          done.set();
        }
      },
      async ({ port, logged }) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.on("error", () => {});
        socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc");
        await reading.wait();
        socket.resetAndDestroy();
        await done.wait();
        await moveOnAfter(1_000, () => sleepForever()).catch(() => {});
        expect(logged.map((entry) => entry.outcome)).toEqual(["client-disconnected"]);
      },
    );
  });

  test("Expect: 100-continue with a body over the limit gets 413 and no 100", async () => {
    await withServer(
      () => new Response("unused"),
      async ({ port }) => {
        const raw = await rawExchange(
          port,
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n",
        );
        expect(statuses(raw)).toEqual([413]);
      },
      { maxBodySize: 1_000 },
    );
  });

  test("a listener's nursery helper: openNursery around serveHttp ends when cancelled (smoke)", async () => {
    await run(
      async () => {
        await openNursery(async (nursery) => {
          nursery.startSoon(() =>
            serveHttp(() => new Response(""), { port: 0, host: "127.0.0.1" }),
          );
          nursery.cancelScope.cancel();
        });
      },
      { handleSignals: false },
    );
  });
});
