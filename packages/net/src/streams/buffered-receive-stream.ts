/**
 * `BufferedReceiveStream`: reading helpers over any `ReceiveStream` —
 * exact-size reads, delimiter-terminated reads and line iteration — with the
 * bytes read ahead kept in a buffer. Error semantics follow asyncio's
 * `StreamReader.readexactly` / `readuntil`; see `read-errors.ts`.
 */
import type { TextDecoder } from "node:util";
import {
  BusyResourceError,
  ClosedResourceError,
  cancelShieldedCheckpoint,
  lowlevel,
} from "@weft/core";
import {
  ConflictDetector,
  checkMaxBytes,
  isReceiveStream,
  type ReceiveStream,
  receiveChunks,
} from "@weft/core/streams";
import { checkCount, checkOptionsObject, isInstance } from "@weft/core/validate";
import { IncompleteReadError, LimitOverrunError } from "./read-errors.ts";
import { createTextDecoder, decodeChecked, type TextDecodingOptions } from "./text-decoding.ts";

const DEFAULT_RECEIVE_SIZE = 65536;
const DEFAULT_MAX_BYTES = 65536;
const EMPTY = new Uint8Array(0);
const NEWLINE = new Uint8Array([0x0a]);
const encoder = new TextEncoder();

/** Options of a `BufferedReceiveStream`. */
export interface BufferedReceiveStreamOptions {
  /**
   * How many bytes to ask the wrapped stream for when the buffer runs short
   * (default 65536). `receiveExactly(n)` asks for more when it needs more.
   */
  receiveSize?: number;
}

/** Options of `BufferedReceiveStream.lines()`. */
export interface LinesOptions extends TextDecodingOptions {
  /**
   * The longest line accepted, in bytes, counting its terminator (default
   * 65536). A longer line ends the iteration with a `LimitOverrunError` and is
   * left in the buffer.
   */
  maxLineBytes?: number;
}

