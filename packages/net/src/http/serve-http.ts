/**
 * `serveHttp`: an HTTP/1.1 server in which every request is a task. Node's
 * own parser (llhttp) reads the requests; the handler is fetch-style, so a
 * Hono app (`app.fetch`) or any WHATWG `Request → Response` function serves.
 */
import {
  CancelScope,
  Event,
  type Nursery,
  openNursery,
  sleepForever,
  TASK_STATUS_IGNORED,
  type TaskStatus,
} from "@weft/core";
import { acloseForcefully, type Listener, type Stream } from "@weft/core/streams";
import {
  checkCount,
  checkDuration,
  checkFunction,
  checkOptionsObject,
  isArray,
} from "@weft/core/validate";
import { checkPort } from "../sockets/addresses.ts";
import { type OpenTcpListenersOptions, openTcpListeners } from "../sockets/open-tcp-listeners.ts";
import { checkServeOptions, serveListeners } from "../sockets/serve.ts";
import type { SocketListener } from "../sockets/socket-listener.ts";
import {
  defaultHttpLog,
  type HttpHandler,
  type HttpLogEntry,
  HttpServer,
  type HttpServerSettings,
} from "./http-server.ts";

/** Options of {@link serveHttp}. */
export interface ServeHttpOptions<L extends Listener<Stream> = SocketListener>
  extends OpenTcpListenersOptions {
  /** The TCP port to listen on (0: any free port); not needed with `listeners`. */
  port?: number;
  /** Serve these listeners (TCP, Unix, TLS, …) instead of opening TCP ones. */
  listeners?: L[];
  /** Where connection tasks run (default: a nursery of serveHttp's own). */
  handlerNursery?: Nursery;
  /** Receives the listeners once the server accepts connections (for `nursery.start`). */
  taskStatus?: TaskStatus<L[]>;
  /** How long a shutdown lets requests in flight finish before cancelling them (ms, default 10,000). */
  gracePeriod?: number;
  /** Time for a new connection's first request headers (ms, default 60,000). */
  headersTimeout?: number;
  /** Time an idle keep-alive connection waits for its next request (ms, default 5,000). */
  keepAliveTimeout?: number;
  /** Deadline of each request, from its headers to the end of its response (ms, default 300,000). */
  requestTimeout?: number;
  /** Largest request head in bytes (default 16 KiB; more is answered with 431). */
  maxHeaderSize?: number;
  /** Largest request body in bytes (default 1 MiB; more is answered with 413). */
  maxBodySize?: number;
  /** Receives what went wrong with a request (default: handler errors to stderr). */
  log?: (entry: HttpLogEntry) => void;
}

/** The options, checked, with their defaults. */
function settingsOf(
  handler: HttpHandler,
  options: ServeHttpOptions<Listener<Stream>>,
): HttpServerSettings {
  const duration = (
    name: "gracePeriod" | "headersTimeout" | "keepAliveTimeout" | "requestTimeout",
    fallback: number,
  ): number => {
    const value = options[name];
    if (value === undefined) return fallback;
    checkDuration(`options.${name}`, value);
    return value;
  };
  const { maxHeaderSize = 16_384, maxBodySize = 1_048_576, log = defaultHttpLog } = options;
  checkCount("options.maxHeaderSize", maxHeaderSize, { min: 1 });
  checkCount("options.maxBodySize", maxBodySize, { infinity: true });
  checkFunction("options.log", log);
  return {
    handler,
    gracePeriod: duration("gracePeriod", 10_000),
    headersTimeout: duration("headersTimeout", 60_000),
    keepAliveTimeout: duration("keepAliveTimeout", 5_000),
    requestTimeout: duration("requestTimeout", 300_000),
    maxHeaderSize,
    maxBodySize,
    log,
  };
}

