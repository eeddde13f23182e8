/**
 * `TextReceiveStream`: the text of a `ReceiveStream`, decoded incrementally so
 * that a multi-byte character split across chunks decodes correctly.
 */
import type { TextDecoder } from "node:util";
import { BrokenResourceError, ClosedResourceError, checkpoint } from "@weft/core";
import {
  type AsyncResource,
  ConflictDetector,
  checkMaxBytes,
  isReceiveStream,
  type ReceiveStream,
} from "@weft/core/streams";
import { checkOptionsObject } from "@weft/core/validate";
import { createTextDecoder, decodeChecked, type TextDecodingOptions } from "./text-decoding.ts";

/** Options of a `TextReceiveStream`. */
export type TextReceiveStreamOptions = TextDecodingOptions;

/**
 * Decodes the bytes of a `ReceiveStream` to strings, with a streaming
 * `TextDecoder`: bytes of a character that is not complete yet are held back
 * until the rest arrives. A leading byte order mark is dropped.
 *
 * Invalid data decodes to U+FFFD, or with `fatal: true` throws a `TypeError`
 * (the `TextDecoder` error is its `cause`); the stream is then unusable and
 * later calls throw `BrokenResourceError`. A character still incomplete at end
 * of file is invalid data.
 *
 * Async iteration yields the text until end of file.
 */
export class TextReceiveStream implements AsyncResource, AsyncIterable<string> {
  /** The wrapped stream. */
  readonly receiveStream: ReceiveStream;
  /** The canonical name of the encoding, e.g. `"utf-8"`. */
  readonly encoding: string;

  readonly #decoder: TextDecoder;
  readonly #conflict = new ConflictDetector("another task is using this stream for receiving");
  #eof = false;
  #closed = false;
  #decodeError: unknown = null;

  /** Wraps `stream`, which should not be read directly afterwards. */
  constructor(stream: ReceiveStream, options?: TextReceiveStreamOptions) {
    if (!isReceiveStream(stream)) {
      throw new TypeError("stream must be a ReceiveStream (receiveSome and aclose methods)");
    }
    checkOptionsObject("options", options);
    this.receiveStream = stream;
    this.#decoder = createTextDecoder("options", options);
    this.encoding = this.#decoder.encoding;
  }

  /**
   * Waits for and returns at least one character, reading at most `maxBytes`
   * bytes per read of the wrapped stream; `""` at end of file. A checkpoint.
   * Cancellation loses nothing: bytes of an incomplete character that were
   * already read stay in the decoder for the next call.
   */
  async receiveText(maxBytes?: number): Promise<string> {
    checkMaxBytes(maxBytes);
    this.#conflict.acquire();
    try {
      if (this.#closed) throw new ClosedResourceError("the stream was closed");
      if (this.#decodeError !== null) {
        throw new BrokenResourceError("earlier data could not be decoded", {
          cause: this.#decodeError,
        });
      }
      if (this.#eof) {
        await checkpoint();
        return "";
      }
      while (true) {
        const chunk = await this.receiveStream.receiveSome(maxBytes);
        if (this.#closed) throw new ClosedResourceError("the stream was closed");
        // An empty chunk is end of file: decoding it without `stream` flushes
        // a truncated character (U+FFFD, or an error when fatal).
        const atEof = chunk.length === 0;
        let text: string;
        try {
          text = decodeChecked(this.#decoder, chunk, !atEof);
        } catch (error) {
          this.#decodeError = error;
          throw error;
        }
        if (atEof) {
          this.#eof = true;
          return text;
        }
        if (text.length > 0) return text;
        // Only part of a character so far: read on.
      }
    } finally {
      this.#conflict.release();
    }
  }

  /** Closes the wrapped stream. Always closes, even when cancelled. */
  async aclose(): Promise<void> {
    this.#closed = true;
    await this.receiveStream.aclose();
  }

  /** `aclose()`, for `await using text = new TextReceiveStream(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields the decoded text (`receiveText()`, never `""`) until end of file. */
  async *[Symbol.asyncIterator](): AsyncGenerator<string, void, undefined> {
    while (true) {
      const text = await this.receiveText();
      if (text.length === 0) return;
      yield text;
    }
  }
}
