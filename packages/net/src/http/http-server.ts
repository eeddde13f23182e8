/**
 * The server side of `serveHttp`: one Node `http.Server` that never listens
 * (connections come from weft listeners and are handed to it), the
 * connections it serves, each request's exchange — build the WHATWG
 * `Request`, run the handler in a cancel scope, write the `Response` — and the
 * graceful shutdown.
 */
import * as http from "node:http";
import type { Duplex } from "node:stream";
import { CancelScope, Event, isCancelled, moveOnAfter, openNursery } from "@weft/core";
import type { ReceiveStream, Stream } from "@weft/core/streams";
import { waitForEvent } from "../host/io-wait.ts";
import type { SocketAddress } from "../sockets/addresses.ts";
import { SocketStream } from "../sockets/socket-stream.ts";
import { runStreamDuplex, StreamDuplex } from "../streams/stream-duplex.ts";
import { WebReceiveStream } from "../streams/web-receive-stream.ts";
import { TlsStream } from "../tls/tls-stream.ts";
import { type ConnectionHost, HttpConnection, requestTaskName } from "./http-connection.ts";
import { type PayloadTooLargeError, requestBodyStream } from "./request-body.ts";
import { writeResponse } from "./response-writer.ts";

/** What the handler gets besides the request. */
export interface HttpRequestInfo {
  /** The client's address (`null` when the transport has none, as a memory stream). */
  readonly remoteAddress: SocketAddress | null;
  /** The server's address the client connected to. */
  readonly localAddress: SocketAddress | null;
  /** The request's body as a weft `ReceiveStream` (reading it consumes `request.body`). */
  receiveBody(): ReceiveStream;
}

/** A fetch-style handler: `app.fetch` of Hono and most new frameworks fits. */
export type HttpHandler = (request: Request, info: HttpRequestInfo) => Response | Promise<Response>;

/** How a request ended, when it did not end with the handler's response. */
export type HttpOutcome =
  /** The handler failed: the client got 500. */
  | "error"
  /** The client left before the response was complete (logged as 499, as nginx does). */
  | "client-disconnected"
  /** The request's deadline (`requestTimeout`) passed: 503, or the connection closed mid-response. */
  | "timeout"
  /** The body was over `maxBodySize`: 413. */
  | "too-large"
  /** The request could not be turned into a `Request` (a bad Host, say): 400. */
  | "bad-request"
  /** The server shut down before the handler finished: 503, or the connection closed. */
  | "shutdown";

/** One log line of the server. */
export interface HttpLogEntry {
  /** How the request ended. */
  readonly outcome: HttpOutcome;
  /** The status the client got (499 when it left). */
  readonly status: number;
  /** The request's method. */
  readonly method: string;
  /** The request's URL (path and query, as the client sent it). */
  readonly url: string;
  /** The handler's task, as named in task dumps ("GET /path"). */
  readonly task?: string;
  /** What the handler threw, when it failed. */
  readonly error?: unknown;
}

/** The server's settings, checked and defaulted (see ServeHttpOptions). */
export interface HttpServerSettings {
  readonly handler: HttpHandler;
  readonly headersTimeout: number;
  readonly keepAliveTimeout: number;
  readonly requestTimeout: number;
  readonly maxHeaderSize: number;
  readonly maxBodySize: number;
  readonly gracePeriod: number;
  readonly log: (entry: HttpLogEntry) => void;
}

/** The default log: handler errors on stderr; other outcomes are the client's doing. */
export function defaultHttpLog(entry: HttpLogEntry): void {
  if (entry.outcome !== "error") return;
  const task = entry.task === undefined ? "" : ` (task ${JSON.stringify(entry.task)})`;
  console.error(`serveHttp: ${entry.method} ${entry.url} failed${task}: 500`, entry.error);
}

const NO_ADDRESSES = { local: null, remote: null };

function addressesOf(stream: Stream): {
  local: SocketAddress | null;
  remote: SocketAddress | null;
} {
  if (stream instanceof SocketStream) {
    return { local: stream.localAddress, remote: stream.remoteAddress };
  }
  if (stream instanceof TlsStream) return addressesOf(stream.transport);
  return NO_ADDRESSES;
}