/**
 * Serves HTTP/1.1 (keep-alive and pipelining, parsed by Node's llhttp) until
 * cancelled. Each connection is a task in the handler nursery, and each
 * request a task in its connection's nursery, named after its method and path.
 *
 * - The handler gets a WHATWG `Request` and returns a `Response`: `serveHttp(app.fetch, …)`
 *   serves a Hono app. The request body streams, pulled as the handler reads;
 *   the response body (string, bytes, `ReadableStream`, async iterable) is
 *   written with backpressure.
 * - The client going away cancels the handler (its `request.signal` and
 *   `currentSignal()` abort too); logged as a 499, never as an error. A
 *   handler's error answers 500 without details and is logged; serving goes on.
 * - Limits and timeouts run on the run's clock (see the options).
 * - Cancelling the task that runs serveHttp shuts down gracefully: no new
 *   connections, idle ones closed, `Connection: close` on the responses in
 *   flight, which get `gracePeriod` to finish; then they are cancelled (every
 *   `finally` runs) and serveHttp returns — by raising `Cancelled` — once
 *   every connection is closed.
 *
 * ```ts
 * const [listener] = await nursery.start<SocketListener[]>((taskStatus) =>
 *   serveHttp(async (request) => new Response(`hello ${new URL(request.url).pathname}`),
 *     { port: 0, host: "127.0.0.1", taskStatus }));
 * const port = listener.localAddress.port;
 * ```
 */
export function serveHttp<L extends Listener<Stream> = SocketListener>(
  handler: HttpHandler,
  options: ServeHttpOptions<L>,
): Promise<never> {
  try {
    checkFunction("handler", handler);
    checkOptionsObject("options", options);
    if (options === undefined) throw new TypeError("options must give a port or listeners");
    const settings = settingsOf(handler, options as ServeHttpOptions<Listener<Stream>>);
    if (options.listeners !== undefined && !isArray(options.listeners)) {
      throw new TypeError("options.listeners must be an array of listeners");
    }
    if (options.listeners === undefined && options.port === undefined) {
      throw new TypeError("options must give a port (0 for any free port) or listeners");
    }
    if (options.listeners === undefined) checkPort(options.port, "options.port");
    checkServeOptions(options);
    return serve(new HttpServer(settings), options);
  } catch (error) {
    return Promise.reject(error);
  }
}

async function serve<L extends Listener<Stream>>(
  server: HttpServer,
  options: ServeHttpOptions<L>,
): Promise<never> {
  const listeners: L[] =
    options.listeners ?? ((await openTcpListeners(options.port!, options)) as unknown as L[]);
  const taskStatus = options.taskStatus ?? TASK_STATUS_IGNORED;
  // SEMANTICS.md, "HTTP": connections live in a nursery the server task's
  // cancellation does not reach, so that a shutdown can give them gracePeriod.
  const connectionsScope = new CancelScope({ shield: true });
  let served = false;
  try {
    return await openNursery(async (nursery) => {
      try {
        let connections: Nursery | undefined = options.handlerNursery;
        if (connections === undefined) {
          // Not nursery.start: a child still starting stays in start()'s own
          // nursery when the caller is cancelled, and this one, shielded, would
          // keep it open for ever. The finally below ends it in every case.
          const ready = new Event();
          nursery.startSoon(
            () =>
              connectionsScope.run(() =>
                openNursery(async (inner) => {
                  connections = inner;
                  ready.set();
                  await sleepForever();
                }),
              ),
            { name: "serveHttp connections" },
          );
          await ready.wait();
        }
        served = true;
        return await serveListeners((stream: Stream) => server.serveConnection(stream), listeners, {
          handlerNursery: connections,
          taskStatus: taskStatus as TaskStatus<Listener<Stream>[]>,
        });
      } finally {
        // eslint-disable-next-line weft/no-unbounded-cleanup -- shutdown() runs shielded and bounded by gracePeriod itself
        if (served) await server.shutdown();
        // Also when cancelled before serving began: the shielded nursery must end.
        connectionsScope.cancel("serveHttp has shut down");
      }
    });
  } finally {
    // Listeners serveListeners never took (it closes the ones it serves).
    if (!served) {
      await new CancelScope({ shield: true }).run(async () => {
        for (const listener of listeners) await acloseForcefully(listener);
      });
    }
  }
}
