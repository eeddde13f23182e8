/**
 * `SocketStream`: a `HalfCloseableStream` over a connected `net.Socket` (TCP or
 * Unix), Trio's `_highlevel_socket.SocketStream`.
 */
import * as net from "node:net";
import {
  BrokenResourceError,
  type Cancelled,
  ClosedResourceError,
  cancelShieldedCheckpoint,
  checkpoint,
  lowlevel,
  type Task,
} from "@weft/core";
import {
  ConflictDetector,
  checkMaxBytes,
  type HalfCloseableStream,
  receiveChunks,
} from "@weft/core/streams";
import { checkOptionsObject, isInstance } from "@weft/core/validate";
import { waitExternal } from "../host/io-wait.ts";
import { ChunkQueue } from "../streams/chunk-queue.ts";
import { previousSendCancelledError, sendBreakingOnCancel } from "../streams/send-cancelled.ts";
import { checkSocketAddress, makeAddress, type SocketAddress } from "./addresses.ts";

const DEFAULT_RECEIVE_SIZE = 65536;
/** The socket is paused while this many received bytes wait for receiveSome. */
const RECEIVE_QUEUE_LIMIT = 65536;
/**
 * The most a `sendAll` hands to Node at once, and so the most of ours Node's
 * write buffer ever holds (the bound the class documents).
 */
const SEND_PIECE_SIZE = 65536;

/** One write handed to Node, and the task waiting for its callback, if any. */
interface PendingWrite {
  done: boolean;
  error: unknown;
  task: Task | null;
}

/**
 * A `HalfCloseableStream` over a connected `net.Socket` (TCP_NODELAY on): TCP,
 * Unix sockets, and a child process's stdin.
 *
 * Receiving: data is kept in a queue of chunks from `'data'` events; the socket
 * is paused once 64 KiB are queued, so at most 64 KiB plus one socket read wait
 * in userspace. A cancelled `receiveSome` loses nothing.
 *
 * Sending: `sendAll` hands its data to Node 64 KiB at a time, each piece once
 * the kernel took the previous one (at once when libuv wrote it synchronously,
 * else at its write callback), and completes once the last piece is in the
 * kernel. Pieces are copied into one reusable 64 KiB buffer per stream.
 *
 * Memory bound: Node's write buffer (`socket.writableLength`) never holds more
 * than 64 KiB that `sendAll` wrote — while a call runs, and after one was
 * cancelled, whatever is cancelled and however often.
 *
 * Cancellation (SEMANTICS.md, "I/O resources"): a `sendAll` that raises
 * `Cancelled` may have sent part of its data, so it leaves the sending side
 * broken: every later `sendAll` and `waitSendAllMightNotBlock` raises
 * `BrokenResourceError` saying a previous send was cancelled (the `Cancelled`
 * is its `cause`), and writes nothing. The piece the cancelled call already
 * handed to Node (at most 64 KiB) still goes out: the peer receives a prefix of
 * what was sent.
 * `sendEof` still works (the peer then sees end of file after that prefix),
 * receiving is unaffected, and `aclose` always closes. Using the stream after
 * your own `aclose` or `sendEof` is a `ClosedResourceError` as usual.
 */
export class SocketStream implements HalfCloseableStream {
  /** The underlying socket. */
  readonly socket: net.Socket;
  /** This end's address. */
  readonly localAddress: SocketAddress;
  /** The peer's address. */
  readonly remoteAddress: SocketAddress;