/** A short answer with no details (the client learns the status, nothing more). */
function answer(res: http.ServerResponse, status: number, close: boolean): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${status} ${http.STATUS_CODES[status] ?? ""}\n`;
  // Headers the handler's Response had set (a body that failed before its
  // first byte) must not go out with this answer: a cache-control would let
  // a cache keep the error, a content-encoding would mislabel this body.
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(body);
}

export class HttpServer implements ConnectionHost {
  readonly settings: HttpServerSettings;
  readonly node: http.Server;
  readonly #connections = new Set<HttpConnection>();
  readonly #bySocket = new WeakMap<Duplex, HttpConnection>();
  #draining = false;
  #allClosed: Event | null = null;

  constructor(settings: HttpServerSettings) {
    this.settings = settings;
    // Node's own timers run on real time; ours run on the run's clock.
    this.node = http.createServer({
      maxHeaderSize: settings.maxHeaderSize,
      requestTimeout: 0,
      headersTimeout: 0,
      keepAliveTimeout: 0,
      noDelay: true,
    });
    this.node.timeout = 0;
    this.node.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const connection = this.#bySocket.get(req.socket as Duplex);
      if (connection === undefined) res.destroy();
      else connection.onRequest(req, res);
    });
    // `Expect: 100-continue`: a body over the limit is refused before the
    // client sends it.
    this.node.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (Number(req.headers["content-length"] ?? 0) > settings.maxBodySize) {
        answer(res, 413, true);
        return;
      }
      res.writeContinue();
      this.node.emit("request", req, res);
    });
  }

  get headersTimeout(): number {
    return this.settings.headersTimeout;
  }

  get keepAliveTimeout(): number {
    return this.settings.keepAliveTimeout;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Serves one accepted stream until its connection closes (a handler of serveListeners). */
  async serveConnection(stream: Stream): Promise<void> {
    // The fast path: a real socket goes to Node's parser as is.
    const socket = stream instanceof SocketStream ? stream.detachSocket() : null;
    const duplex = socket ?? new StreamDuplex(stream);
    const scheme = stream instanceof TlsStream ? "https" : "http";
    const connection = new HttpConnection(this, duplex, scheme, addressesOf(stream));
    this.#connections.add(connection);
    this.#bySocket.set(duplex, connection);
    try {
      if (duplex instanceof StreamDuplex) {
        await openNursery(async (nursery) => {
          nursery.startSoon(() => runStreamDuplex(duplex), { name: "serveHttp stream pumps" });
          await connection.serve();
        });
      } else {
        await connection.serve();
      }
    } finally {
      this.#connections.delete(connection);
      if (this.#connections.size === 0) this.#allClosed?.set();
    }
  }

  attach(connection: HttpConnection): void {
    this.node.emit("connection", connection.socket);
  }

  async exchange(
    connection: HttpConnection,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const { settings } = this;
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const log = (outcome: HttpOutcome, status: number, error?: unknown) =>
      settings.log({ outcome, status, method, url, task: requestTaskName(req), error });
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > settings.maxBodySize) {
      answer(res, 413, true);
      log("too-large", 413);
      return;
    }

    let request: Request;
    let tooLarge: PayloadTooLargeError | null = null;
    const scope = new CancelScope({ relativeDeadline: settings.requestTimeout });
    let disconnected = false;
    const onClose = () => {
      if (!res.writableFinished) {
        disconnected = true;
        scope.cancel("the client disconnected");
      }
    };
    res.on("close", onClose); // emitted once; removed below
    // A handler awaiting the body (request.text()) is in a foreign await that
    // no checkpoint ends: when the request's scope is cancelled (deadline,
    // shutdown) while the body is still coming, the request is destroyed, which
    // fails that read (SEMANTICS.md, "HTTP").
    // A request already complete (every bodiless one, by the time its task
    // runs) has nothing to destroy: no listener then.
    const onAbort = req.complete
      ? null
      : () => {
          if (!req.complete) req.destroy();
        };
    if (onAbort !== null) scope.signal.addEventListener("abort", onAbort, { once: true });
    connection.requestScopes.add(scope);
    try {
      try {
        request = makeRequest(connection, req, scope.signal, settings.maxBodySize, (error) => {
          tooLarge = error;
        });
      } catch (error) {
        answer(res, 400, true);
        log("bad-request", 400, error);
        return;
      }
      const info: HttpRequestInfo = {
        remoteAddress: connection.remoteAddress,
        localAddress: connection.localAddress,
        receiveBody: () => {
          if (request.body === null) throw new TypeError(`a ${method} request has no body`);
          return new WebReceiveStream(request.body);
        },
      };
      try {
        await scope.run(async () => {
          const result = settings.handler(request, info);
          // A handler that answers at once is not awaited: one microtask fewer.
          const response = result instanceof Response ? result : await result;
          if (!(response instanceof Response)) {
            throw new TypeError(
              `the handler must return a Response, got ${response === null ? "null" : typeof response}`,
            );
          }
          // A shutdown that began while the handler ran: this is the
          // connection's last response. So is one whose request body was not
          // read to its end: the rest of it stands before the next request.
          if (this.#draining || !req.complete) res.setHeader("connection", "close");
          await writeResponse(res, response, scope.signal);
          // Bytes Node still holds (a body larger than the socket took at once,
          // a client reading slowly) keep the request in flight until they are
          // handed to the OS: only then may its connection go idle, and be
          // closed by a shutdown or its keep-alive limit without cutting the
          // response short. Bounded by the request's scope (deadline, client
          // gone, the end of a shutdown's grace period).
          if (!res.writableFinished && res.writableLength > 0) {
            await waitForEvent(res, "finish", "serveHttp: the client to take the response");
          }
        });
      } catch (error) {
        if (isCancelled(error)) {
          // The connection's scope: the server gave up on it after the grace period.
          answer(res, 503, true);
          log("shutdown", res.headersSent ? res.statusCode : 503, error);
          throw error;
        }
        if (disconnected) {
          // The handler failed because its client left (its body read broke): not its error.
          log("client-disconnected", 499, error);
        } else if (tooLarge !== null) {
          answer(res, 413, true);
          log("too-large", 413, error);
        } else if (scope.cancelCalled) {
          // Its deadline or the shutdown destroyed the request under a body read.
          answer(res, 503, true);
          log(connection.scope.cancelCalled ? "shutdown" : "timeout", 503, error);
        } else {
          answer(res, 500, false);
          log("error", 500, error);
        }
        return;
      }
      if (disconnected) log("client-disconnected", 499);
      else if (scope.cancelledCaught) {
        const status = res.headersSent ? res.statusCode : 503;
        answer(res, 503, true);
        log(connection.scope.cancelCalled ? "shutdown" : "timeout", status);
      }
    } finally {
      res.off("close", onClose);
      if (onAbort !== null) scope.signal.removeEventListener("abort", onAbort);
      connection.requestScopes.delete(scope);
    }
  }

  /**
   * Shutdown: no new requests (idle connections close now, busy ones after
   * their response, with `Connection: close`), `gracePeriod` for the requests
   * in flight, then the rest are cancelled and waited for. Runs shielded: the
   * task running serveHttp was cancelled.
   */
  async shutdown(): Promise<void> {
    this.#draining = true;
    for (const connection of this.#connections) connection.changed();
    await moveOnAfter(this.settings.gracePeriod, () => this.#waitAllClosed(), { shield: true });
    for (const connection of this.#connections) connection.cancel("the server shut down");
    await new CancelScope({ shield: true }).run(() => this.#waitAllClosed());
  }

  async #waitAllClosed(): Promise<void> {
    while (this.#connections.size > 0) {
      this.#allClosed = new Event();
      await this.#allClosed.wait();
    }
  }
}

// A Host is a host name, an IPv4 address or a bracketed IPv6 address, and a
// port: nothing that could move the request's path, query or fragment.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::\d{1,5})?$/;

/**
 * The request's URL. The origin-form target (`/path?query`) is joined to the
 * Host; an absolute-form one (`http://host/path`, RFC 9112 §3.2.2) is taken as
 * is; `*` (`OPTIONS *`) becomes the path `/*`. A Host that is not just a host
 * and port, or a target of another form, is a TypeError: 400.
 */
