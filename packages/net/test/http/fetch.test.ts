/**
 * fetch / readBytes / readText / readJson / fetchText / fetchJson / fetchBytes
 * against a local node:http server on 127.0.0.1 (an ephemeral port, started and
 * stopped by this file). Waits for the server are foreign promises awaited with
 * `cancellable`; time only moves on a MockClock.
 */
import { once } from "node:events";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import * as net from "node:net";
import {
  BrokenResourceError,
  CancelScope,
  cancellable,
  currentTime,
  isCancelled,
  moveOnAfter,
  openNursery,
  run,
} from "@weft/core";
import { MockClock } from "@weft/testing";
import { describe, expect, test } from "vitest";
// Imported from the modules, not index.ts: the index exports are added separately.
import {
  bodyErroredWithReason,
  fetch,
  fetchBytes,
  fetchJson,
  fetchText,
  readBytes,
  readJson,
  readText,
} from "../../src/http/fetch.ts";
import { HttpStatusError } from "../../src/http/http-status-error.ts";
import { rejection } from "../support/chunks.ts";
import { useNodeHttpServer } from "../support/node-http-server.ts";

interface Seen {
  request: IncomingMessage;
  response: ServerResponse;
  /** Resolves when the server side of the exchange is closed (answered or aborted). */
  closed: Promise<void>;
}

/** Every request the server got, in order. */
const seen: Seen[] = [];
/** Resolvers waiting for the next request to a path. */
const waiters = new Map<string, (seen: Seen) => void>();

function reply(response: ServerResponse, status: number, body: string, headers = {}): void {
  const head: OutgoingHttpHeaders = { "content-type": "text/plain", ...headers };
  response.writeHead(status, head);
  response.end(body);
}

function handle(request: IncomingMessage, response: ServerResponse): void {
  const entry: Seen = {
    request,
    response,
    closed: once(response, "close").then(() => undefined),
  };
  seen.push(entry);
  const path = request.url ?? "";
  const waiter = waiters.get(path);
  if (waiter !== undefined) {
    waiters.delete(path);
    waiter(entry);
  }
  switch (path) {
    case "/hello":
      reply(response, 200, "hello, weft");
      return;
    case "/json":
      reply(response, 200, JSON.stringify({ answer: 42, list: [1, 2] }), {
        "content-type": "application/json",
      });
      return;
    case "/not-json":
      reply(response, 200, "{ nope");
      return;
    case "/empty":
      response.writeHead(204);
      response.end();
      return;
    case "/fail":
      reply(response, 500, "boom");
      return;
    case "/echo": {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => reply(response, 200, `${request.method} ${Buffer.concat(chunks)}`));
      return;
    }
    case "/hang":
      return; // never answers: the client has to give up
    case "/partial":
      // Headers and the start of the body, then nothing.
      response.writeHead(200, { "content-type": "text/plain" });
      response.write("the beginning");
      return;
    case "/cut":
      // Promises 100 bytes, sends 5, then drops the connection.
      response.writeHead(200, { "content-length": "100" });
      response.write("short", () => response.socket?.destroy());
      return;
    default:
      reply(response, 404, "not found");
      return;
  }
}

