/**
 * `fetch` when the run has a custom socket factory (a simulated network): the
 * global fetch (undici) would open real sockets, so the request goes through
 * `openTcpStream` — the run's resolver and factory — and Node's own HTTP/1.1
 * client, over a `StreamDuplex` on that stream. One connection per request
 * (`Connection: close`); `http:` only.
 *
 * The connection failing (the peer reset it, or closed it before the response
 * was complete) is a `BrokenResourceError`, as for undici's fetch, both from
 * `fetch` and from reading the body: its `cause` is the transport's own error
 * (the simulated connection's reset, say) or else Node's (`aborted`,
 * `socket hang up`). A request aborted by its signal (the caller's, or the
 * scope's when it is cancelled) fails with that signal's reason — the
 * caller's, or weft's `Cancelled` — as undici's fetch does, and so does its
 * body unless the whole body had arrived first. A body never ends short of
 * what the server sent without an error.
 */
import * as http from "node:http";
import type * as net from "node:net";
import { Readable } from "node:stream";
import { BrokenResourceError, cancellable, isCancelled, lowlevel } from "@weft/core";
import { acloseForcefully } from "@weft/core/streams";
import { ignoreError } from "../host/io-wait.ts";
import { openTcpStream } from "../sockets/open-tcp-stream.ts";
import { runStreamDuplex, StreamDuplex } from "../streams/stream-duplex.ts";

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * What a failure of Node's HTTP client over `duplex` is to the caller: if
 * `signal` (the caller's or the scope's) aborted the request, its reason
 * (the caller's to recognise, or weft's `Cancelled`); else the connection
 * broke: a `BrokenResourceError` (unless `error` already is one, or is
 * `Cancelled`) caused by the transport's error if it had one, else by
 * `error` (Node's); `error` undefined: nothing failed, the response just
 * ended before it was complete.
 */
function connectionFailure(
  error: unknown,
  what: string,
  duplex: StreamDuplex,
  signal: AbortSignal,
): unknown {
  if (isCancelled(error) || error instanceof BrokenResourceError) return error;
  if (signal.aborted) return signal.reason;
  // The transport's own failure says what happened; Node's ("aborted") only that it did.
  const cause = duplex.errored ?? error;
  if (cause === undefined) {
    return new BrokenResourceError(`${what} failed: the response ended before it was complete`);
  }
  return new BrokenResourceError(`${what} failed: ${asError(cause).message}`, { cause });
}

/** How a response body ends badly: `error` (Node's, if it had one) as the caller is to see it. */
type BodyFailure = (error: unknown) => unknown;

/**
 * `res` as a web stream whose failure is `failure`'s (a raw `response.text()`
 * would otherwise reject with Node's bare `Error: aborted`). It ends only if
 * `res` ended whole — complete, and before the request was destroyed (which
 * makes Node dump what `res` still holds, and then end it as if nothing were
 * missing); any other end is a failure.
 */
function responseBody(
  res: http.IncomingMessage,
  destroyed: () => boolean,
  failure: BodyFailure,
): ReadableStream<Uint8Array> {
  let whole = false;
  res.once("end", () => {
    whole = res.complete && !destroyed();
  });
  const reader = (Readable.toWeb(res) as ReadableStream<Uint8Array>).getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: Awaited<ReturnType<typeof reader.read>>;
        try {
          result = await reader.read();
        } catch (error) {
          controller.error(failure(error));
          return;
        }
        if (!result.done) controller.enqueue(result.value);
        else if (whole) controller.close();
        else controller.error(failure(res.errored ?? undefined));
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 }, // Readable.toWeb buffers; this only passes chunks along
  );
}

/** Sends `request` over the run's socket factory; `signal` aborts it (and its body). */
export async function fetchOverStreams(request: Request, signal: AbortSignal): Promise<Response> {
  const url = new URL(request.url);
  if (url.protocol !== "http:") {
    throw new TypeError(
      `fetch over a custom socket factory speaks http: only, not ${url.protocol} (${url.href})`,
    );
  }
  const stream = await openTcpStream(url.hostname, url.port === "" ? 80 : Number(url.port));
  const duplex = new StreamDuplex(stream);
  // The body arrives after fetch returns, so the pumps outlive this call: a
  // system task, which ends when the connection closes (or the run does).
  lowlevel.spawnSystemTask(
    async () => {
      try {
        await runStreamDuplex(duplex);
      } finally {
        await acloseForcefully(stream);
      }
    },
    { name: `fetch connection to ${url.host}` },
  );
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  headers.host ??= url.host;
  headers.connection = "close";
  const req = http.request({
    method: request.method,
    path: `${url.pathname}${url.search}`,
    headers,
    createConnection: () => duplex as unknown as net.Socket,
  });
  let destroyed = false;
  const destroy = (error?: Error) => {
    destroyed = true;
    req.destroy(error);
  };
  const onAbort = () => destroy(signal.reason instanceof Error ? signal.reason : undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  // 'error' stays handled for the request's whole life (a reset mid-body
  // after the response): an unheard 'error' would be an uncaught exception.
  const responded = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.on("error", reject);
  });
  responded.catch(ignoreError); // observed below; a failure before that is not unhandled
  let bodyError: Error | null = null;
  if (request.body === null) {
    req.end();
  } else {
    const body = request.body;
    void (async () => {
      try {
        for await (const chunk of body) req.write(chunk);
        req.end();
      } catch (error) {
        bodyError = asError(error);
        destroy(bodyError);
      }
    })();
  }
  const what = `${request.method} ${url.href}`;
  let res: http.IncomingMessage;
  try {
    res = await cancellable((waitSignal) => {
      waitSignal.addEventListener("abort", () => destroy(), { once: true });
      return responded;
    });
  } catch (error) {
    if (error === bodyError) throw error; // the request body's own failure
    throw connectionFailure(error, `fetch ${what}`, duplex, signal);
  }
  const responseHeaders = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  }
  const status = res.statusCode ?? 0;
  const noBody = request.method === "HEAD" || status === 204 || status === 304;
  if (noBody) res.resume();
  const failure: BodyFailure = (error) =>
    // The request body's own failure (it destroyed the request) is the caller's.
    bodyError !== null && !signal.aborted
      ? bodyError
      : connectionFailure(error, `reading the body of ${what}`, duplex, signal);
  const body = noBody ? null : responseBody(res, () => destroyed, failure);
  return new Response(body, {
    status,
    statusText: res.statusMessage ?? "",
    headers: responseHeaders,
  });
}
