/**
 * A child's standard input as a weft `SendStream`. Its standard output and
 * error are plain `SocketStream`s (Node's pipes to a child are `net.Socket`s);
 * stdin is one too, behind this thin layer: only the sending half is exposed,
 * and a send after the child exited says so, caused by `EPIPE` as the system
 * would have said it.
 */
import { BrokenResourceError } from "@weft/core";
import type { SocketStream } from "./socket-stream.ts";
import type { SendStream } from "./streams.ts";

/**
 * The pipe to a child's stdin. Node destroys the pipe when the child exits,
 * without an error; `SocketStream` would refuse the send with a generic cause,
 * so we name the process and give the `EPIPE` the system would have given.
 * Closing the pipe (`aclose`) is the child's end of file.
 */
export class ProcessStdin implements SendStream {
  readonly #stream: SocketStream;
  readonly #pid: number;
  #closed = false;

  constructor(stream: SocketStream, pid: number) {
    this.#stream = stream;
    this.#pid = pid;
  }

  /** Throws if Node destroyed the pipe under us (the child exited). */
  #checkNotDestroyed(): void {
    const socket = this.#stream.socket;
    if (!this.#closed && socket.destroyed) {
      const cause =
        socket.errored ??
        Object.assign(new Error(`write EPIPE (process ${this.#pid} has exited)`), {
          code: "EPIPE",
          syscall: "write",
        });
      throw new BrokenResourceError(
        `cannot write to the stdin of process ${this.#pid}: it has exited`,
        { cause },
      );
    }
  }

  /** Sends all of `data` to the child; returns once the system has taken it. */
  async sendAll(data: Uint8Array): Promise<void> {
    if (data instanceof Uint8Array) this.#checkNotDestroyed(); // else sendAll's TypeError
    await this.#stream.sendAll(data);
  }

  /** Returns when `sendAll` might not block. */
  waitSendAllMightNotBlock(): Promise<void> {
    return this.#stream.waitSendAllMightNotBlock();
  }

  /** Closes the pipe: the child reads end of file once it has read what was sent. */
  aclose(): Promise<void> {
    this.#closed = true;
    return this.#stream.aclose();
  }
}
