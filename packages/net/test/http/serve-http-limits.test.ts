/**
 * serveHttp's limits and timeouts (on the run's clock: MockClock here, which
 * jumps whenever every task waits) and bad input: answered by status, never
 * a crash, and the server goes on serving.
 */
import { currentTime, sleep, sleepForever } from "@weft/core";
import { MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { rawExchange, statuses, withServer } from "../support/http-server.ts";

/**
 * A clock that jumps to the next deadline whenever every task waits — also
 * while bytes are on their way: a test gives the server no deadline it must
 * not reach before the client's bytes arrive.
 */
const virtual = () => ({ clock: new MockClock({ autojumpThreshold: 0 }) });

describe("timeouts on the run's clock", () => {
  test("a connection that sends no request is closed after headersTimeout", async () => {
    await withServer(
      () => new Response("unused"),
      async ({ port }) => {
        const start = currentTime();
        const raw = await rawExchange(port, "", 30_000);
        expect(raw).toBe("");
        expect(currentTime() - start).toBeGreaterThanOrEqual(7_000);
      },
      { headersTimeout: 7_000 },
      virtual(),
    );
  });

  test("an idle keep-alive connection is closed after keepAliveTimeout", async () => {
    await withServer(
      () => new Response("once"),
      async ({ port }) => {
        const start = currentTime();
        const raw = await rawExchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 30_000);
        expect(statuses(raw)).toEqual([200]);
        const elapsed = currentTime() - start;
        expect(elapsed).toBeGreaterThanOrEqual(2_500);
        expect(elapsed).toBeLessThan(60_000); // not the headers timeout
      },
      // No headers timeout: the clock jumps whenever every task waits, also
      // before the request's bytes arrive; with no deadline it cannot.
      { keepAliveTimeout: 2_500, headersTimeout: Infinity },
      virtual(),
    );
  });

  test("a request past requestTimeout is cancelled and answered with 503", async () => {
    let cancelledAt = -1;
    await withServer(
      async () => {
        try {
          await sleepForever();
        } finally {
          cancelledAt = currentTime();
        }
        return new Response("never");
      },
      async ({ port, logged }) => {
        const start = currentTime();
        const raw = await rawExchange(port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 30_000);
        expect(statuses(raw)).toEqual([503]);
        expect(cancelledAt - start).toBeGreaterThanOrEqual(1_000);
        expect(logged).toEqual([expect.objectContaining({ outcome: "timeout", status: 503 })]);
      },
      { requestTimeout: 1_000, headersTimeout: Infinity },
      virtual(),
    );
  });
});

describe("a body cut short by the request's deadline", () => {
  test("a streamed body whose first chunk never comes is not sent as a complete empty response when requestTimeout passes", async () => {
    await withServer(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull: () => new Promise(() => {}), // the first chunk never comes
          }),
        ),
      async ({ port, logged }) => {
        const raw = await rawExchange(port, "GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n", 30_000);
        // No "200, Content-Length: 0" that a client would take for a complete
        // empty body: nothing was sent yet, so the answer is the timeout's 503.
        expect(raw).not.toMatch(/content-length: 0/i);
        expect(statuses(raw)).toEqual([503]);
        expect(logged).toEqual([expect.objectContaining({ outcome: "timeout" })]);
      },
      { requestTimeout: 1_000, headersTimeout: Infinity },
      virtual(),
    );
  });
});

describe("size limits", () => {
  test("a head larger than maxHeaderSize gets 431 from Node's parser", async () => {
    await withServer(
      () => new Response("unused"),
      async ({ port }) => {
        const raw = await rawExchange(
          port,
          `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(4_000)}\r\n\r\n`,
        );
        expect(statuses(raw)).toEqual([431]);
      },
      { maxHeaderSize: 1_024 },
    );
  });

  test("a Content-Length over maxBodySize gets 413 without calling the handler", async () => {
    let called = false;
    await withServer(
      async () => {
        called = true;
        return new Response("unused");
      },
      async ({ port, logged }) => {
        const raw = await rawExchange(
          port,
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n",
        );
        expect(statuses(raw)).toEqual([413]);
        expect(called).toBe(false);
        expect(logged).toEqual([expect.objectContaining({ outcome: "too-large", status: 413 })]);
      },
      { maxBodySize: 1_000 },
    );
  });

  test("a chunked body that grows past maxBodySize fails the handler's read and gets 413", async () => {
    await withServer(
      async (request) => new Response(`read ${(await request.text()).length}`),
      async ({ base }) => {
        const small = await globalThis.fetch(`${base}/`, { method: "POST", body: "x".repeat(500) });
        expect(await small.text()).toBe("read 500");
        const big = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(400));
            controller.close();
          },
        });
        const response = await globalThis.fetch(`${base}/`, {
          method: "POST",
          body: big,
          duplex: "half",
        } as RequestInit);
        expect(response.status).toBe(413);
      },
      { maxBodySize: 1_000 },
    );
  });
});

describe("bad input", () => {
  test("a malformed request gets 400 from the parser; the server goes on serving", async () => {
    await withServer(
      () => new Response("ok"),
      async ({ port, base }) => {
        const raw = await rawExchange(port, "GARBAGE\r\n\r\n");
        expect(statuses(raw)).toEqual([400]);
        const smuggled = await rawExchange(
          port,
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        expect(statuses(smuggled)).toEqual([400]);
        expect(await (await globalThis.fetch(`${base}/`)).text()).toBe("ok");
      },
    );
  });

  test("a Host that makes no URL gets 400 without calling the handler", async () => {
    let called = false;
    await withServer(
      async () => {
        called = true;
        return new Response("unused");
      },
      async ({ port, logged }) => {
        const raw = await rawExchange(port, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
        expect(statuses(raw)).toEqual([400]);
        expect(called).toBe(false);
        expect(logged[0]?.outcome).toBe("bad-request");
      },
    );
  });

  test("an HTTP/1.0 request without Host is served with the local address as its host", async () => {
    await withServer(
      async (request) => {
        await sleep(0);
        return new Response(new URL(request.url).host);
      },
      async ({ port }) => {
        const raw = await rawExchange(port, "GET / HTTP/1.0\r\n\r\n");
        expect(raw.endsWith(`127.0.0.1:${port}`)).toBe(true);
      },
    );
  });
});
