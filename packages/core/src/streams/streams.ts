/**
 * Trio-style byte stream interfaces (Trio's `trio.abc` streams), `StapledStream`
 * and `acloseForcefully` (Trio's `_highlevel_generic.py`).
 */
import { checkCount, checkMethods, isRevokedProxy } from "../errors/validate.ts";
import { CancelScope } from "../kernel/cancel-scope.ts";

/** Anything that can be closed asynchronously. */
export interface AsyncResource {
  /** Closes the resource. Always closes, even when cancelled (it may then throw `Cancelled` after closing). */
  aclose(): Promise<void>;
}

/** The sending half of a byte stream. */
export interface SendStream extends AsyncResource {
  /** Sends all of `data`; returns once it was handed on (not necessarily received). */
  sendAll(data: Uint8Array): Promise<void>;
  /** Returns when a `sendAll` might not block (a hint; may return early). */
  waitSendAllMightNotBlock(): Promise<void>;
}

/**
 * The receiving half of a byte stream. `receiveSome` returns an empty array only
 * at end of file; async iteration yields chunks until end of file.
 */
export interface ReceiveStream extends AsyncResource, AsyncIterable<Uint8Array> {
  /** Waits for and returns at least 1 and at most `maxBytes` bytes, or an empty array at EOF. */
  receiveSome(maxBytes?: number): Promise<Uint8Array>;
}

/** A bidirectional byte stream. */
export interface Stream extends SendStream, ReceiveStream {}

/** A bidirectional byte stream whose sending half can be closed on its own. */
export interface HalfCloseableStream extends Stream {
  /** Ends the sending direction: the peer sees EOF; receiving still works. */
  sendEof(): Promise<void>;
}

/** Accepts incoming connections. */
export interface Listener<S> extends AsyncResource {
  /** Waits for and returns the next connection. */
  accept(): Promise<S>;
}

/**
 * Yields the chunks `stream.receiveSome()` returns, until EOF. A stream
 * without `receiveSome` is a `TypeError` at once, not at the first `next()`.
 */
export function receiveChunks(stream: {
  receiveSome(maxBytes?: number): Promise<Uint8Array>;
}): AsyncGenerator<Uint8Array, void, undefined> {
  checkMethods("stream", stream, ["receiveSome"], "a ReceiveStream (a receiveSome method)");
  return chunksOf(stream);
}

async function* chunksOf(stream: {
  receiveSome(maxBytes?: number): Promise<Uint8Array>;
}): AsyncGenerator<Uint8Array, void, undefined> {
  while (true) {
    const chunk = await stream.receiveSome();
    if (chunk.length === 0) return;
    yield chunk;
  }
}

/** Checks a `maxBytes` argument: `undefined` or an integer >= 1, else `RangeError`. */
export function checkMaxBytes(maxBytes: number | undefined): void {
  if (maxBytes === undefined) return;
  checkCount("maxBytes", maxBytes, { min: 1 });
}

function hasSendEof(stream: SendStream): stream is SendStream & { sendEof(): Promise<void> } {
  return typeof (stream as { sendEof?: unknown }).sendEof === "function";
}

/**
 * A `Stream` made of a `SendStream` and a `ReceiveStream`: sending goes to
 * `sendStream`, receiving comes from `receiveStream`.
 */
export class StapledStream<
  S extends SendStream = SendStream,
  R extends ReceiveStream = ReceiveStream,
> implements HalfCloseableStream
{
  /** The underlying send stream; may be replaced. */
  sendStream: S;
  /** The underlying receive stream; may be replaced. */
  receiveStream: R;

  constructor(sendStream: S, receiveStream: R) {
    checkMethods("sendStream", sendStream, ["sendAll"], "a SendStream (a sendAll method)");
    checkMethods(
      "receiveStream",
      receiveStream,
      ["receiveSome"],
      "a ReceiveStream (a receiveSome method)",
    );
    this.sendStream = sendStream;
    this.receiveStream = receiveStream;
  }

  // Plain delegation; the try/catch keeps a synchronous throw of a wrapped
  // stream (one not written to weft's rules) out of the caller's step.
  sendAll(data: Uint8Array): Promise<void> {
    try {
      return this.sendStream.sendAll(data);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  waitSendAllMightNotBlock(): Promise<void> {
    try {
      return this.sendStream.waitSendAllMightNotBlock();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Calls the send stream's `sendEof` if it has one, else closes the send stream. */
  sendEof(): Promise<void> {
    try {
      const stream = this.sendStream;
      return hasSendEof(stream) ? stream.sendEof() : stream.aclose();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  receiveSome(maxBytes?: number): Promise<Uint8Array> {
    try {
      return this.receiveStream.receiveSome(maxBytes);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes both streams; the receive stream even if closing the send stream throws. */
  async aclose(): Promise<void> {
    try {
      await this.sendStream.aclose();
    } finally {
      await this.receiveStream.aclose();
    }
  }

  /** `aclose()`, for `await using stream = new StapledStream(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields the received chunks (`receiveSome()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }
}

/**
 * Closes `resource` inside an already-cancelled cancel scope, so any blocking
 * part of a graceful close is skipped at once; the `Cancelled` is swallowed.
 * Other errors from `aclose` propagate.
 */
export async function acloseForcefully(resource: AsyncResource): Promise<void> {
  checkMethods("resource", resource, ["aclose"], "an AsyncResource (an aclose method)");
  const scope = new CancelScope();
  scope.cancel("acloseForcefully");
  await scope.run(() => resource.aclose());
}

/** @internal Whether `stream` has the methods of a `ReceiveStream` (a constructor argument check). */
export function isReceiveStream(stream: unknown): stream is ReceiveStream {
  const s = stream as { receiveSome?: unknown; aclose?: unknown } | null;
  return (
    typeof s === "object" &&
    s !== null &&
    !isRevokedProxy(s) &&
    typeof s.receiveSome === "function" &&
    typeof s.aclose === "function"
  );
}
