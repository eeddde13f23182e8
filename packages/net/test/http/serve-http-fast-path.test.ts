/**
 * serveHttp's per-request paths made cheaper for issue 19, checked on the
 * wire: a body that is complete at once (a string, bytes) goes out with one
 * `res.end` and a Content-Length in bytes, headers as the handler set them,
 * HEAD without a body, keep-alive responses framed by their Content-Length;
 * and a connection's idle timer, no longer re-armed at every request, still
 * closes a keep-alive connection exactly keepAliveTimeout after its last
 * response, never while requests keep coming.
 */
import { currentTime, sleep } from "@weft/core";
import { MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";
import { rawExchange, statuses, withServer } from "../support/http-server.ts";

/** The head (lower-cased names) and body of the one response in `raw`. */
function parse(raw: string): { status: number; headers: Map<string, string>; body: string } {
  const end = raw.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = raw.slice(0, end).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine!.split(" ")[1]), headers, body: raw.slice(end + 4) };
}

const close = "Connection: close\r\n";

describe("serveHttp: string and bytes bodies", () => {
  test("a string body: Content-Length in bytes (not characters), its Content-Type, the exact bytes", async () => {
    await withServer(
      () => new Response("héllo ✓ wörld"),
      async ({ port }) => {
        const raw = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${close}\r\n`);
        const { status, headers, body } = parse(raw);
        expect(status).toBe(200);
        expect(headers.get("content-length")).toBe(String(Buffer.byteLength("héllo ✓ wörld")));
        expect(headers.get("content-type")).toBe("text/plain;charset=UTF-8");
        expect(headers.has("transfer-encoding")).toBe(false);
        expect(Buffer.from(body, "latin1").toString("utf8")).toBe("héllo ✓ wörld");
      },
    );
  });

  test("a Uint8Array body: every byte as given, Content-Length, no Content-Type added", async () => {
    const bytes = new Uint8Array([0, 1, 127, 128, 200, 255, 13, 10]);
    await withServer(
      () => new Response(bytes, { status: 201, headers: { "x-kind": "bytes" } }),
      async ({ port }) => {
        const raw = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${close}\r\n`);
        const { status, headers, body } = parse(raw);
        expect(status).toBe(201);
        expect(headers.get("content-length")).toBe("8");
        expect(headers.get("x-kind")).toBe("bytes");
        expect(headers.has("content-type")).toBe(false);
        expect([...Buffer.from(body, "latin1")]).toEqual([...bytes]);
      },
    );
  });

  test("bytes bodies on either side of the one-write size (4 KiB): every byte, Content-Length", async () => {
    const sizes = [4095, 4096, 4097, 100_000];
    const bodyOf = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) % 256);
    await withServer(
      (request) => new Response(bodyOf(Number(new URL(request.url).pathname.slice(1)))),
      async ({ base }) => {
        for (const size of sizes) {
          const response = await fetch(`${base}/${size}`);
          expect(response.headers.get("content-length"), String(size)).toBe(String(size));
          expect(new Uint8Array(await response.arrayBuffer())).toEqual(bodyOf(size));
        }
      },
    );
  });

  test("a body whose second read fails at once is a 500, not a 200 cut off after its first chunk", async () => {
    await withServer(
      () => {
        let reads = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (reads++ === 0) controller.enqueue(new TextEncoder().encode("first"));
            else controller.error(new Error("the body's source failed"));
          },
        });
        return new Response(body, {
          headers: { "cache-control": "public, max-age=86400", "content-encoding": "gzip" },
        });
      },
      async ({ port }) => {
        const raw = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${close}\r\n`);
        const { status, headers } = parse(raw);
        expect(status).toBe(500);
        expect(raw).not.toContain("first");
        // The handler's headers belong to the response that failed, not to this answer.
        expect(headers.has("cache-control")).toBe(false);
        expect(headers.has("content-encoding")).toBe(false);
      },
    );
  });

  test("the handler's own Content-Length and headers are kept; an empty body is Content-Length: 0", async () => {
    await withServer(
      (request) =>
        new URL(request.url).pathname === "/empty"
          ? new Response("")
          : new Response("abc", {
              headers: [
                ["content-length", "3"],
                ["set-cookie", "a=1"],
                ["set-cookie", "b=2"],
              ],
            }),
      async ({ port }) => {
        const raw = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${close}\r\n`);
        expect(parse(raw).headers.get("content-length")).toBe("3");
        expect(raw.match(/content-length/gi)).toHaveLength(1);
        expect(raw.match(/^set-cookie: .*$/gim)).toEqual(["set-cookie: a=1", "set-cookie: b=2"]);
        expect(parse(raw).body).toBe("abc");
        const empty = parse(
          await rawExchange(port, `GET /empty HTTP/1.1\r\nHost: x\r\n${close}\r\n`),
        );
        expect(empty.headers.get("content-length")).toBe("0");
        expect(empty.body).toBe("");
      },
    );
  });

  test("a stream body that ends two microtasks after its first chunk (as string bodies do on Node 22) goes out in one write, with a Content-Length", async () => {
    // Regression: on Node 22 (undici 6) the second read of a string or bytes
    // body settles one microtask later than on Node 24; serveHttp looked once,
    // and sent every such body chunked. This stream ends the same way on any Node.
    const bytes = new TextEncoder().encode("two microtasks");
    await withServer(
      () => {
        let pulls = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (pulls++ === 0) controller.enqueue(bytes);
            else controller.close();
          },
        });
        return new Response(body);
      },
      async ({ port }) => {
        const raw = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${close}\r\n`);
        const { status, headers, body } = parse(raw);
        expect(status).toBe(200);
        expect(headers.get("content-length")).toBe(String(bytes.length));
        expect(headers.has("transfer-encoding")).toBe(false);
        expect(body).toBe("two microtasks");
      },
    );
  });

  test("HEAD gets the head without the body; pipelined keep-alive responses are framed by their Content-Length", async () => {
    await withServer(
      (request) => new Response(`body of ${new URL(request.url).pathname}`),
      async ({ port }) => {
        const raw = await rawExchange(
          port,
          "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n" +
            "GET /bb HTTP/1.1\r\nHost: x\r\n\r\n" +
            "GET /ccc HTTP/1.1\r\nHost: x\r\n\r\n" +
            `GET /d HTTP/1.1\r\nHost: x\r\n${close}\r\n`,
        );
        expect(statuses(raw)).toEqual([200, 200, 200, 200]);
        const parts = raw.split(/(?=HTTP\/1\.1 )/);
        expect(parts[0]).toMatch(/\r\n\r\n$/); // HEAD: no body bytes
        expect(parse(parts[1]!).body).toBe("body of /bb");
        expect(parse(parts[1]!).headers.get("content-length")).toBe("11");
        expect(parse(parts[2]!).body).toBe("body of /ccc");
        expect(parse(parts[3]!).body).toBe("body of /d");
      },
    );
  });

  test("a handler that reads the request's body and headers answers with a string body", async () => {
    await withServer(
      async (request) =>
        new Response(`${request.method} ${request.headers.get("x-a")} ${await request.text()}`),
      async ({ base }) => {
        const response = await fetch(`${base}/echo`, {
          method: "POST",
          headers: { "x-a": "1" },
          body: "uploaded ✓",
        });
        expect(response.headers.get("content-length")).toBe(
          String(Buffer.byteLength("POST 1 uploaded ✓")),
        );
        expect(await response.text()).toBe("POST 1 uploaded ✓");
      },
    );
  });

  test("a clone's body and a body the handler only tee'd are sent whole", async () => {
    await withServer(
      () => {
        const original = new Response("cloned body");
        return original.clone();
      },
      async ({ base }) => {
        expect(await (await fetch(base)).text()).toBe("cloned body");
      },
    );
  });
});

describe("serveHttp: the idle timer of a busy connection", () => {
  test("requests closer together than keepAliveTimeout keep the connection open; it closes keepAliveTimeout after the last", async () => {
    await withServer(
      () => new Response("ok"),
      async ({ port }) => {
        const { connect } = await import("node:net");
        const socket = connect(port, "127.0.0.1");
        const received: string[] = [];
        let closedAt = -1;
        socket.on("data", (chunk: Buffer) => received.push(chunk.toString("latin1")));
        socket.on("close", () => {
          closedAt = currentTime();
        });
        await new Promise((resolve) => socket.once("connect", resolve));
        const start = currentTime();
        let lastSent = start;
        for (let i = 0; i < 5; i++) {
          socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
          lastSent = currentTime();
          // Real time for the response, then 1.5 s of the run's clock: 7.5 s in all, past 2.5 s.
          while (received.join("").split("HTTP/1.1 200").length - 1 < i + 1) await sleep(1);
          await sleep(1_500);
        }
        while (closedAt < 0) await sleep(100);
        expect(statuses(received.join(""))).toEqual([200, 200, 200, 200, 200]);
        expect(closedAt - start).toBeGreaterThanOrEqual(7_500);
        expect(closedAt - lastSent).toBeGreaterThanOrEqual(2_500);
        expect(closedAt - lastSent).toBeLessThan(2_500 + 1_500 + 100);
      },
      { keepAliveTimeout: 2_500, headersTimeout: 60_000 },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });
});