function requestUrl(connection: HttpConnection, req: http.IncomingMessage): string {
  const target = req.url ?? "/";
  if (/^https?:\/\//i.test(target)) return new URL(target).href;
  const host = req.headers.host ?? hostOf(connection.localAddress);
  if (!HOST.test(host))
    throw new TypeError(`the Host header ${JSON.stringify(host)} is not a host`);
  if (target === "*") return `${connection.scheme}://${host}/*`;
  if (!target.startsWith("/")) throw new TypeError(`the request target ${JSON.stringify(target)}`);
  return `${connection.scheme}://${host}${target}`;
}

/** The WHATWG request for `req` (a bad Host or target throws a TypeError: 400). */
function makeRequest(
  connection: HttpConnection,
  req: http.IncomingMessage,
  signal: AbortSignal,
  maxBodySize: number,
  onTooLarge: (error: PayloadTooLargeError) => void,
): Request {
  const url = requestUrl(connection, req);
  const method = req.method ?? "GET";
  const request =
    method === "GET" || method === "HEAD"
      ? new Request(url, { method, signal })
      : new Request(url, {
          method,
          signal,
          body: requestBodyStream(req, maxBodySize, onTooLarge),
          duplex: "half",
        } as RequestInit);
  // Appended to the request's own headers: a Headers of our own passed in
  // `init` would be copied into them, header by header.
  const headers = request.headers;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return request;
}

/** The Host for a request that sent none (HTTP/1.0): the address it came to. */
function hostOf(address: SocketAddress | null): string {
  if (address === null || address.family === "unix") return "localhost";
  return address.family === 6
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}