/** A byte count limit: an integer >= `min`, or `Infinity` for none. */
function checkLimit(name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${typeof value}`);
  }
  if (value !== Number.POSITIVE_INFINITY && (!Number.isInteger(value) || value < min)) {
    throw new RangeError(`${name} must be an integer >= ${min} or Infinity, got ${String(value)}`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A `ReceiveStream` over another one that reads ahead into a buffer, adding
 * `receiveExactly`, `receiveUntil` and `lines`.
 *
 * - Every receive method is a checkpoint, also when it is served from the
 *   buffer alone, and is cancel-safe: a cancelled call consumes nothing, and
 *   bytes it had already pulled from the wrapped stream stay buffered for the
 *   next call.
 * - Receive methods exclude one another: a second one started while one is
 *   running throws `BusyResourceError`.
 * - End of file in the middle of a `receiveExactly` / `receiveUntil` is an
 *   `IncompleteReadError` carrying the bytes that arrived (and consuming them).
 * - Errors of the wrapped stream propagate unchanged; buffered bytes stay.
 *
 * Once wrapped, the inner stream should be read only through this object. For
 * a two-way stream, staple the sending half back on:
 *
 * ```ts
 * const reader = new BufferedReceiveStream(socket);
 * const conn = new StapledStream(socket, reader); // aclose closes the socket (twice: harmless)
 * const head = await reader.receiveUntil("\r\n\r\n", 16384);
 * for await (const line of reader.lines()) console.log(line);
 * ```
 */
export class BufferedReceiveStream implements ReceiveStream {
  /** The wrapped stream. */
  readonly receiveStream: ReceiveStream;

  readonly #receiveSize: number;
  readonly #conflict = new ConflictDetector("another task is using this stream for receiving");
  // The buffered bytes are #buf[#start, #end): consuming moves #start, reading
  // ahead appends at #end; the storage is compacted or grown when full.
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  #eof = false;
  #closed = false;
  // Delimiter search memo: no occurrence of #scanDelimiter starts before
  // buffer offset #scanned, so a search resumes there instead of rescanning
  // (a line arriving a byte at a time costs linear, not quadratic, time).
  #scanDelimiter: Uint8Array = EMPTY;
  // The string #scanDelimiter was encoded from, if any: reading line after
  // line with the same string delimiter then encodes it only once.
  #scanDelimiterText: string | null = null;
  #scanned = 0;

  /** Wraps `stream`, which should not be read directly afterwards. */
  constructor(stream: ReceiveStream, options?: BufferedReceiveStreamOptions) {
    if (!isReceiveStream(stream)) {
      throw new TypeError("stream must be a ReceiveStream (receiveSome and aclose methods)");
    }
    checkOptionsObject("options", options);
    const receiveSize = options?.receiveSize ?? DEFAULT_RECEIVE_SIZE;
    checkCount("options.receiveSize", receiveSize, { min: 1 });
    this.receiveStream = stream;
    this.#receiveSize = receiveSize;
  }

  /** How many bytes are buffered: received from the wrapped stream and not yet returned. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Returns buffered bytes (up to `maxBytes`; all of them by default) if there
   * are any, else the next chunk of the wrapped stream (`receiveSome(maxBytes)`
   * on it); an empty array at end of file.
   */
  async receiveSome(maxBytes?: number): Promise<Uint8Array> {
    checkMaxBytes(maxBytes);
    this.#conflict.acquire();
    try {
      this.#checkOpen();
      const cancelled = lowlevel.cancelPoint("BufferedReceiveStream.receiveSome()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      const available = this.buffered;
      if (available > 0 || this.#eof) {
        const result = this.#take(Math.min(maxBytes ?? available, available));
        await cancelShieldedCheckpoint();
        return result;
      }
      const chunk = await this.receiveStream.receiveSome(maxBytes);
      this.#checkOpen();
      if (chunk.length === 0) this.#eof = true;
      return chunk;
    } finally {
      this.#conflict.release();
    }
  }

  /**
   * Returns exactly `n` bytes (an empty array for 0), waiting for as many reads
   * as it takes. End of file first: `IncompleteReadError` with the bytes that
   * arrived as `partial` and `expected` = `n`.
   */
  async receiveExactly(n: number): Promise<Uint8Array> {
    checkCount("n", n);
    this.#conflict.acquire();
    try {
      this.#checkOpen();
      const cancelled = lowlevel.cancelPoint("BufferedReceiveStream.receiveExactly()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      // A read of the wrapped stream is a checkpoint; without one, we owe a
      // schedule point, but no cancel point: we have consumed bytes.
      let checkpointed = false;
      while (this.buffered < n) {
        if (this.#eof) {
          const partial = this.#take(this.buffered);
          if (!checkpointed) await cancelShieldedCheckpoint();
          throw new IncompleteReadError(partial, n);
        }
        await this.#readAhead(n - this.buffered);
        checkpointed = true;
      }
      const result = this.#take(n);
      if (!checkpointed) await cancelShieldedCheckpoint();
      return result;
    } finally {
      this.#conflict.release();
    }
  }

  /**
   * Returns the bytes up to and including the first occurrence of `delimiter`
   * (a string is encoded as UTF-8), which must end within the first `maxBytes`
   * bytes (default 65536; `Infinity` for no limit).
   *
   * - `maxBytes` bytes buffered without the delimiter ending within them:
   *   `LimitOverrunError`, and nothing is consumed.
   * - End of file first: `IncompleteReadError` with the bytes that arrived as
   *   `partial` and `expected` = `null`.
   *
   * Which of the three happens depends only on the bytes of the stream, never
   * on how they were split into chunks.
   */
  async receiveUntil(
    delimiter: Uint8Array | string,
    maxBytes: number = DEFAULT_MAX_BYTES,
  ): Promise<Uint8Array> {
    const delim = this.#delimiterBytes(delimiter);
    checkLimit("maxBytes", maxBytes, 1);
    if (maxBytes < delim.length) {
      throw new RangeError(
        `maxBytes must be at least the delimiter's length (${delim.length}), got ${maxBytes}`,
      );
    }
    this.#conflict.acquire();
    try {
      this.#checkOpen();
      const cancelled = lowlevel.cancelPoint("BufferedReceiveStream.receiveUntil()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      if (delim !== this.#scanDelimiter) {
        this.#scanDelimiter = delim;
        this.#scanDelimiterText = typeof delimiter === "string" ? delimiter : null;
        this.#scanned = 0;
      }
      let checkpointed = false;
      while (true) {
        const end = this.#search(delim, maxBytes);
        if (end >= 0) {
          const result = this.#take(end);
          if (!checkpointed) await cancelShieldedCheckpoint();
          return result;
        }
        if (this.buffered >= maxBytes) {
          if (!checkpointed) await cancelShieldedCheckpoint();
          throw new LimitOverrunError(delim.slice(), maxBytes);
        }
        if (this.#eof) {
          const partial = this.#take(this.buffered);
          if (!checkpointed) await cancelShieldedCheckpoint();
          throw new IncompleteReadError(partial, null);
        }
        await this.#readAhead(0);
        checkpointed = true;
      }
    } finally {
      this.#conflict.release();
    }
  }

  /**
   * Iterates over the lines of the rest of the stream, decoded as
   * `options.encoding` (default UTF-8; it must be ASCII-compatible, so UTF-16
   * is a `RangeError`). Lines end with `"\n"` or `"\r\n"`, which are not part
   * of the yielded strings; a lone `"\r"` does not end a line. A last line
   * without a terminator is yielded at end of file; a stream ending with a
   * terminator yields no empty line after it. A byte order mark is dropped at
   * the start of the stream only.
   *
   * Each step is a `receiveUntil("\n", maxLineBytes)`, with its errors (a line
   * too long: `LimitOverrunError`, the line left in the buffer). Breaking out of
   * the loop leaves the unread bytes in the buffer.
   */
  lines(options?: LinesOptions): AsyncGenerator<string, void, undefined> {
    checkOptionsObject("options", options);
    const maxLineBytes = options?.maxLineBytes ?? DEFAULT_MAX_BYTES;
    checkLimit("options.maxLineBytes", maxLineBytes, 1);
    const decoder = createTextDecoder("options", options);
    if (decoder.encoding === "utf-16le" || decoder.encoding === "utf-16be") {
      // "\n" is two bytes there, and a 0x0a byte may be half of any character.
      throw new RangeError(
        `options.encoding must be ASCII-compatible for lines(), got ${decoder.encoding}`,
      );
    }
    return this.#lines(maxLineBytes, decoder);
  }

  async *#lines(
    maxLineBytes: number,
    decoder: TextDecoder,
  ): AsyncGenerator<string, void, undefined> {
    while (true) {
      let line: Uint8Array;
      try {
        line = await this.receiveUntil(NEWLINE, maxLineBytes);
      } catch (error) {
        if (!(error instanceof IncompleteReadError)) throw error;
        if (error.partial.length > 0) yield decodeChecked(decoder, error.partial, false);
        return;
      }
      // Decode with the terminator, then strip it: the "\n" completes any
      // truncated sequence before it (as U+FFFD), so no decoder state leaks
      // into the next line, while a streaming decoder still drops a byte order
      // mark only at the start of the stream.
      const text = decodeChecked(decoder, line, true);
      yield text.endsWith("\r\n") ? text.slice(0, -2) : text.slice(0, -1);
    }
  }

  /**
   * Puts `data` back at the front of the buffer: the next receive returns it
   * first. For protocol sniffing or switching (read a header, hand the rest
   * on). Synchronous, so not a checkpoint; `BusyResourceError` while a receive
   * is running, `ClosedResourceError` after `aclose`.
   */
  unreceive(data: Uint8Array): void {
    if (!isInstance(data, Uint8Array)) throw new TypeError("data must be a Uint8Array");
    if (this.#conflict.held) {
      throw new BusyResourceError("another task is using this stream for receiving");
    }
    this.#checkOpen();
    if (data.length === 0) return;
    const length = this.buffered;
    if (this.#start >= data.length) {
      this.#start -= data.length;
      this.#buf.set(data, this.#start);
    } else {
      const buf = new Uint8Array(Math.max(2 * (length + data.length), this.#buf.length));
      buf.set(data, 0);
      buf.set(this.#buf.subarray(this.#start, this.#end), data.length);
      this.#buf = buf;
      this.#start = 0;
      this.#end = data.length + length;
    }
    this.#scanned = 0;
  }

  /** Discards the buffer and closes the wrapped stream. Always closes, even when cancelled. */
  async aclose(): Promise<void> {
    this.#closed = true;
    this.#buf = EMPTY;
    this.#start = 0;
    this.#end = 0;
    this.#scanned = 0;
    await this.receiveStream.aclose();
  }

  /** `aclose()`, for `await using reader = new BufferedReceiveStream(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields chunks (`receiveSome()`), the buffered bytes first, until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }

  /**
   * The bytes of `delimiter`: the memo's own array if it is the same delimiter
   * as last time (so the memo stays valid), else a private copy.
   */
  #delimiterBytes(delimiter: unknown): Uint8Array {
    if (typeof delimiter !== "string" && !isInstance(delimiter, Uint8Array)) {
      throw new TypeError("delimiter must be a Uint8Array or a string");
    }
    if (delimiter.length === 0) throw new RangeError("delimiter must not be empty");
    if (typeof delimiter === "string") {
      if (delimiter === this.#scanDelimiterText) return this.#scanDelimiter;
      const bytes = encoder.encode(delimiter);
      return sameBytes(bytes, this.#scanDelimiter) ? this.#scanDelimiter : bytes;
    }
    return sameBytes(delimiter, this.#scanDelimiter) ? this.#scanDelimiter : delimiter.slice();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedResourceError("the stream was closed");
  }

  /**
   * One read of the wrapped stream (a checkpoint), appended to the buffer at
   * once: if a later read of the same call is cancelled, these bytes are kept.
   */
  async #readAhead(wanted: number): Promise<void> {
    const chunk = await this.receiveStream.receiveSome(Math.max(this.#receiveSize, wanted));
    this.#checkOpen();
    if (chunk.length === 0) this.#eof = true;
    else this.#append(chunk);
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const length = this.buffered;
      const needed = length + chunk.length;
      if (needed <= this.#buf.length / 2) {
        // Compact only when that frees at least half the storage, so the bytes
        // moved are paid for by at least as many appended before the next move.
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const buf = new Uint8Array(Math.max(needed, 2 * this.#buf.length, 1024));
        buf.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = buf;
      }
      this.#start = 0;
      this.#end = length;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Removes and returns (a copy of) the first `n` buffered bytes. */
  #take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const result = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    this.#scanned = Math.max(0, this.#scanned - n);
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
      // Do not hold on to the storage of one huge read.
      if (this.#buf.length > 4 * this.#receiveSize) this.#buf = EMPTY;
    }
    return result;
  }

  /**
   * Looks for `delim` ending within the first `maxBytes` buffered bytes,
   * resuming where the last unsuccessful search stopped. Returns the offset
   * just past it, or -1.
   */
  #search(delim: Uint8Array, maxBytes: number): number {
    const limit = Math.min(this.buffered, maxBytes);
    if (limit - this.#scanned < delim.length) return -1;
    const view = Buffer.from(this.#buf.buffer, this.#buf.byteOffset + this.#start, limit);
    const at = view.indexOf(delim, this.#scanned);
    if (at >= 0) return at + delim.length;
    // Every occurrence that fits in `limit` bytes starts at or before
    // limit - delim.length, and none was found.
    this.#scanned = limit - delim.length + 1;
    return -1;
  }
}