  readonly #sendConflict = new ConflictDetector("another task is using this stream for sending");
  readonly #receiveConflict = new ConflictDetector(
    "another task is using this stream for receiving",
  );
  readonly #queue = new ChunkQueue();
  #paused = false;
  #scratch: Buffer | null = null;
  #eof = false;
  #closed = false;
  #eofSent = false;
  #error: unknown = null;
  /** The `Cancelled` of the `sendAll` that broke the sending side, if one did. */
  #sendCancelled: Cancelled | null = null;
  #reader: Task | null = null;
  /** The write a parked `sendAll` waits for. */
  #writer: PendingWrite | null = null;
  #drainWaiter: Task | null = null;

  /**
   * `socket` must be connected. `addresses` overrides the addresses read from the
   * socket (Unix sockets do not report their path).
   */
  constructor(socket: net.Socket, addresses?: { local: SocketAddress; remote: SocketAddress }) {
    if (!isInstance(socket, net.Socket)) throw new TypeError("socket must be a net.Socket");
    checkOptionsObject("addresses", addresses);
    if (addresses !== undefined) {
      checkSocketAddress("addresses.local", addresses.local);
      checkSocketAddress("addresses.remote", addresses.remote);
    }
    this.socket = socket;
    socket.setNoDelay(true); // a no-op on Unix sockets
    this.localAddress =
      addresses?.local ?? makeAddress(socket.localFamily, socket.localAddress, socket.localPort);
    this.remoteAddress =
      addresses?.remote ??
      makeAddress(socket.remoteFamily, socket.remoteAddress, socket.remotePort);
    // A socket can end or die before we wrap it (a connection reset while it
    // waited in a listener's queue): start in that state instead of waiting for
    // events that already happened.
    if (socket.readableEnded) this.#eof = true;
    if (socket.destroyed && !this.#eof) {
      this.#error = socket.errored ?? new Error("socket closed before it was wrapped");
    }
    socket.on("data", (chunk: Buffer | string) => {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      if (buf.length === 0) return;
      this.#queue.push(buf);
      if (this.#queue.bytes >= RECEIVE_QUEUE_LIMIT && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#wakeReader();
    });
    socket.on("end", () => {
      this.#eof = true;
      this.#wakeReader();
    });
    socket.on("error", (error: unknown) => {
      if (!this.#closed && this.#error === null) this.#error = error;
      this.#wakeAll();
    });
    socket.on("drain", () => this.#wakeDrain());
    socket.on("close", () => {
      if (!this.#closed && this.#error === null && !this.#eof) {
        this.#error = new Error("socket closed unexpectedly");
      }
      this.#wakeAll();
    });
  }

  #wakeReader(): void {
    const task = this.#reader;
    if (task !== null) {
      this.#reader = null;
      lowlevel.reschedule(task);
    }
  }

  #wakeDrain(): void {
    const task = this.#drainWaiter;
    if (task !== null) {
      this.#drainWaiter = null;
      lowlevel.reschedule(task);
    }
  }

  #wakeAll(): void {
    this.#wakeReader();
    this.#wakeDrain();
    const write = this.#writer;
    if (write !== null) {
      this.#writer = null;
      const task = write.task;
      write.task = null;
      if (task !== null) lowlevel.reschedule(task);
    }
  }

  #broken(what: string, cause: unknown = this.#error): BrokenResourceError {
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return new BrokenResourceError(`${what}: socket is broken${detail}`, { cause });
  }

  #checkSendable(): void {
    if (this.#closed) throw new ClosedResourceError("the stream was closed");
    if (this.#eofSent) throw new ClosedResourceError("sendEof was called on this stream");
    if (this.#sendCancelled !== null) {
      throw previousSendCancelledError("SocketStream.sendAll", this.#sendCancelled);
    }
    if (this.#error !== null) throw this.#broken("sendAll");
    if (this.socket.destroyed) {
      // Destroyed by Node without an error we saw (a child's stdin once the
      // child exited; a destroy() from outside): a write would be dropped
      // with only a callback error, so refuse it, with the EPIPE the system
      // gives a write to a closed pipe or socket. Not recorded in #error:
      // receiving still reports the end of file it may have had.
      const cause =
        this.socket.errored ??
        Object.assign(new Error("write EPIPE (the socket was destroyed)"), {
          code: "EPIPE",
          syscall: "write",
        });
      throw this.#broken("sendAll", cause);
    }
  }

  /**
   * Sends all of `data`; returns once it was handed to the kernel. `data` is
   * copied a piece at a time: the caller may reuse its array once the call
   * returns (or raises). If the call raises `Cancelled`, the sending side is
   * broken (see the class).
   */
  async sendAll(data: Uint8Array): Promise<void> {
    if (!isInstance(data, Uint8Array)) throw new TypeError("data must be a Uint8Array");
    this.#sendConflict.acquire();
    try {
      // SEMANTICS.md, "I/O resources": a cancelled sendAll leaves the sending
      // side broken (how much of it went out is unknown), whether it was
      // cancelled before or after its first write.
      await sendBreakingOnCancel(
        "SocketStream.sendAll()",
        () => this.#checkSendable(),
        () => this.#send(data),
        (cancelled) => {
          this.#sendCancelled ??= cancelled;
        },
      );
    } finally {
      this.#sendConflict.release();
    }
  }

  /**
   * Writes `data` a piece of at most `SEND_PIECE_SIZE` bytes at a time, each
   * once the kernel took the previous one: Node's write buffer never holds
   * more than one piece of ours, so a cancelled call leaves at most that much
   * behind (SEMANTICS.md, "I/O resources": memory held for sends stays within
   * the documented bound whatever is cancelled).
   */
  async #send(data: Uint8Array): Promise<void> {
    if (data.length === 0) {
      await checkpoint();
      return;
    }
    let parked = false;
    for (let offset = 0; offset < data.length; offset += SEND_PIECE_SIZE) {
      if (this.#error !== null) throw this.#broken("sendAll");
      const write = this.#write(data.subarray(offset, offset + SEND_PIECE_SIZE));
      const failed = this.#writeFailure(write);
      if (failed !== null) throw this.#broken("sendAll", failed);
      // libuv wrote it all at once: it is in the kernel already, and the
      // scratch buffer is free again.
      if (this.socket.writableLength === 0) continue;
      write.task = lowlevel.currentTask();
      this.#writer = write;
      parked = true;
      await waitExternal("SocketStream.sendAll", () => {
        write.task = null;
        this.#writer = null;
        this.#scratch = null; // Node holds it until the write completes
      });
      if (this.#closed) throw new ClosedResourceError("the stream was closed during sendAll");
      if (write.error !== null && this.#error === null) this.#error = write.error;
      if (this.#error !== null) throw this.#broken("sendAll");
      if (!write.done) {
        // Woken by 'close' without an error: the write can no longer complete.
        throw this.#broken(
          "sendAll",
          this.socket.errored ?? new Error("the socket closed before the write completed"),
        );
      }
    }
    // A call that parked has been a schedule point already.
    if (!parked) await cancelShieldedCheckpoint();
  }

  /**
   * Copies `piece` into the stream's scratch buffer (no allocation per send)
   * and writes it. The write's callback wakes the call that made it, never a
   * later one: it may fire after that call was cancelled.
   */
  #write(piece: Uint8Array): PendingWrite {
    let scratch = this.#scratch;
    if (scratch === null) {
      scratch = Buffer.allocUnsafeSlow(SEND_PIECE_SIZE);
      this.#scratch = scratch;
    }
    scratch.set(piece);
    const write: PendingWrite = { done: false, error: null, task: null };
    this.socket.write(scratch.subarray(0, piece.length), (error) => {
      write.done = true;
      if (error != null) write.error = error;
      const task = write.task;
      if (task !== null) {
        write.task = null;
        if (this.#writer === write) this.#writer = null;
        lowlevel.reschedule(task);
      }
    });
    return write;
  }

  /** Why `write` failed at once (Node destroyed the socket within `write`), or null. */
  #writeFailure(write: PendingWrite): unknown {
    if (write.error !== null) return write.error;
    if (!this.socket.destroyed) return null;
    return this.socket.errored ?? new Error("the socket was destroyed during the write");
  }

  /**
   * Returns when `sendAll` might not block: the socket's write buffer is not
   * over its high-water mark. After a cancelled `sendAll`, raises what
   * `sendAll` would.
   */
  async waitSendAllMightNotBlock(): Promise<void> {
    this.#sendConflict.acquire();
    try {
      if (this.#closed) throw new ClosedResourceError("the stream was closed");
      if (this.#sendCancelled !== null) {
        throw previousSendCancelledError(
          "SocketStream.waitSendAllMightNotBlock",
          this.#sendCancelled,
        );
      }
      const cancelled = lowlevel.cancelPoint("SocketStream.waitSendAllMightNotBlock()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      if (this.#error === null && this.socket.writableNeedDrain) {
        this.#drainWaiter = lowlevel.currentTask();
        await waitExternal("SocketStream.waitSendAllMightNotBlock", () => {
          this.#drainWaiter = null;
        });
        if (this.#closed) throw new ClosedResourceError("the stream was closed");
      } else {
        await cancelShieldedCheckpoint();
      }
    } finally {
      this.#sendConflict.release();
    }
  }

  /** Ends the sending direction (`socket.end()`): the peer sees EOF. A second call is a no-op. */
  async sendEof(): Promise<void> {
    this.#sendConflict.acquire();
    try {
      await checkpoint();
      if (this.#closed) throw new ClosedResourceError("the stream was closed");
      if (this.#eofSent) return;
      this.#eofSent = true;
      if (this.#error === null) this.socket.end();
    } finally {
      this.#sendConflict.release();
    }
  }

  /** Returns 1..`maxBytes` bytes, or an empty array at end of file. */
  async receiveSome(maxBytes: number = DEFAULT_RECEIVE_SIZE): Promise<Uint8Array> {
    checkMaxBytes(maxBytes);
    this.#receiveConflict.acquire();
    try {
      const cancelled = lowlevel.cancelPoint("SocketStream.receiveSome()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      // A call that parked has already been a schedule point; only one that
      // found data waiting needs its own (cancel-shielded) yield.
      let parked = false;
      while (true) {
        if (this.#closed) throw new ClosedResourceError("the stream was closed");
        if (this.#queue.bytes > 0) {
          const result = this.#take(maxBytes);
          if (!parked) await cancelShieldedCheckpoint();
          return result;
        }
        if (this.#error !== null) throw this.#broken("receiveSome");
        if (this.#eof) {
          if (!parked) await cancelShieldedCheckpoint();
          return new Uint8Array(0);
        }
        this.#reader = lowlevel.currentTask();
        await waitExternal("SocketStream.receiveSome", () => {
          this.#reader = null;
        });
        parked = true;
      }
    } finally {
      this.#receiveConflict.release();
    }
  }

  #take(maxBytes: number): Uint8Array {
    const data = this.#queue.take(maxBytes);
    if (
      this.#paused &&
      this.#queue.bytes < RECEIVE_QUEUE_LIMIT &&
      !this.#eof &&
      this.#error === null &&
      !this.#closed
    ) {
      this.#paused = false;
      this.socket.resume();
    }
    return data;
  }

  /**
   * @internal Hands the socket over to code that reads and writes it itself
   * (`serveHttp` gives it to Node's HTTP parser, the fast path): the stream's
   * listeners are removed, bytes it received and nobody took are put back
   * (`unshift`), and the stream is closed without closing the socket — using
   * it raises `ClosedResourceError`. `null` if the stream is in use, closed,
   * broken, at end of file or paused (the caller then goes on through the
   * stream).
   */
  detachSocket(): net.Socket | null {
    if (
      this.#closed ||
      this.#eofSent ||
      this.#error !== null ||
      this.#reader !== null ||
      this.#writer !== null ||
      this.#drainWaiter !== null ||
      this.#eof ||
      this.#paused ||
      this.socket.destroyed
    ) {
      return null;
    }
    this.#closed = true;
    const socket = this.socket;
    for (const event of ["data", "end", "error", "drain", "close"] as const) {
      socket.removeAllListeners(event);
    }
    if (this.#queue.bytes > 0) socket.unshift(Buffer.from(this.#queue.take(this.#queue.bytes)));
    return socket;
  }

  /** Closes the socket (destroy). Always closes, even when cancelled. */
  async aclose(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.clear();
      this.socket.destroy();
      this.#wakeAll();
    }
    await checkpoint();
  }

  /** `aclose()`, for `await using stream = await openTcpStream(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields the received chunks (`receiveSome()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }
}
