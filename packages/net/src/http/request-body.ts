/**
 * A request's body as a web `ReadableStream`, pulled from Node's
 * `IncomingMessage` only as the handler reads (Node pauses the socket when
 * its buffer is full, so a client sending a large body waits for the
 * handler), and limited in size: past `maxBodySize` bytes the stream fails
 * with `PayloadTooLargeError`, which `serveHttp` answers with 413.
 *
 * Not `Readable.toWeb(req)`: its adapter enqueues every `'data'` event, and
 * Node still emits buffered data after the web stream was cancelled (a pull
 * had scheduled a resume): `enqueue` then throws "Controller is already
 * closed" from the event handler — an uncaught exception that takes the
 * process down (found by the soak run; SEMANTICS.md, "HTTP": nothing a client
 * sends reaches the process as an uncaught error). Here, data that comes after
 * the stream has settled is dropped.
 */
import type { IncomingMessage } from "node:http";
import { finished } from "node:stream";

/** A request body was larger than the server's `maxBodySize` (answered with 413). */
export class PayloadTooLargeError extends Error {
  /** The limit, in bytes. */
  readonly limit: number;

  constructor(limit: number) {
    super(`the request body is larger than the limit of ${limit} bytes`);
    this.name = "PayloadTooLargeError";
    this.limit = limit;
  }
}

const ignore = () => {};

/** The error a body read fails with when the request ended before its body did (as Readable.toWeb's). */
function abortErrorOf(error: Error): Error {
  if ((error as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") return error;
  return Object.assign(new Error("The operation was aborted", { cause: error }), {
    name: "AbortError",
    code: "ABORT_ERR",
  });
}

/** `req`'s body as a byte stream that fails with PayloadTooLargeError past `limit` bytes. */
export function requestBodyStream(
  req: IncomingMessage,
  limit: number,
  onTooLarge: (error: PayloadTooLargeError) => void,
): ReadableStream<Uint8Array> {
  let controller: ReadableStreamDefaultController<Uint8Array>;
  let received = 0;
  /** Closed, errored or cancelled: later 'data' events are dropped. */
  let settled = false;
  let stopWatching = ignore;
  const settle = (error?: Error) => {
    if (settled) return;
    settled = true;
    stopWatching();
    if (error === undefined) controller.close();
    else controller.error(error);
  };
  const onData = (chunk: Buffer) => {
    if (settled) return;
    received += chunk.length;
    if (received > limit) {
      // The rest of the body is left unread: the 413 closes the connection.
      req.pause();
      const error = new PayloadTooLargeError(limit);
      onTooLarge(error);
      settle(error);
      return;
    }
    // A copy: Node's chunks may be views of a pool shared with other data.
    controller.enqueue(new Uint8Array(chunk));
    if ((controller.desiredSize ?? 0) <= 0) req.pause();
  };
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        req.pause();
        req.on("data", onData);
        // Errors reach the reader through `finished`; this keeps a late one off the process.
        req.on("error", ignore);
        stopWatching = finished(req, { writable: false }, (error) =>
          settle(error == null ? undefined : abortErrorOf(error)),
        );
      },
      pull() {
        req.resume();
      },
      cancel() {
        settled = true;
        stopWatching();
        // The body will not be read: the request (and its connection) is given up, as Readable.toWeb does.
        req.destroy();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: req.readableHighWaterMark }),
  );
}
