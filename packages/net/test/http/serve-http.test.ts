/**
 * serveHttp with real clients (undici's fetch, curl, raw TCP): requests as
 * tasks, keep-alive and pipelining through Node's parser, a Hono app, other
 * weft listeners, errors answered with 500 and logged.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { currentSignal, lowlevel, openMemoryChannel, openNursery, run, sleep } from "@weft/core";
import type { Listener, Stream } from "@weft/core/streams";
import { memoryStreamPair } from "@weft/testing/streams";
import { Hono } from "hono";
import { describe, expect, test } from "vitest";
import { fetchText, serveHttp } from "../../src/index.ts";
import { rawExchange, statuses, withServer } from "../support/http-server.ts";

describe("serveHttp: requests and responses", () => {
  test("GET and POST with real fetch; each request is a task named after its method and path", async () => {
    const names: string[] = [];
    await withServer(
      async (request) => {
        names.push(lowlevel.currentTask().name);
        const url = new URL(request.url);
        if (request.method === "POST") return new Response(`got ${await request.text()}`);
        return Response.json({ path: url.pathname, query: url.searchParams.get("q") });
      },
      async ({ base }) => {
        const get = await globalThis.fetch(`${base}/items/7?q=x`);
        expect(get.status).toBe(200);
        expect(get.headers.get("content-type")).toBe("application/json");
        expect(await get.json()).toEqual({ path: "/items/7", query: "x" });
        const post = await globalThis.fetch(`${base}/items`, { method: "POST", body: "hello" });
        expect(await post.text()).toBe("got hello");
      },
    );
    expect(names).toEqual(["GET /items/7", "POST /items"]);
  });

  test("status, status text, repeated headers and Set-Cookie lines reach the client", async () => {
    await withServer(
      async () => {
        const headers = new Headers({ "x-one": "1" });
        headers.append("set-cookie", "a=1");
        headers.append("set-cookie", "b=2");
        return new Response("made", { status: 201, statusText: "Made It", headers });
      },
      async ({ port }) => {
        const raw = await rawExchange(
          port,
          "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        expect(raw).toMatch(/^HTTP\/1\.1 201 Made It\r\n/);
        expect(raw).toMatch(/\r\nx-one: 1\r\n/i);
        expect(raw.match(/\r\nset-cookie: /gi)).toHaveLength(2);
        expect(raw.endsWith("made")).toBe(true);
      },
    );
  });

  test("keep-alive: several requests on one connection; pipelined requests are answered in order", async () => {
    let connections = 0;
    await withServer(
      async (request, info) => {
        await sleep(new URL(request.url).pathname === "/slow" ? 20 : 0);
        return new Response(`${new URL(request.url).pathname} from ${info.remoteAddress?.port}`);
      },
      async ({ port }) => {
        const raw = await rawExchange(
          port,
          "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" +
            "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n" +
            "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        expect(statuses(raw)).toEqual([200, 200, 200]);
        const bodies = [...raw.matchAll(/\r\n\r\n(\/\w+) from (\d+)/g)];
        expect(bodies.map((m) => m[1])).toEqual(["/slow", "/fast", "/last"]);
        // All three on the one connection (same client port).
        expect(new Set(bodies.map((m) => m[2])).size).toBe(1);
        connections++;
      },
    );
    expect(connections).toBe(1);
  });

  test("a Hono app served with serveHttp(app.fetch)", async () => {
    const app = new Hono();
    app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name") }));
    app.post("/echo", async (c) => c.text(await c.req.text()));
    await withServer(app.fetch, async ({ base }) => {
      expect(await (await globalThis.fetch(`${base}/hello/weft`)).json()).toEqual({
        hello: "weft",
      });
      const echo = await globalThis.fetch(`${base}/echo`, { method: "POST", body: "ping" });
      expect(await echo.text()).toBe("ping");
      expect((await globalThis.fetch(`${base}/nowhere`)).status).toBe(404);
    });
  });

  test.skipIf(!existsSync("/usr/bin/curl"))(
    "curl gets an answer (skipped where curl is not installed)",
    async () => {
      await withServer(
        () => new Response("hello curl\n"),
        async ({ base }) => {
          const { stdout } = await promisify(execFile)("curl", ["-sS", "-i", `${base}/x`]);
          expect(stdout).toMatch(/^HTTP\/1\.1 200 OK/);
          expect(stdout.endsWith("hello curl\n")).toBe(true);
        },
      );
    },
  );

  test("a handler's error answers 500 without details, is logged with the request, and serving goes on", async () => {
    const boom = new Error("secret database password in this message");
    await withServer(
      async (request) => {
        if (new URL(request.url).pathname === "/boom") throw boom;
        return new Response("fine");
      },
      async ({ base, logged }) => {
        const failed = await globalThis.fetch(`${base}/boom`);
        expect(failed.status).toBe(500);
        expect(await failed.text()).toBe("500 Internal Server Error\n");
        expect(await (await globalThis.fetch(`${base}/ok`)).text()).toBe("fine");
        expect(logged).toEqual([
          {
            outcome: "error",
            status: 500,
            method: "GET",
            url: "/boom",
            task: "GET /boom",
            error: boom,
          },
        ]);
      },
    );
  });

  test("a handler that returns something other than a Response gets a 500 saying so in the log", async () => {
    await withServer((async () => "not a response") as never, async ({ base, logged }) => {
      expect((await globalThis.fetch(`${base}/`)).status).toBe(500);
      expect(String(logged[0]?.error)).toMatch(/must return a Response, got string/);
    });
  });

  test("weft's own fetch, inside the same run, talks to the server", async () => {
    await withServer(
      () => new Response("same run"),
      async ({ base }) => {
        expect(await fetchText(`${base}/`)).toBe("same run");
      },
    );
  });

  test("the handler runs in serveHttp's caller's async context and sees its scope's signal as currentSignal()", async () => {
    await withServer(
      async (request) => {
        const signal = currentSignal();
        return new Response(String(signal.aborted === request.signal.aborted));
      },
      async ({ base }) => {
        expect(await (await globalThis.fetch(`${base}/`)).text()).toBe("true");
      },
    );
  });
});

describe("serveHttp over any weft listener", () => {
  test("a listener of memory streams: the Duplex path, with pipelining", async () => {
    await run(
      async () => {
        // A listener whose connections are memory streams (accept is a channel receive: cancellable).
        const [connect, connections] = openMemoryChannel<Stream>(Infinity);
        const listener: Listener<Stream> = {
          accept: () => connections.receive(),
          aclose: () => connections.aclose(),
        };
        await openNursery(async (nursery) => {
          await nursery.start<Listener<Stream>[]>((taskStatus) =>
            serveHttp(async (request) => new Response(`memory ${new URL(request.url).pathname}`), {
              listeners: [listener],
              taskStatus,
            }),
          );
          const [client, server] = memoryStreamPair();
          connect.sendNowait(server);
          const encoder = new TextEncoder();
          await client.sendAll(
            encoder.encode(
              "GET /a HTTP/1.1\r\nHost: mem\r\n\r\nGET /b HTTP/1.1\r\nHost: mem\r\nConnection: close\r\n\r\n",
            ),
          );
          let text = "";
          for await (const chunk of client) text += new TextDecoder().decode(chunk);
          expect(statuses(text)).toEqual([200, 200]);
          expect(text).toContain("memory /a");
          expect(text).toContain("memory /b");
          nursery.cancelScope.cancel();
        });
      },
      { handleSignals: false },
    );
  });
});
