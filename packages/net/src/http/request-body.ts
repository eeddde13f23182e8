/**
 * A request's body as a web `ReadableStream`, pulled from Node's
 * `IncomingMessage` only as the handler reads (Node pauses the socket when
 * its buffer is full, so a client sending a large body waits for the
 * handler), and limited in size: past `maxBodySize` bytes the stream fails
 * with `PayloadTooLargeError`, which `serveHttp` answers with 413.
 */
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";

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

/** `req`'s body as a byte stream that fails with PayloadTooLargeError past `limit` bytes. */
export function requestBodyStream(
  req: IncomingMessage,
  limit: number,
  onTooLarge: (error: PayloadTooLargeError) => void,
): ReadableStream<Uint8Array> {
  const source = Readable.toWeb(req) as ReadableStream<Uint8Array>;
  if (limit === Infinity) return source;
  let received = 0;
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.length;
        if (received > limit) {
          const error = new PayloadTooLargeError(limit);
          onTooLarge(error);
          controller.error(error);
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}
