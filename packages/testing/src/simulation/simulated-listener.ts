/** A listening port of a simulated host: accepted connections come through a channel. */
import { ClosedResourceError, openMemoryChannel } from "@weft/core";
import type { HalfCloseableStream, Listener } from "@weft/core/streams";

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
    [this.#send, this.#receive] = openMemoryChannel<HalfCloseableStream>(Infinity);
    this.#onClose = onClose;
  }

  /** Queues an incoming connection (the server's end). */
  deliver(stream: HalfCloseableStream): void {
    if (this.#closed) throw new ClosedResourceError("the listener is closed");
    this.#send.sendNowait(stream);
  }

  accept(): Promise<HalfCloseableStream> {
    return this.#receive.receive();
  }

  /** Closes at once (a crash, or aclose). */
  closeNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#send.close();
    this.#receive.close();
    this.#onClose();
  }

  async aclose(): Promise<void> {
    this.closeNow();
    await this.#receive.aclose();
  }
}
