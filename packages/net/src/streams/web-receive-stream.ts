/**
 * A web `ReadableStream` of bytes (a request's or response's body) as a weft
 * `ReceiveStream`: every read is a checkpoint, and a cancelled read cancels
 * the web stream (what it was reading is gone, as with any cancelled receive
 * of a body).
 */
import { cancellable, checkpoint } from "@weft/core";
import {
  ConflictDetector,
  checkMaxBytes,
  type ReceiveStream,
  receiveChunks,
} from "@weft/core/streams";
import { isInstance } from "@weft/core/validate";
import { ignoreError } from "../host/io-wait.ts";

const DEFAULT_RECEIVE_SIZE = 65536;

export class WebReceiveStream implements ReceiveStream {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #conflict = new ConflictDetector("another task is receiving from this body");
  /** Bytes of the last chunk that a smaller `maxBytes` left over. */
  #rest: Uint8Array | null = null;
  #done = false;

  constructor(body: ReadableStream<Uint8Array>) {
    if (!isInstance(body, ReadableStream)) throw new TypeError("body must be a ReadableStream");
    this.#reader = body.getReader();
  }

  /** Returns 1..`maxBytes` bytes, or an empty array at the end of the body. */
  async receiveSome(maxBytes: number = DEFAULT_RECEIVE_SIZE): Promise<Uint8Array> {
    checkMaxBytes(maxBytes);
    this.#conflict.acquire();
    try {
      let chunk = this.#rest;
      this.#rest = null;
      while (chunk === null || chunk.length === 0) {
        if (this.#done) {
          await checkpoint();
          return new Uint8Array(0);
        }
        const reader = this.#reader;
        const result = await cancellable((signal) => {
          signal.addEventListener("abort", () => reader.cancel(signal.reason).catch(ignoreError), {
            once: true,
          });
          return reader.read();
        });
        if (result.done) this.#done = true;
        else chunk = result.value;
      }
      if (chunk.length > maxBytes) {
        this.#rest = chunk.subarray(maxBytes);
        chunk = chunk.subarray(0, maxBytes);
      }
      return chunk;
    } finally {
      this.#conflict.release();
    }
  }

  /** Cancels the body (the rest is not read). */
  async aclose(): Promise<void> {
    if (!this.#done) {
      this.#done = true;
      this.#rest = null;
      this.#reader.cancel().catch(ignoreError);
    }
    await checkpoint();
  }

  /** `aclose()`, for `await using body = new WebReceiveStream(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields the received chunks (`receiveSome()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }
}