/** Resolves with the next request the server gets for `path`. */
function nextRequest(path: string): Promise<Seen> {
  return new Promise((resolve) => waiters.set(path, resolve));
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const baseUrl = useNodeHttpServer(handle);

describe("fetch", () => {
  test("fetch + readText / readJson / readBytes, and the one-call helpers", async () => {
    await run(async () => {
      const response = await fetch(`${baseUrl()}/hello`);
      expect(response).toBeInstanceOf(Response);
      expect(response.status).toBe(200);
      expect(await readText(response)).toBe("hello, weft");

      expect(await readJson(await fetch(new URL("/json", baseUrl())))).toEqual({
        answer: 42,
        list: [1, 2],
      });
      const bytes = await readBytes(await fetch(new Request(`${baseUrl()}/hello`)));
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(new TextDecoder().decode(bytes)).toBe("hello, weft");

      expect(await fetchText(`${baseUrl()}/hello`)).toBe("hello, weft");
      expect(await fetchJson(`${baseUrl()}/json`)).toEqual({ answer: 42, list: [1, 2] });
      expect(new TextDecoder().decode(await fetchBytes(`${baseUrl()}/hello`))).toBe("hello, weft");
      expect(await fetchText(`${baseUrl()}/echo`, { method: "POST", body: "payload" })).toBe(
        "POST payload",
      );
      // No body at all.
      expect((await fetchBytes(`${baseUrl()}/empty`)).length).toBe(0);
      // Not only http: data: URLs need no I/O, and are still a checkpoint.
      expect(await fetchText("data:text/plain,no%20network")).toBe("no network");
    });
  });

  test("an HTTP error status: fetch returns it, the helpers throw HttpStatusError", async () => {
    await run(async () => {
      const response = await fetch(`${baseUrl()}/fail`);
      expect(response.status).toBe(500);
      expect(await readText(response)).toBe("boom");

      const error = await rejection(fetchText(`${baseUrl()}/fail`));
      expect(error).toBeInstanceOf(HttpStatusError);
      const statusError = error as HttpStatusError;
      expect(statusError.status).toBe(500);
      expect(statusError.statusText).toBe("Internal Server Error");
      expect(statusError.url).toBe(`${baseUrl()}/fail`);
      expect(statusError.message).toBe(`GET ${baseUrl()}/fail: HTTP 500 Internal Server Error`);
      expect(await rejection(fetchJson(`${baseUrl()}/missing`))).toBeInstanceOf(HttpStatusError);
      // Invalid JSON is the parser's SyntaxError, as with response.json().
      expect(await rejection(fetchJson(`${baseUrl()}/not-json`))).toBeInstanceOf(SyntaxError);
    });
  });

  test("a cancel point: in a cancelled scope nothing is sent", async () => {
    await run(async () => {
      const before = seen.length;
      let reached = false;
      const scope = new CancelScope();
      await scope.run(async () => {
        scope.cancel();
        await fetch(`${baseUrl()}/hello`);
        reached = true;
      });
      expect(reached).toBe(false);
      expect(scope.cancelledCaught).toBe(true);
      const read = new CancelScope();
      const response = await fetch(`${baseUrl()}/hello`);
      await read.run(async () => {
        read.cancel();
        await readText(response);
        reached = true;
      });
      expect(reached).toBe(false);
      expect(read.cancelledCaught).toBe(true);
      expect(seen.length).toBe(before + 1);
    });
  });

  test("a timeout aborts a request the server has not answered: Cancelled, and the server sees the connection close", async () => {
    const clock = new MockClock(); // time moves only when the test says so
    await run(
      async () => {
        const arrived = nextRequest("/hang");
        let caught: unknown = null;
        let result: unknown = "unset";
        await openNursery(async (nursery) => {
          nursery.startSoon(async () => {
            result = await moveOnAfter(1000, async () => {
              try {
                return await fetch(`${baseUrl()}/hang`);
              } catch (error) {
                caught = error;
                throw error;
              }
            });
          });
          const request = await cancellable(arrived);
          // The server has the request: now let the timeout expire.
          clock.jump(1000);
          await cancellable(request.closed);
        });
        expect(result).toBeUndefined();
        expect(isCancelled(caught)).toBe(true);
        expect(currentTime()).toBe(1000);
      },
      { clock },
    );
  });

  test("a timeout while reading the body closes the connection (autojumping MockClock)", async () => {
    await run(
      async () => {
        const arrived = nextRequest("/partial");
        const response = await fetch(`${baseUrl()}/partial`);
        const request = await cancellable(arrived);
        const start = currentTime();
        const text = await moveOnAfter(5000, () => readText(response));
        expect(text).toBeUndefined();
        expect(currentTime() - start).toBe(5000);
        await cancellable(request.closed);
        expect(request.response.writableFinished).toBe(false); // cut short, never finished
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("the request stays tied to its scope: a raw response.text() there is aborted too", async () => {
    await run(
      async () => {
        const arrived = nextRequest("/partial");
        let caught: unknown = null;
        const scope = new CancelScope();
        await scope.run(async () => {
          const response = await fetch(`${baseUrl()}/partial`);
          await cancellable(arrived);
          scope.cancel();
          try {
            await response.text(); // a foreign promise: rejects once the signal aborts
          } catch (error) {
            caught = error;
            throw error;
          }
        });
        expect(scope.cancelledCaught).toBe(true);
        expect(isCancelled(caught)).toBe(true);
      },
      { clock: new MockClock({ autojumpThreshold: 0 }) },
    );
  });

  test("undici 6's wrapper leaves a response it could not rebuild alone (a status outside 200-599)", () => {
    // Only undici makes such a Response (a server's "HTTP/1.1 999"); the Response constructor refuses it.
    const odd = { status: 999, statusText: "", body: new ReadableStream(), headers: new Headers() };
    const controller = new AbortController();
    expect(bodyErroredWithReason(odd as unknown as Response, controller.signal)).toBe(odd);
  });

  test("on undici 6 (Node 22) the body is passed through a stream that errors with the abort's reason, as undici 7's does", async () => {
    // Regression: on Node 22, a raw response.text() in a cancelled scope
    // rejected with undici 6's bare AbortError, which left the scope as an
    // error instead of its Cancelled (the test above, on Node 22).
    const encoder = new TextEncoder();
    let pull = 0;
    let cancelledWith: unknown = null;
    const source = new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pull++ === 0) controller.enqueue(encoder.encode("first "));
          // then nothing more: a body that stalls
        },
        cancel(reason) {
          cancelledWith = reason;
        },
      }),
      { status: 201, statusText: "Made", headers: { "x-kind": "stalled" } },
    );
    const controller = new AbortController();
    const wrapped = bodyErroredWithReason(source, controller.signal);
    expect([wrapped.status, wrapped.statusText, wrapped.headers.get("x-kind")]).toEqual([
      201,
      "Made",
      "stalled",
    ]);
    expect([wrapped.url, wrapped.redirected, wrapped.type]).toEqual([
      source.url,
      source.redirected,
      source.type,
    ]);
    const text = wrapped.text();
    const reason = new Error("the scope's reason");
    controller.abort(reason);
    expect(await rejection(text)).toBe(reason);
    expect(cancelledWith).toBe(reason); // undici's body is cancelled: the connection goes
  });

  test("init.signal aborting: its reason propagates as it is, the request is aborted", async () => {
    await run(async () => {
      // Mid-request, with a reason of our own.
      const controller = new AbortController();
      const reason = new Error("the caller changed its mind");
      const arrived = nextRequest("/hang");
      let error: unknown = null;
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          error = await rejection(fetch(`${baseUrl()}/hang`, { signal: controller.signal }));
        });
        const request = await cancellable(arrived);
        controller.abort(reason);
        await cancellable(request.closed);
      });
      expect(error).toBe(reason);

      // Already aborted, no reason given: the standard AbortError, and nothing is sent.
      const before = seen.length;
      const aborted = AbortSignal.abort();
      const abortError = await rejection(fetch(`${baseUrl()}/hello`, { signal: aborted }));
      expect(isCancelled(abortError)).toBe(false);
      expect((abortError as Error).name).toBe("AbortError");
      expect(abortError).toBe(aborted.reason);

      // The signal of a Request given as input counts as well.
      const fromRequest = await rejection(
        fetch(new Request(`${baseUrl()}/hello`, { signal: AbortSignal.abort(reason) })),
      );
      expect(fromRequest).toBe(reason);
      expect(seen.length).toBe(before);
    });
  });

  test("connection refused: BrokenResourceError whose cause is undici's error", async () => {
    const port = await closedPort();
    await run(async () => {
      const error = await rejection(fetch(`http://127.0.0.1:${port}/`));
      expect(error).toBeInstanceOf(BrokenResourceError);
      const broken = error as BrokenResourceError;
      expect(broken.message).toContain(`GET http://127.0.0.1:${port}/`);
      expect(broken.message).toContain("ECONNREFUSED");
      expect(broken.cause).toBeInstanceOf(TypeError);
      expect((broken.cause as TypeError).message).toBe("fetch failed");
      expect(((broken.cause as TypeError).cause as { code?: string }).code).toBe("ECONNREFUSED");
      expect(await rejection(fetchText(`http://127.0.0.1:${port}/`))).toBeInstanceOf(
        BrokenResourceError,
      );
    });
  });

  test("the connection dropped mid-body: BrokenResourceError from the body read", async () => {
    await run(async () => {
      const response = await fetch(`${baseUrl()}/cut`);
      expect(response.status).toBe(200);
      const error = await rejection(readText(response));
      expect(error).toBeInstanceOf(BrokenResourceError);
      expect((error as Error).message).toContain(`reading the body of ${baseUrl()}/cut failed`);
      expect((error as Error).cause).toBeInstanceOf(TypeError);
      expect(await rejection(fetchText(`${baseUrl()}/cut`))).toBeInstanceOf(BrokenResourceError);
    });
  });

  test("bad input: TypeError naming the argument, before anything is sent", async () => {
    await run(async () => {
      const before = seen.length;
      const bad = <T>(value: unknown) => value as T;
      const cases: [Promise<unknown>, RegExp][] = [
        [fetch(bad(42)), /input must be a string, a URL or a Request, got number/],
        [fetch(bad(null)), /input must be .* got null/],
        [fetch("/hello"), /input must be an absolute URL/],
        [fetch("file:///etc/passwd"), /input has an unsupported URL scheme "file:"/],
        [fetch(new URL("ftp://127.0.0.1/")), /unsupported URL scheme "ftp:"/],
        [fetch(`${baseUrl()}/hello`, bad(5)), /init must be an object/],
        [fetch(`${baseUrl()}/hello`, bad({ signal: {} })), /init\.signal must be an AbortSignal/],
        [fetch(`${baseUrl()}/hello`, { method: "GET", body: "x" }), /GET\/HEAD/],
        [fetch(`${baseUrl()}/hello`, { method: "NOT A METHOD" }), /method/],
        [fetchText(bad(undefined)), /input must be/],
        [readText(bad({})), /response must be a Response/],
      ];
      for (const [promise, message] of cases) {
        const error = await rejection(promise);
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toMatch(message);
      }
      expect(seen.length).toBe(before);

      const response = await fetch(`${baseUrl()}/hello`);
      await readText(response);
      const used = await rejection(readBytes(response));
      expect(used).toBeInstanceOf(TypeError);
      expect((used as Error).message).toMatch(/response: its body was already read/);
    });
    // Outside a run there is no cancel scope to tie the request to.
    await expect(fetch(`${baseUrl()}/hello`)).rejects.toThrow(/inside weft's run\(\)/);
  });
});
