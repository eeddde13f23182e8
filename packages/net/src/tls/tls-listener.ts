/**
 * `TlsListener`: a `Listener` that wraps each connection of another listener in
 * a server-side `TlsStream` (Trio's `SSLListener`).
 */
import * as tls from "node:tls";
import type { Listener, Stream } from "@weft/core/streams";
import { checkMethods } from "@weft/core/validate";
import { checkTlsOptions, type TlsAcceptOptions, TlsStream } from "./tls-stream.ts";

/**
 * Accepts connections from `transportListener` and returns them as server-side
 * `TlsStream`s. The handshake is not done by `accept()` but by the stream's first
 * operation (or its `doHandshake()`), in the task that handles the connection: a
 * client that is slow or fails its handshake cannot stall or break the accept loop.
 * Connections waiting for `accept()` wait in the transport listener, within its
 * bound (a `SocketListener`'s `backlog`).
 */
export class TlsListener<S extends Stream = Stream> implements Listener<TlsStream<S>> {
  /** The listener whose connections are wrapped. */
  readonly transportListener: Listener<S>;
  readonly #options: TlsAcceptOptions & { serverSide: true };

  /**
   * `options` are those of `TlsStream.accept` (the server's cert and key); the
   * secure context is built once and shared by every connection.
   */
  constructor(transportListener: Listener<S>, options: TlsAcceptOptions) {
    checkMethods("transportListener", transportListener, ["accept", "aclose"], "a weft Listener");
    checkTlsOptions(options, true);
    this.transportListener = transportListener;
    this.#options = {
      ...options,
      secureContext: options.secureContext ?? tls.createSecureContext(options),
      serverSide: true,
    };
  }

  /** Waits for the next connection and wraps it (no handshake yet). */
  async accept(): Promise<TlsStream<S>> {
    const transport = await this.transportListener.accept();
    return new TlsStream(transport, this.#options);
  }

  /** Closes the transport listener. */
  aclose(): Promise<void> {
    try {
      return this.transportListener.aclose();
    } catch (error) {
      return Promise.reject(error); // a transport listener not written to weft's rules
    }
  }

  /** `aclose()`, for `await using listener = new TlsListener(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }
}
