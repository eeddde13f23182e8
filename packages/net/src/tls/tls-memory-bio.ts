/**
 * `MemoryBio`: the ciphertext side of a `TlsStream`, the counterpart of the pair
 * of OpenSSL memory BIOs Trio's `SSLStream` gives its `SSLObject`. Node has no
 * memory BIO, but a `tls.TLSSocket` accepts any `stream.Duplex` as its socket;
 * this one does no I/O of its own.
 */
import { Duplex } from "node:stream";
import { toUint8Array } from "../host/bytes.ts";

/**
 * A `Duplex` that a `tls.TLSSocket` uses as its socket. What TLS writes is queued
 * (take it with `takeOutgoing` and send it on the transport); what the transport
 * delivers is handed to TLS with `feed` / `feedEof`. Every call into it from
 * TLS is reported through `onActivity`, because TLS reacts to input on later
 * ticks and the owner has to know when it may have done something.
 */
export class MemoryBio extends Duplex {
  readonly #outgoing: Buffer[] = [];
  #outgoingBytes = 0;
  #shutdown = false;
  readonly #onActivity: (output: boolean) => void;

  /**
   * `onActivity(output)` is called after each call TLS makes into the BIO;
   * `output` is true when TLS wrote (ciphertext or its shutdown), false when the
   * BIO was destroyed.
   */
  constructor(onActivity: (output: boolean) => void) {
    // allowHalfOpen: the TLSSocket inherits it, so a close_notify from the peer
    // does not make Node answer with its own on its own initiative: sending
    // close_notify is `TlsStream.aclose`'s decision.
    super({ allowHalfOpen: true, decodeStrings: true });
    this.#onActivity = onActivity;
  }

  /** Bytes TLS wrote that were not taken yet. */
  get outgoingBytes(): number {
    return this.#outgoingBytes;
  }

  /** True once TLS shut down its side of the socket (after writing its close_notify). */
  get shutdown(): boolean {
    return this.#shutdown;
  }

  /** Everything TLS wrote so far, in order, or null if there is nothing. */
  takeOutgoing(): Uint8Array | null {
    if (this.#outgoingBytes === 0) return null;
    const chunks = this.#outgoing.splice(0);
    this.#outgoingBytes = 0;
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    return toUint8Array(data);
  }

  /** Hands ciphertext received from the transport to TLS. */
  feed(data: Uint8Array): void {
    if (this.destroyed || this.readableEnded) return;
    this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Tells TLS that the transport reached end of file. */
  feedEof(): void {
    if (this.destroyed || this.readableEnded) return;
    this.push(null);
  }

  override _read(): void {
    // Data is pushed by `feed` when the owner received some; nothing to fetch here.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#queue(chunk);
    callback();
    this.#onActivity(true);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: () => void): void {
    for (const { chunk } of chunks) this.#queue(chunk);
    callback();
    this.#onActivity(true);
  }

  override _final(callback: () => void): void {
    this.#shutdown = true;
    callback();
    this.#onActivity(true);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    callback(error);
    this.#onActivity(false);
  }

  #queue(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#outgoing.push(chunk);
    this.#outgoingBytes += chunk.length;
  }
}
