/** A listening port of a simulated host: accepted connections come through a channel. */
import { ClosedResourceError, openMemoryChannel } from "@weft/core";
import type { HalfCloseableStream, Listener } from "@weft/core/streams";

/** The server's end of a connection, as the listener queues it: closed at once if never accepted. */
interface QueuedStream extends HalfCloseableStream {
  close(): void;
}

/** A simulated socket address (net's SocketAddress shape). */
export interface SimulatedAddress {
  readonly family: 4;
  readonly address: string;
  readonly port: number;
}

export class SimulatedListener implements Listener<HalfCloseableStream> {
  readonly localAddress: SimulatedAddress;
  readonly #send;
  readonly #receive;
  readonly #onClose: () => void;
  #closed = false;

  constructor(localAddress: SimulatedAddress, onClose: () => void) {
    this.localAddress = localAddress;
    [this.#send, this.#receive] = openMemoryChannel<QueuedStream>(Infinity);
    this.#onClose = onClose;
  }

  /** Queues an incoming connection (the server's end). */
  deliver(stream: QueuedStream): void {
    if (this.#closed) throw new ClosedResourceError("the listener is closed");
    this.#send.sendNowait(stream);
  }

  accept(): Promise<HalfCloseableStream> {
    return this.#receive.receive();
  }

  /**
   * Closes at once (a crash, or aclose). The connections queued and never
   * accepted are closed too — a reset for the peer that sent data, as a real
   * kernel resets its accept queue — or their clients would wait forever.
   */
  closeNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#send.close();
    for (;;) {
      let queued: QueuedStream;
      try {
        queued = this.#receive.receiveNowait();
      } catch {
        break; // empty (EndOfChannel, the send side being closed)
      }
      queued.close();
    }
    this.#receive.close();
    this.#onClose();
  }

  async aclose(): Promise<void> {
    this.closeNow();
    await this.#receive.aclose();
  }

  /** `aclose()`, for `await using` a listener `openTcpListeners` returns in a simulation. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }
}
