/**
 * `fetch` when the run has a custom socket factory (a simulated network): the
 * global fetch (undici) would open real sockets, so the request goes through
 * `openTcpStream` — the run's resolver and factory — and Node's own HTTP/1.1
 * client, over a `StreamDuplex` on that stream. One connection per request
 * (`Connection: close`); `http:` only.
 */
import * as http from "node:http";
import type * as net from "node:net";
import { Readable } from "node:stream";
import { cancellable, lowlevel } from "@weft/core";
import { acloseForcefully } from "@weft/core/streams";
import { ignoreError } from "../host/io-wait.ts";
import { openTcpStream } from "../sockets/open-tcp-stream.ts";
import { runStreamDuplex, StreamDuplex } from "../streams/stream-duplex.ts";

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
  const onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  // 'error' stays handled for the request's whole life (a reset mid-body
  // after the response): an unheard 'error' would be an uncaught exception.
  const responded = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.on("error", reject);
  });
  responded.catch(ignoreError); // observed below; a failure before that is not unhandled
  if (request.body === null) {
    req.end();
  } else {
    const body = request.body;
    void (async () => {
      try {
        for await (const chunk of body) req.write(chunk);
        req.end();
      } catch (error) {
        req.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    })();
  }
  const res = await cancellable((waitSignal) => {
    waitSignal.addEventListener("abort", () => req.destroy(), { once: true });
    return responded;
  });
  const responseHeaders = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  }
  const status = res.statusCode ?? 0;
  const noBody = request.method === "HEAD" || status === 204 || status === 304;
  if (noBody) res.resume();
  return new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
    status,
    statusText: res.statusMessage ?? "",
    headers: responseHeaders,
  });
}
