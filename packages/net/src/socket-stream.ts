/**
 * TCP sockets: `SocketStream` (a `HalfCloseableStream` over a connected
 * `net.Socket`), `SocketListener` (over a `net.Server`), and minimal
 * `openTcpStream` / `openTcpListeners` (Trio's `_highlevel_socket.py`,
 * `_highlevel_open_tcp_stream.py`, `_highlevel_open_tcp_listeners.py`).
 *
 * Every wait on a socket event is an external wait (`{ external: true }`), so a
 * run on a virtual clock is not reported deadlocked while I/O is in flight.
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
import { ConflictDetector } from "./conflict-detector.ts";
import {
  checkMaxBytes,
  type HalfCloseableStream,
  type Listener,
  receiveChunks,
} from "./streams.ts";

/** A socket address. `port` is 0 for Unix sockets. */
export interface SocketAddress {
  family: 4 | 6 | "unix";
  address: string;
  port: number;
}

const DEFAULT_RECEIVE_SIZE = 65536;

function makeAddress(
  family: string | undefined,
  address: string | undefined,
  port: number | undefined,
): SocketAddress {
  return {
    family: family === "IPv6" || family === "6" ? 6 : 4,
    address: address ?? "",
    port: port ?? 0,
  };
}

function checkHost(host: unknown): asserts host is string {
  if (typeof host !== "string") throw new TypeError(`host must be a string, got ${typeof host}`);
  if (host.length === 0) throw new TypeError("host must be a non-empty string");
}

function checkPort(port: unknown): asserts port is number {
  if (typeof port !== "number") throw new TypeError(`port must be a number, got ${typeof port}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer in 0..65535, got ${String(port)}`);
  }
}

