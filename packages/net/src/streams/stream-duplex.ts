/**
 * A weft stream as a Node `Duplex`, for Node code that wants a socket-like
 * stream: `serveHttp` hands one to Node's HTTP parser when a connection is not
 * a real socket (TLS over weft, memory streams, a simulated network). Two pump
 * tasks move the bytes, pulled by the Duplex's demand: the receiving pump
 * reads only while Node's readable buffer wants more, and a write completes
 * (its callback runs) once `sendAll` took it, so Node's own backpressure works.
 */
import { Duplex } from "node:stream";
import { CancelScope, isCancelled, lowlevel, openNursery, type Task } from "@weft/core";
import type { HalfCloseableStream, Stream } from "@weft/core/streams";
import { waitExternal } from "../host/io-wait.ts";

interface QueuedWrite {
  /** `null`: end of the sending direction (`_final`). */
  readonly chunk: Uint8Array | null;
  readonly callback: (error?: Error | null) => void;
}

function canSendEof(stream: Stream): stream is HalfCloseableStream {
  return typeof (stream as Partial<HalfCloseableStream>).sendEof === "function";
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class StreamDuplex extends Duplex {
  readonly stream: Stream;
  #readWanted = false;
  #reader: Task | null = null;
  readonly #writes: QueuedWrite[] = [];
  #writer: Task | null = null;
  #gone = false;
  /** The pumps' scope: destroying the Duplex cancels a pump blocked in the stream. */
  readonly scope = new CancelScope();

  constructor(stream: Stream) {
    super({ allowHalfOpen: true });
    this.stream = stream;
  }

  // Node's HTTP server calls these on sockets; a weft stream has no such knobs.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }

  override _read(): void {
    this.#readWanted = true;
    this.#wakeReader();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#writes.push({ chunk, callback });
    this.#wakeWriter();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#writes.push({ chunk: null, callback });
    this.#wakeWriter();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#gone = true;
    const pending = this.#writes.splice(0);
    for (const write of pending) write.callback(error ?? new Error("the stream was destroyed"));
    this.#wakeReader();
    this.#wakeWriter();
    this.scope.cancel("the Duplex was destroyed");
    callback(error);
  }

  #wakeReader(): void {
    const task = this.#reader;
    if (task !== null) {
      this.#reader = null;
      lowlevel.reschedule(task);
    }
  }

  #wakeWriter(): void {
    const task = this.#writer;
    if (task !== null) {
      this.#writer = null;
      lowlevel.reschedule(task);
    }
  }

  /** @internal The receiving pump: weft stream → Node's readable side. */
  async pumpReceived(): Promise<void> {
    while (!this.#gone) {
      if (!this.#readWanted) {
        this.#reader = lowlevel.currentTask();
        await waitExternal("StreamDuplex: waiting for Node to want data", () => {
          this.#reader = null;
        });
        continue;
      }
      let data: Uint8Array;
      try {
        data = await this.stream.receiveSome();
      } catch (error) {
        if (isCancelled(error)) throw error;
        this.destroy(asError(error));
        return;
      }
      if (this.#gone) return;
      if (data.length === 0) {
        this.push(null);
        return;
      }
      this.#readWanted = this.push(data);
    }
  }

  /** @internal The sending pump: Node's writes → the weft stream. */
  async pumpSent(): Promise<void> {
    while (true) {
      const write = this.#writes.shift();
      if (write === undefined) {
        if (this.#gone) return;
        this.#writer = lowlevel.currentTask();
        await waitExternal("StreamDuplex: waiting for Node to write", () => {
          this.#writer = null;
        });
        continue;
      }
      try {
        if (write.chunk === null) {
          if (canSendEof(this.stream)) await this.stream.sendEof();
        } else {
          await this.stream.sendAll(write.chunk);
        }
      } catch (error) {
        write.callback(asError(error));
        if (isCancelled(error)) throw error;
        this.destroy(asError(error));
        return;
      }
      write.callback();
      if (write.chunk === null) return;
    }
  }
}

/**
 * Runs the two pumps of `duplex` until it is destroyed (or both directions
 * ended), in a nursery of the calling task; cancelling the caller destroys
 * the Duplex.
 */
export async function runStreamDuplex(duplex: StreamDuplex): Promise<void> {
  try {
    await duplex.scope.run(() =>
      openNursery(async (nursery) => {
        nursery.startSoon(() => duplex.pumpReceived(), { name: "StreamDuplex receive" });
        nursery.startSoon(() => duplex.pumpSent(), { name: "StreamDuplex send" });
      }),
    );
  } finally {
    if (!duplex.destroyed) duplex.destroy();
  }
}
