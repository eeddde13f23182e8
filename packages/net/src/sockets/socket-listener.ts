/**
 * `SocketListener`: a `Listener<SocketStream>` over a listening `net.Server`
 * (TCP or Unix), Trio's `SocketListener`.
 *
 * Trio calls accept() only when its user does, so connections nobody has
 * accepted wait in the kernel's listen queue, whose length `backlog` bounds.
 * Node cannot do that: libuv accepts every connection as soon as the kernel
 * has it, and each time the listening socket is readable it accepts until
 * the kernel's queue is empty. There is no way to pause a listening handle
 * short of closing it (`readStop` does nothing to one, and `readStart` fails
 * with ENOTCONN). So the queue is here, and this is where it is bounded
 * (SEMANTICS.md, I/O resources: a listener holds at most about `backlog`
 * connections nobody has accepted yet).
 */
import * as net from "node:net";
import {
  BrokenResourceError,
  ClosedResourceError,
  cancelShieldedCheckpoint,
  checkpoint,
  lowlevel,
  Ok,
} from "@weft/core";
import type { Listener } from "@weft/core/streams";
import { checkCount, checkOptionsObject, isInstance } from "@weft/core/validate";
import { descriptorShortage } from "../host/descriptors.ts";
import { errorCode, isCapacityError } from "../host/error-codes.ts";
import { ignoreError } from "../host/io-wait.ts";
import { makeAddress, type SocketAddress, unixAddress } from "./addresses.ts";
import { SocketStream } from "./socket-stream.ts";

/** Node's default listen backlog: the bound for a server whose backlog we are not told. */
const NODE_DEFAULT_BACKLOG = 511;

/** Options of the `SocketListener` constructor. */
export interface SocketListenerOptions {
  /**
   * How many connections may wait for `accept()` (an integer >= 0; 0 keeps
   * one, as Linux's listen queue does). Pass the backlog the server listens
   * with. Default 511, Node's default backlog. A connection beyond it is
   * reset at once and counted in `statistics().refusedConnections`.
   */
  backlog?: number;
}

/** A snapshot of a `SocketListener`'s queue of connections nobody has accepted yet. */
export interface SocketListenerStatistics {
  /** Connections accepted by Node and waiting for `accept()`. */
  queuedConnections: number;
  /** The bound of that queue (the `backlog`; at least 1). */
  maxQueuedConnections: number;
  /** Connections reset because the queue was full; never decreases. */
  refusedConnections: number;
  /** Tasks blocked in `accept()`. */
  tasksWaitingAccept: number;
}

/**
 * A `Listener` over a listening `net.Server`. Node accepts connections as
 * they arrive; they wait here, paused, until `accept()` takes them — at most
 * `backlog` of them. When that queue is full, a further connection is reset
 * (TCP: the client gets `ECONNRESET`, from its connect if our reset arrives
 * first, else from its first read or write; Unix: it is closed, so the client
 * reads end of file) and counted in `statistics().refusedConnections`.
 *
 * Out of file descriptors (EMFILE, ENFILE), Node's event loop accepts and at
 * once closes every connection it cannot hold, without telling anyone; the
 * clients see the connection closed without a byte. The listener notices the
 * shortage instead — after an accept that took the last free descriptor, and
 * whenever `accept()` would wait — and `accept()` then throws a
 * `BrokenResourceError` whose `cause` has that code: `serveListeners` logs it
 * and retries after 100 ms, as for any EMFILE-like accept error.
 */
export class SocketListener implements Listener<SocketStream> {
  /** The underlying server. */
  readonly server: net.Server;
  /** The address it listens on (with the port it got when port 0 was asked). */
  readonly localAddress: SocketAddress;

  readonly #limit: number;
  readonly #pending: net.Socket[] = [];
  /** Tasks waiting in accept(); a connection is handed to the first (an I/O wait: external). */
  readonly #waiters = new lowlevel.ParkingLot("SocketListener.accept", { external: true });
  #refused = 0;
  #closed = false;
  #error: unknown = null;
  /** Accept errors that say "out of resources, try later": each is thrown once. */
  readonly #transientErrors: BrokenResourceError[] = [];
  /** A descriptor shortage seen after an accept has been queued; cleared once a descriptor is free. */
  #shortageNoted = false;

