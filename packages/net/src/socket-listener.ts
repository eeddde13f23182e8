/**
 * `SocketListener`: a `Listener<SocketStream>` over a listening `net.Server`
 * (TCP or Unix), Trio's `SocketListener`.
 */
import * as net from "node:net";
import {
  BrokenResourceError,
  ClosedResourceError,
  cancelShieldedCheckpoint,
  checkpoint,
  lowlevel,
  type Task,
} from "@weft/core";
import { makeAddress, type SocketAddress, unixAddress } from "./addresses.ts";
import { isCapacityError } from "./error-codes.ts";
import { ignoreError, waitExternal } from "./io-wait.ts";
import { SocketStream } from "./socket-stream.ts";
import type { Listener } from "./streams.ts";

/** A `Listener` over a listening `net.Server`: accepted sockets are queued until `accept()` takes them. */
export class SocketListener implements Listener<SocketStream> {
  /** The underlying server. */
  readonly server: net.Server;
  readonly localAddress: SocketAddress;

  readonly #pending: net.Socket[] = [];
  readonly #waiters: Task[] = [];
  #closed = false;
  #error: unknown = null;
  /** Accept errors that say "out of resources, try later": each is reported once. */
  readonly #transientErrors: unknown[] = [];

  /** `server` must already be listening (on a TCP address or a Unix socket path). */
  constructor(server: net.Server) {
    if (!(server instanceof net.Server)) throw new TypeError("server must be a net.Server");
    const address = server.address();
    if (address === null) throw new TypeError("server must be listening");
    this.server = server;
    this.localAddress =
      typeof address === "string"
        ? unixAddress(address)
        : makeAddress(address.family, address.address, address.port);
    server.on("connection", (socket: net.Socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      // Until a SocketStream takes it, errors on a queued socket must not crash the process.
      socket.on("error", ignoreError);
      socket.pause();
      this.#pending.push(socket);
      this.#wakeOne();
    });
    server.on("error", (error: unknown) => {
      // Node reports a failed accept() on the server, which keeps listening.
      if (isCapacityError(error)) this.#transientErrors.push(error);
      else if (this.#error === null) this.#error = error;
      this.#wakeAllWaiters();
    });
  }

  #wakeOne(): void {
    const task = this.#waiters.shift();
    if (task !== undefined) lowlevel.reschedule(task);
  }

  #wakeAllWaiters(): void {
    for (const task of this.#waiters.splice(0)) lowlevel.reschedule(task);
  }

  /** Waits for and returns the next connection. */
  async accept(): Promise<SocketStream> {
    lowlevel.raiseIfCancelled("SocketListener.accept()");
    while (true) {
      if (this.#closed) throw new ClosedResourceError("the listener was closed");
      // Broken for good: connections still queued are not handed out.
      if (this.#error !== null) {
        throw new BrokenResourceError("the listener is broken", { cause: this.#error });
      }
      const socket = this.#pending.shift();
      if (socket !== undefined) {
        const stream =
          this.localAddress.family === "unix"
            ? new SocketStream(socket, { local: this.localAddress, remote: unixAddress("") })
            : new SocketStream(socket);
        socket.off("error", ignoreError);
        socket.resume();
        await cancelShieldedCheckpoint();
        return stream;
      }
      if (this.#transientErrors.length > 0) {
        const cause = this.#transientErrors.shift();
        throw new BrokenResourceError(`accept failed: ${(cause as Error).message}`, { cause });
      }
      const task = lowlevel.currentTask();
      this.#waiters.push(task);
      await waitExternal("SocketListener.accept", () => {
        const i = this.#waiters.indexOf(task);
        if (i >= 0) this.#waiters.splice(i, 1);
      });
    }
  }

  /** Stops listening and drops connections not yet accepted. Always closes, even when cancelled. */
  async aclose(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.server.close();
      for (const socket of this.#pending.splice(0)) socket.destroy();
      this.#wakeAllWaiters();
    }
    await checkpoint();
  }
}
