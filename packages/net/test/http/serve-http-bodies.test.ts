/**
 * serveHttp's bodies: every kind of response body, request bodies read as a
 * weft ReceiveStream, backpressure toward a client that does not read, and
 * server-sent events — with real clients.
 */
import { createHash } from "node:crypto";
import * as net from "node:net";
import { Event, sleep } from "@weft/core";
import { describe, expect, test } from "vitest";
import { encodeServerSentEvent, serverSentEvents } from "../../src/index.ts";
import { withServer } from "../support/http-server.ts";

const encoder = new TextEncoder();

describe("response bodies", () => {
  test("a string, bytes, a ReadableStream and an async iterable (whose generator sleeps) all arrive whole", async () => {
    let streamed = 0;
    await withServer(
      async (request) => {
        switch (new URL(request.url).pathname) {
          case "/string":
            return new Response("a string");
          case "/bytes":
            return new Response(new Uint8Array([1, 2, 3]));
          case "/stream":
            return new Response(
              new ReadableStream<Uint8Array>({
                pull(controller) {
                  controller.enqueue(encoder.encode(`chunk ${streamed++};`));
                  if (streamed === 3) controller.close();
                },
              }),
            );
          default:
            return new Response(
              (async function* () {
                for (let i = 0; i < 3; i++) {
                  await sleep(1);
                  yield encoder.encode(`part ${i};`);
                }
              })(),
            );
        }
      },
      async ({ base }) => {
        expect(await (await globalThis.fetch(`${base}/string`)).text()).toBe("a string");
        const bytes = await globalThis.fetch(`${base}/bytes`);
        expect(bytes.headers.get("content-length")).toBe("3");
        expect([...new Uint8Array(await bytes.arrayBuffer())]).toEqual([1, 2, 3]);
        expect(await (await globalThis.fetch(`${base}/stream`)).text()).toBe(
          "chunk 0;chunk 1;chunk 2;",
        );
        const iterable = await globalThis.fetch(`${base}/iterable`);
        expect(iterable.headers.get("transfer-encoding")).toBe("chunked");
        expect(await iterable.text()).toBe("part 0;part 1;part 2;");
      },
    );
  });
});

describe("request bodies", () => {
  test("info.receiveBody() reads a 3 MiB upload as a weft ReceiveStream, in pieces", async () => {
    const upload = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const expected = createHash("sha256").update(upload).digest("hex");
    await withServer(
      async (_request, info) => {
        const hash = createHash("sha256");
        let pieces = 0;
        for await (const piece of info.receiveBody()) {
          hash.update(piece);
          pieces++;
        }
        return Response.json({ sha256: hash.digest("hex"), pieces });
      },
      async ({ base }) => {
        const response = await globalThis.fetch(`${base}/upload`, { method: "PUT", body: upload });
        const result = (await response.json()) as { sha256: string; pieces: number };
        expect(result.sha256).toBe(expected);
        expect(result.pieces).toBeGreaterThan(1);
      },
      { maxBodySize: 4 * 1024 * 1024 },
    );
  });
});

describe("backpressure", () => {
  test("a client that does not read stops the producer: memory stays bounded; when it leaves, the producer's finally runs", async () => {
    let produced = 0;
    const producerDone = new Event();
    await withServer(
      async () =>
        new Response(
          (async function* () {
            try {
              const chunk = new Uint8Array(16 * 1024);
              while (true) {
                produced++;
                yield chunk;
              }
            } finally {
              producerDone.set();
            }
          })(),
        ),
      async ({ port }) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.pause(); // never reads
        socket.write("GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n");
        // Let the producer fill every buffer on the way, then check it stopped.
        let previous = -1;
        while (produced !== previous) {
          previous = produced;
          await sleep(200);
        }
        // The kernel's socket buffers (a few MiB at most on loopback) plus one piece of ours.
        expect(produced * 16 * 1024).toBeLessThan(32 * 1024 * 1024);
        expect(produced).toBeGreaterThan(0);
        socket.destroy();
        await producerDone.wait();
      },
    );
  });
});

describe("server-sent events", () => {
  test("events reach a real client as they are produced; the client leaving stops the source", async () => {
    const sourceDone = new Event();
    await withServer(
      async () =>
        serverSentEvents(
          (async function* () {
            try {
              for (let n = 0; ; n++) {
                yield { event: "tick", id: String(n), data: `tick ${n}\nline two` };
                await sleep(5);
              }
            } finally {
              sourceDone.set();
            }
          })(),
        ),
      async ({ base }) => {
        const controller = new AbortController();
        const response = await globalThis.fetch(`${base}/events`, { signal: controller.signal });
        expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
        const reader = response.body!.getReader();
        let text = "";
        while ((text.match(/\n\n/g) ?? []).length < 3) {
          const { value } = await reader.read();
          text += new TextDecoder().decode(value);
        }
        expect(
          text.startsWith(
            encodeServerSentEvent({ event: "tick", id: "0", data: "tick 0\nline two" }),
          ),
        ).toBe(true);
        expect(text).toContain("event: tick\nid: 1\ndata: tick 1\ndata: line two\n\n");
        controller.abort();
        await sourceDone.wait();
      },
    );
  });

  test("encodeServerSentEvent: a string is data; fields with line breaks are refused", () => {
    expect(encodeServerSentEvent("hi")).toBe("data: hi\n\n");
    expect(encodeServerSentEvent({ data: "", retry: 1000 })).toBe("retry: 1000\ndata: \n\n");
    expect(() => encodeServerSentEvent({ data: "x", event: "a\nb" })).toThrow(TypeError);
    expect(() => encodeServerSentEvent({ data: "x", retry: -1 })).toThrow(RangeError);
    expect(() => serverSentEvents(42 as never)).toThrow(/events must be an async iterable/);
  });
});
