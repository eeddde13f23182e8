/**
 * `serveListeners` and `serveTcp` (Trio's `_highlevel_serve_listeners.py` and
 * `serve_tcp`): accept loops that hand each connection to a handler task.
 */
import {
  isCancelled,
  type Nursery,
  openNursery,
  sleep,
  TASK_STATUS_IGNORED,
  type TaskStatus,
} from "@weft/core";
import { type AsyncResource, acloseForcefully, type Listener } from "@weft/core/streams";
import { checkMethods, checkOptionsObject, isArray } from "@weft/core/validate";
import { isCapacityError } from "../host/error-codes.ts";
import { type OpenTcpListenersOptions, openTcpListeners } from "./open-tcp-listeners.ts";
import type { SocketListener } from "./socket-listener.ts";
import type { SocketStream } from "./socket-stream.ts";

/** How long an accept loop waits after an EMFILE-like error before accepting again. */
export const ACCEPT_RETRY_DELAY_MS = 100;

/** Options of {@link serveListeners}. */
export interface ServeListenersOptions<S> {
  /** Where handler tasks run. Default: the nursery running the accept loops. */
  handlerNursery?: Nursery;
  /** Receives the listeners once every accept loop is running (for `nursery.start`). */
  taskStatus?: TaskStatus<Listener<S>[]>;
}

/** Options of {@link serveTcp}. */
export interface ServeTcpOptions extends OpenTcpListenersOptions {
  /** Where handler tasks run. Default: the nursery running the accept loops. */
  handlerNursery?: Nursery;
  /** Receives the listeners once every accept loop is running (for `nursery.start`). */
  taskStatus?: TaskStatus<SocketListener[]>;
}

/**
 * Serves forever: one accept loop per listener, each connection handled by
 * `handler` in its own task in the handler nursery, and the stream closed
 * (`acloseForcefully`) when the handler returns or throws. A handler's error is
 * not caught: like any task's error it cancels its nursery. An accept error
 * meaning "out of file descriptors / memory" (EMFILE, ENFILE, ENOMEM, ENOBUFS)
 * is logged with `console.error` and the loop retries after 100 ms; any other
 * accept error ends the server with that error. (A `SocketListener` reports a
 * descriptor shortage itself, because Node does not: meanwhile Node closes the
 * connections it has no descriptor for, and the log line says so.) The
 * listeners are closed when their loop ends. Never returns; cancel it to stop.
 */
export async function serveListeners<S extends AsyncResource>(
  handler: (stream: S) => Promise<void>,
  listeners: Listener<S>[],
  options?: ServeListenersOptions<S>,
): Promise<never> {
  if (typeof handler !== "function") throw new TypeError("handler must be a function");
  if (!isArray(listeners)) throw new TypeError("listeners must be an array of listeners");
  for (const [i, listener] of listeners.entries()) {
    checkMethods(`listeners[${i}]`, listener, ["accept"], "a Listener (an accept method)");
  }
  checkServeOptions(options);
  const taskStatus = options?.taskStatus ?? TASK_STATUS_IGNORED;
  await openNursery(async (nursery) => {
    const handlerNursery = options?.handlerNursery ?? nursery;
    for (const listener of listeners) {
      nursery.startSoon(() => acceptLoop(listener, handler, handlerNursery), {
        name: "serveListeners accept loop",
      });
    }
    // (TaskStatus's conditional parameter type does not resolve for a generic S.)
    (taskStatus as TaskStatus<unknown[]>).started(listeners);
  });
  // Accept loops only end by throwing; an empty list of listeners gets here.
  throw new Error("serveListeners: no listeners to serve");
}

async function acceptLoop<S extends AsyncResource>(
  listener: Listener<S>,
  handler: (stream: S) => Promise<void>,
  handlerNursery: Nursery,
): Promise<never> {
  try {
    while (true) {
      let stream: S;
      try {
        stream = await listener.accept();
      } catch (error) {
        if (isCancelled(error) || !isCapacityError(error)) throw error;
        console.error(
          `weft serveListeners: accept failed (${(error as Error).message}); retrying in ${ACCEPT_RETRY_DELAY_MS} ms`,
        );
        await sleep(ACCEPT_RETRY_DELAY_MS);
        continue;
      }
      try {
        handlerNursery.startSoon(() => runHandler(handler, stream), { name: "connection handler" });
      } catch (error) {
        // The handler nursery has closed: nobody will own this stream.
        await acloseForcefully(stream);
        throw error;
      }
    }
  } finally {
    await acloseForcefully(listener);
  }
}

async function runHandler<S extends AsyncResource>(
  handler: (stream: S) => Promise<void>,
  stream: S,
): Promise<void> {
  try {
    await handler(stream);
  } finally {
    await acloseForcefully(stream);
  }
}

/**
 * Opens TCP listeners on `port` (as {@link openTcpListeners}) and serves them
 * forever with {@link serveListeners}. With `port` 0, read the chosen port from
 * the listeners given to `taskStatus.started`:
 *
 * ```ts
 * const listeners = await nursery.start<SocketListener[]>((taskStatus) =>
 *   serveTcp(handler, 0, { host: "127.0.0.1", taskStatus }));
 * const port = listeners[0].localAddress.port;
 * ```
 */
export async function serveTcp(
  handler: (stream: SocketStream) => Promise<void>,
  port: number,
  options?: ServeTcpOptions,
): Promise<never> {
  if (typeof handler !== "function") throw new TypeError("handler must be a function");
  checkServeOptions(options); // before listening: a bad one must not leave listeners open
  const { handlerNursery, taskStatus, ...listenOptions } = options ?? {};
  const listeners = await openTcpListeners(port, listenOptions);
  return serveListeners(handler, listeners, {
    ...(handlerNursery !== undefined ? { handlerNursery } : {}),
    ...(taskStatus !== undefined
      ? { taskStatus: taskStatus as TaskStatus<Listener<SocketStream>[]> }
      : {}),
  });
}

/**
 * The options serveListeners, serveTcp and serveHttp share: a nursery to
 * start handlers in and a TaskStatus to report the listeners to, each checked
 * at once (used later, a bad one would fail inside the accept loop).
 */
export function checkServeOptions(options: unknown): void {
  checkOptionsObject("options", options);
  const { handlerNursery, taskStatus } = (options ?? {}) as ServeListenersOptions<AsyncResource>;
  if (handlerNursery !== undefined) {
    checkMethods("options.handlerNursery", handlerNursery, ["startSoon"], "a Nursery");
  }
  if (taskStatus !== undefined) {
    checkMethods("options.taskStatus", taskStatus, ["started"], "a TaskStatus");
  }
}
