/**
 * The errors of `BufferedReceiveStream`'s framed reads: the stream ended in the
 * middle of a frame (`IncompleteReadError`), or a delimiter did not come within
 * the allowed number of bytes (`LimitOverrunError`). Modelled on asyncio's
 * `IncompleteReadError` / `LimitOverrunError`.
 */
import { BrokenResourceError } from "@weft/core";

/**
 * The stream reached end of file before a `receiveExactly` / `receiveUntil`
 * could complete. The bytes that did arrive are consumed and carried in
 * `partial`; the stream is then at end of file.
 *
 * A subclass of `BrokenResourceError`: to the caller, a peer that stops in the
 * middle of a message broke the conversation, and handlers that already treat
 * `BrokenResourceError` as "the peer went away" handle this case too. A clean
 * end of file between messages shows up as `partial.length === 0`.
 */
export class IncompleteReadError extends BrokenResourceError {
  /** The bytes received before end of file (possibly none). */
  readonly partial: Uint8Array;
  /** How many bytes `receiveExactly` wanted; `null` for `receiveUntil` (unknown). */
  readonly expected: number | null;

  constructor(partial: Uint8Array, expected: number | null, options?: ErrorOptions) {
    const what =
      expected === null
        ? `end of file after ${partial.length} bytes, before the delimiter`
        : `end of file after ${partial.length} of ${expected} bytes`;
    super(what, options);
    this.name = "IncompleteReadError";
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * `receiveUntil` (or `lines`) saw `maxBytes` bytes without the delimiter ending
 * within them. Nothing was consumed: the buffered bytes are still there for the
 * next call (which may, for example, skip them with `receiveExactly`).
 */
export class LimitOverrunError extends Error {
  /** The delimiter that was looked for. */
  readonly delimiter: Uint8Array;
  /** The limit that was exceeded. */
  readonly maxBytes: number;

  constructor(delimiter: Uint8Array, maxBytes: number, options?: ErrorOptions) {
    super(`the delimiter was not found within the first ${maxBytes} bytes`, options);
    this.name = "LimitOverrunError";
    this.delimiter = delimiter;
    this.maxBytes = maxBytes;
  }
}