  /** `server` must already be listening (on a TCP address or a Unix socket path). */
  constructor(server: net.Server, options?: SocketListenerOptions) {
    if (!isInstance(server, net.Server)) throw new TypeError("server must be a net.Server");
    checkOptionsObject("options", options);
    const backlog = options?.backlog ?? NODE_DEFAULT_BACKLOG;
    checkCount("options.backlog", backlog);
    const address = server.address();
    if (address === null) throw new TypeError("server must be listening");
    this.server = server;
    this.localAddress =
      typeof address === "string"
        ? unixAddress(address)
        : makeAddress(address.family, address.address, address.port);
    this.#limit = Math.max(backlog, 1);
    server.on("connection", (socket: net.Socket) => this.#onConnection(socket));
    server.on("error", (error: unknown) => {
      // Node reports a failed accept() on the server, which keeps listening.
      if (isCapacityError(error)) {
        this.#transientErrors.push(
          new BrokenResourceError(`accept failed: ${(error as Error).message}`, { cause: error }),
        );
      } else if (this.#error === null) {
        this.#error = error;
      }
      this.#wakeAllWaiters();
    });
  }

  #onConnection(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    // Until a SocketStream takes it, errors on a waiting socket must not crash the process.
    socket.on("error", ignoreError);
    socket.pause();
    // A task waits only while the queue is empty: hand the connection over.
    if (this.#waiters.size > 0) {
      this.#waiters.unpark(1, Ok(socket));
    } else if (this.#pending.length < this.#limit) {
      this.#pending.push(socket);
    } else {
      this.#refused++;
      // TCP: a reset, so the client gets an error instead of an end of file
      // that looks like an empty answer. A Unix socket has no reset.
      if (this.localAddress.family === "unix") socket.destroy();
      else socket.resetAndDestroy();
    }
    // If this accept took the last free descriptor, libuv closes whatever
    // else is queued in the kernel: say so through accept(), once per
    // shortage (SEMANTICS.md, @weft/net: serveListeners logs EMFILE-like
    // errors and retries after 100 ms).
    const shortage = descriptorShortage();
    if (shortage === null) {
      this.#shortageNoted = false;
    } else if (!this.#shortageNoted) {
      this.#shortageNoted = true;
      this.#transientErrors.push(shortageError(shortage));
      this.#wakeAllWaiters();
    }
  }

  #wakeAllWaiters(): void {
    this.#waiters.unparkAll();
  }

  /** A stream for an accepted socket, which starts reading now that someone will. */
  #streamOf(socket: net.Socket): SocketStream {
    const stream =
      this.localAddress.family === "unix"
        ? new SocketStream(socket, { local: this.localAddress, remote: unixAddress("") })
        : new SocketStream(socket);
    socket.off("error", ignoreError);
    socket.resume();
    return stream;
  }

  /**
   * Waits for and returns the next connection. `BrokenResourceError` with an
   * EMFILE-like `cause` while the process is out of file descriptors (try
   * again later); `BrokenResourceError` for good if the server failed;
   * `ClosedResourceError` once closed.
   */
  async accept(): Promise<SocketStream> {
    const cancelled = lowlevel.cancelPoint("SocketListener.accept()");
    if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
    while (true) {
      if (this.#closed) throw new ClosedResourceError("the listener was closed");
      // Broken for good: connections still queued are not handed out.
      if (this.#error !== null) {
        throw new BrokenResourceError("the listener is broken", { cause: this.#error });
      }
      const socket = this.#pending.shift();
      if (socket !== undefined) {
        const stream = this.#streamOf(socket);
        await cancelShieldedCheckpoint();
        return stream;
      }
      const transient = this.#transientErrors.shift();
      if (transient !== undefined) throw transient;
      // About to wait: a connection arriving while no descriptor is free
      // would be closed by libuv unseen, so a shortage is an error now.
      const shortage = descriptorShortage();
      if (shortage !== null) throw shortageError(shortage);
      this.#shortageNoted = false;
      const handed = await this.#waiters.park<net.Socket | undefined>();
      if (handed !== undefined) {
        // Closed or broken since it was handed over: the loop says which.
        if (this.#closed || this.#error !== null) handed.destroy();
        else return this.#streamOf(handed);
      }
    }
  }

  /** The queue of connections nobody has accepted yet, for monitoring. */
  statistics(): SocketListenerStatistics {
    return {
      queuedConnections: this.#pending.length,
      maxQueuedConnections: this.#limit,
      refusedConnections: this.#refused,
      tasksWaitingAccept: this.#waiters.size,
    };
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

  /** `aclose()`, for `await using listener = await openUnixListener(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }
}

/** The transient accept error for a descriptor shortage (`cause`: the failed open, EMFILE or ENFILE). */
function shortageError(cause: Error): BrokenResourceError {
  return new BrokenResourceError(
    `out of file descriptors (${errorCode(cause)}): until some are closed, Node closes each new connection as soon as it accepts it`,
    { cause },
  );
}