function toUint8Array(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function concatChunks(chunks: Buffer[], total: number): Uint8Array {
  if (chunks.length === 1) return toUint8Array(chunks[0]!);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** Parks the current task on an external (I/O) wait; `onAbort` runs if it is cancelled. */
function waitExternal(waitingFor: string, onAbort: () => void): Promise<unknown> {
  return lowlevel.waitTaskRescheduled(
    () => {
      onAbort();
      return lowlevel.Abort.SUCCEEDED;
    },
    { waitingFor, external: true },
  );
}

/**
 * A `HalfCloseableStream` over a connected `net.Socket` (TCP_NODELAY on).
 *
 * Received data is kept in a queue of chunks from `'data'` events; the socket is
 * paused while the queue is non-empty, so at most one socket read is buffered.
 * `sendAll` completes once the data was handed to the kernel (the write
 * callback), so the userspace write buffer never grows without bound.
 */
export class SocketStream implements HalfCloseableStream {
  /** The underlying socket. */
  readonly socket: net.Socket;
  readonly localAddress: SocketAddress;
  readonly remoteAddress: SocketAddress;

  readonly #sendConflict = new ConflictDetector("another task is using this stream for sending");
  readonly #receiveConflict = new ConflictDetector(
    "another task is using this stream for receiving",
  );
  readonly #queue: Buffer[] = [];
  #queuedBytes = 0;
  #eof = false;
  #closed = false;
  #eofSent = false;
  #error: unknown = null;
  #reader: Task | null = null;
  #writer: Task | null = null;
  #drainWaiter: Task | null = null;

  constructor(socket: net.Socket) {
    if (!(socket instanceof net.Socket)) throw new TypeError("socket must be a net.Socket");
    this.socket = socket;
    socket.setNoDelay(true);
    this.localAddress = makeAddress(socket.localFamily, socket.localAddress, socket.localPort);
    this.remoteAddress = makeAddress(socket.remoteFamily, socket.remoteAddress, socket.remotePort);
    socket.on("data", (chunk: Buffer | string) => {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      if (buf.length === 0) return;
      this.#queue.push(buf);
      this.#queuedBytes += buf.length;
      socket.pause();
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
    const task = this.#writer;
    if (task !== null) {
      this.#writer = null;
      lowlevel.reschedule(task);
    }
  }

  #broken(what: string): BrokenResourceError {
    const cause = this.#error;
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return new BrokenResourceError(`${what}: socket is broken${detail}`, { cause });
  }

  #checkSendable(): void {
    if (this.#closed) throw new ClosedResourceError("the stream was closed");
    if (this.#eofSent) throw new ClosedResourceError("sendEof was called on this stream");
    if (this.#error !== null) throw this.#broken("sendAll");
  }

  /** Sends all of `data`; returns once it was handed to the kernel. */
  async sendAll(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError("data must be a Uint8Array");
    this.#sendConflict.acquire();
    try {
      this.#checkSendable();
      if (data.length === 0) {
        await checkpoint();
        return;
      }
      lowlevel.raiseIfCancelled("SocketStream.sendAll()");
      // Copy: the caller may reuse its buffer once we return or are cancelled.
      const copy = Buffer.from(data);
      let done = false;
      let writeError: unknown = null;
      this.#writer = lowlevel.currentTask();
      this.socket.write(copy, (error) => {
        done = true;
        if (error != null) writeError = error;
        const task = this.#writer;
        if (task !== null) {
          this.#writer = null;
          lowlevel.reschedule(task);
        }
      });
      await waitExternal("SocketStream.sendAll", () => {
        this.#writer = null;
      });
      if (this.#closed) throw new ClosedResourceError("the stream was closed during sendAll");
      if (writeError !== null && this.#error === null) this.#error = writeError;
      if (this.#error !== null) throw this.#broken("sendAll");
      if (!done) throw this.#broken("sendAll");
    } finally {
      this.#sendConflict.release();
    }
  }

  /** Returns when `sendAll` might not block: the socket's write buffer is not over its high-water mark. */
  async waitSendAllMightNotBlock(): Promise<void> {
    this.#sendConflict.acquire();
    try {
      if (this.#closed) throw new ClosedResourceError("the stream was closed");
      lowlevel.raiseIfCancelled("SocketStream.waitSendAllMightNotBlock()");
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
      lowlevel.raiseIfCancelled("SocketStream.receiveSome()");
      while (true) {
        if (this.#closed) throw new ClosedResourceError("the stream was closed");
        if (this.#queue.length > 0) {
          const result = this.#take(maxBytes);
          await cancelShieldedCheckpoint();
          return result;
        }
        if (this.#error !== null) throw this.#broken("receiveSome");
        if (this.#eof) {
          await cancelShieldedCheckpoint();
          return new Uint8Array(0);
        }
        this.#reader = lowlevel.currentTask();
        await waitExternal("SocketStream.receiveSome", () => {
          this.#reader = null;
        });
      }
    } finally {
      this.#receiveConflict.release();
    }
  }

  #take(maxBytes: number): Uint8Array {
    const parts: Buffer[] = [];
    let total = 0;
    while (this.#queue.length > 0 && total < maxBytes) {
      const head = this.#queue[0]!;
      const room = maxBytes - total;
      if (head.length <= room) {
        this.#queue.shift();
        parts.push(head);
        total += head.length;
      } else {
        parts.push(head.subarray(0, room));
        this.#queue[0] = head.subarray(room);
        total += room;
      }
    }
    this.#queuedBytes -= total;
    if (this.#queue.length === 0 && !this.#eof && this.#error === null && !this.#closed) {
      this.socket.resume();
    }
    return concatChunks(parts, total);
  }

  /** Closes the socket (destroy). Always closes, even when cancelled. */
  async aclose(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.length = 0;
      this.#queuedBytes = 0;
      this.socket.destroy();
      this.#wakeAll();
    }
    await checkpoint();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }
}

/** A `Listener` over a listening `net.Server`: accepted sockets are queued until `accept()` takes them. */
export class SocketListener implements Listener<SocketStream> {
  /** The underlying server. */
  readonly server: net.Server;
  readonly localAddress: SocketAddress;

  readonly #pending: net.Socket[] = [];
  readonly #waiters: Task[] = [];
  #closed = false;
  #error: unknown = null;

  /** `server` must already be listening on a TCP address. */
  constructor(server: net.Server) {
    if (!(server instanceof net.Server)) throw new TypeError("server must be a net.Server");
    const address = server.address();
    if (address === null || typeof address === "string") {
      throw new TypeError("server must be listening on a TCP address");
    }
    this.server = server;
    this.localAddress = makeAddress(address.family, address.address, address.port);
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
      if (this.#error === null) this.#error = error;
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
      const socket = this.#pending.shift();
      if (socket !== undefined) {
        const stream = new SocketStream(socket);
        socket.off("error", ignoreError);
        socket.resume();
        await cancelShieldedCheckpoint();
        return stream;
      }
      if (this.#error !== null) {
        throw new BrokenResourceError("the listener is broken", { cause: this.#error });
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

function ignoreError(): void {}

/**
 * Connects to `host:port` and returns a `SocketStream`.
 *
 * Minimal for now: Node's own resolution picks a single address; no Happy
 * Eyeballs, and the `happyEyeballsDelay` / custom resolver / socket factory
 * seams are not implemented yet.
 */
export async function openTcpStream(
  host: string,
  port: number,
  options?: { localAddress?: string },
): Promise<SocketStream> {
  checkHost(host);
  checkPort(port);
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new TypeError("options must be an object");
  }
  const localAddress = options?.localAddress;
  if (localAddress !== undefined) checkHost(localAddress);
  lowlevel.raiseIfCancelled("openTcpStream()");
  const socket = net.connect({
    host,
    port,
    allowHalfOpen: true,
    noDelay: true,
    ...(localAddress !== undefined ? { localAddress } : {}),
  });
  let outcome: { error: unknown } | "connected" | null = null;
  let waiter: Task | null = null;
  const settle = (value: { error: unknown } | "connected") => {
    if (outcome !== null) return;
    outcome = value;
    socket.off("connect", onConnect);
    socket.off("error", onError);
    if (waiter !== null) {
      const task = waiter;
      waiter = null;
      lowlevel.reschedule(task);
    }
  };
  const onConnect = () => settle("connected");
  const onError = (error: unknown) => settle({ error });
  socket.on("connect", onConnect);
  socket.on("error", onError);
  try {
    waiter = lowlevel.currentTask();
    await waitExternal(`openTcpStream(${host}:${port})`, () => {
      waiter = null;
    });
  } catch (error) {
    socket.off("connect", onConnect);
    socket.off("error", onError);
    socket.on("error", ignoreError);
    socket.destroy();
    throw error;
  }
  const result = outcome as { error: unknown } | "connected" | null;
  if (result !== "connected") {
    socket.destroy();
    const cause = result === null ? undefined : result.error;
    throw new Error(`could not connect to ${host}:${port}`, { cause });
  }
  return new SocketStream(socket);
}

/**
 * Listens on `port` (0 picks a free port) and returns the listeners.
 *
 * Minimal for now: a single listener on `options.host` (default `"127.0.0.1"`,
 * not yet every local address as Trio does).
 */
export async function openTcpListeners(
  port: number,
  options?: { host?: string; backlog?: number },
): Promise<SocketListener[]> {
  checkPort(port);
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new TypeError("options must be an object");
  }
  const host = options?.host ?? "127.0.0.1";
  checkHost(host);
  const backlog = options?.backlog;
  if (backlog !== undefined) {
    if (typeof backlog !== "number") throw new TypeError("backlog must be a number");
    if (!Number.isInteger(backlog) || backlog < 1) {
      throw new RangeError(`backlog must be an integer >= 1, got ${String(backlog)}`);
    }
  }
  lowlevel.raiseIfCancelled("openTcpListeners()");
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  let outcome: { error: unknown } | "listening" | null = null;
  let waiter: Task | null = null;
  const settle = (value: { error: unknown } | "listening") => {
    if (outcome !== null) return;
    outcome = value;
    server.off("listening", onListening);
    server.off("error", onError);
    if (waiter !== null) {
      const task = waiter;
      waiter = null;
      lowlevel.reschedule(task);
    }
  };
  const onListening = () => settle("listening");
  const onError = (error: unknown) => settle({ error });
  server.on("listening", onListening);
  server.on("error", onError);
  server.listen({ port, host, ...(backlog !== undefined ? { backlog } : {}) });
  try {
    waiter = lowlevel.currentTask();
    await waitExternal(`openTcpListeners(${host}:${port})`, () => {
      waiter = null;
    });
  } catch (error) {
    server.off("listening", onListening);
    server.off("error", onError);
    server.on("error", ignoreError);
    server.close();
    throw error;
  }
  const result = outcome as { error: unknown } | "listening" | null;
  if (result !== "listening") {
    server.close();
    const cause = result === null ? undefined : result.error;
    throw new Error(`could not listen on ${host}:${port}`, { cause });
  }
  return [new SocketListener(server)];
}
