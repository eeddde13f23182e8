/**
 * `UdpSocket`: datagrams over `node:dgram`, and `openUdpSocket` to bind one
 * (the UDP use of Trio's `trio.socket`: `sendto` / `recvfrom` / `connect`).
 *
 * Node reads every datagram from the kernel as soon as it arrives and has no
 * way to pause that, so datagrams nobody is waiting for are kept in a bounded
 * queue; when it is full, newer ones are dropped and counted, as the kernel
 * drops them when its receive buffer is full.
 */
import * as dgram from "node:dgram";
import * as net from "node:net";
import {
  BrokenResourceError,
  ClosedResourceError,
  cancelShieldedCheckpoint,
  checkpoint,
  Err,
  isCancelled,
  lowlevel,
  Ok,
  type Task,
} from "@weft/core";
import type { AsyncResource } from "@weft/core/streams";
import { ConflictDetector } from "@weft/core/streams";
import {
  checkCount,
  checkOptionsObject,
  describeValue,
  isInstance,
  isRevokedProxy,
} from "@weft/core/validate";
import { toBuffer, toUint8Array } from "../host/bytes.ts";
import { codeSuffix } from "../host/error-codes.ts";
import { waitForEvent } from "../host/io-wait.ts";
import { checkHost, checkPort, makeAddress, type SocketAddress } from "./addresses.ts";
import {
  currentHostnameResolver,
  customDatagramFactory,
  type DatagramAddressInfo,
  type DatagramSocket,
  formatHostPort,
} from "./tcp-seams.ts";

/** One received datagram and where it came from. */
export interface Datagram {
  /** The datagram's payload. */
  data: Uint8Array;
  /** Where it came from. */
  remoteAddress: SocketAddress;
}

/** A snapshot of a `UdpSocket`'s receive queue and waiters. */
export interface UdpSocketStatistics {
  /** Datagrams received and not yet taken by `receive()`. */
  queuedDatagrams: number;
  /** The bound of that queue. */
  maxQueuedDatagrams: number;
  /** Datagrams dropped because the queue was full; never decreases. */
  droppedDatagrams: number;
  /** Tasks blocked in `receive()`. */
  tasksWaitingReceive: number;
  /** Tasks blocked in `send()` or `connect()` (resolving the host, or waiting for Node). */
  tasksWaitingSend: number;
}

/** Options of the `UdpSocket` constructor. */
export interface UdpSocketOptions {
  /**
   * How many received datagrams are kept while no task is receiving (an integer
   * >= 0, default 256). Further datagrams are dropped and counted in
   * `statistics().droppedDatagrams`.
   */
  maxQueuedDatagrams?: number;
}

/** Options of {@link openUdpSocket}. */
export interface OpenUdpSocketOptions extends UdpSocketOptions {
  /** The address family (default 6 if `address` is an IPv6 literal, else 4). */
  family?: 4 | 6;
  /** The local address to bind to (default: every interface, `0.0.0.0` / `::`). */
  address?: string;
  /** The local port to bind to (default 0: the system picks a free one). */
  port?: number;
  /** Sets `SO_REUSEADDR` (Node's `reuseAddr`), so several sockets may bind one port. */
  reuseAddress?: boolean;
}

const DEFAULT_MAX_QUEUED_DATAGRAMS = 256;

/** A destination port: 0 is not one (Node refuses it too). */
function checkDestinationPort(port: unknown): asserts port is number {
  checkPort(port);
  if (port === 0) throw new RangeError("port must be an integer in 1..65535, got 0");
}

function checkMaxQueued(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_QUEUED_DATAGRAMS;
  checkCount("options.maxQueuedDatagrams", value);
  return value;
}

/** Whether `value` has the methods of a {@link DatagramSocket}. */
function isDatagramSocket(value: unknown): value is DatagramSocket {
  if (typeof value !== "object" || value === null || isRevokedProxy(value)) return false;
  const methods = ["address", "remoteAddress", "on", "send", "connect", "close"];
  return methods.every((m) => typeof (value as Record<string, unknown>)[m] === "function");
}

/** A task parked in `send()` / `connect()` until Node's callback (or `aclose`) wakes it. */
interface PendingCall {
  readonly task: Task;
  woken: boolean;
}

/** Waits that Node completes within an event-loop turn or so: never undone, see `#callNode`. */
const abortNever = (): lowlevel.Abort => lowlevel.Abort.FAILED;

/**
 * A bound UDP socket. `receive()` returns the next datagram; `send()` sends one.
 * A socket may be `connect()`ed to one peer: then `send(data)` goes there and
 * only that peer's datagrams are received (the kernel filters them).
 *
 * - Several tasks may `receive()` at once (unlike a stream's `receiveSome`: a
 *   datagram is a whole message, so sharing one socket between workers is
 *   meaningful); each datagram goes to one of them, first come first served.
 *   Several tasks may `send()` at once too: datagrams are never interleaved.
 * - `send()`, `connect()` and `receive()` are checkpoints. A cancelled `send()`
 *   did not send its datagram: cancellation is possible until the datagram is
 *   handed to Node (host resolution included), never after.
 * - A failed send or connect (`EMSGSIZE` for a datagram over 65507 bytes on
 *   IPv4, an unresolvable host, `EINVAL`…) throws an `Error` whose `cause` is
 *   Node's error; the socket stays usable. A receive error the kernel reports
 *   (`ECONNREFUSED` on a connected socket, after an ICMP port unreachable) is
 *   thrown by one `receive()` as an `Error` with that cause, as `recv` does.
 * - After `aclose()`: `ClosedResourceError`; pending calls are woken with it (a
 *   send woken that way may or may not have gone out). If the underlying socket
 *   is closed behind our back: `BrokenResourceError`.
 */
export class UdpSocket<S extends DatagramSocket = DatagramSocket>
  implements AsyncResource, AsyncIterable<Datagram>
{
  /**
   * The underlying socket: a `dgram.Socket`, or what a custom socket
   * factory's `bindUdp` returned (a simulated network's socket).
   */
  readonly socket: S;
  /** The bound local address. */
  readonly localAddress: SocketAddress;

  readonly #maxQueued: number;
  readonly #queue: Datagram[] = [];
  /**
   * Tasks waiting in receive(); a datagram is handed to the first (an I/O
   * wait, external, unless the socket's events come from the run itself).
   */
  readonly #receivers: lowlevel.ParkingLot;
  /** Whether waits on the socket are I/O waits (see `DatagramSocket.eventsFromRun`). */
  readonly #external: boolean;
  readonly #pendingCalls = new Set<PendingCall>();
  readonly #connectConflict = new ConflictDetector(
    "another task is already connecting this socket",
  );
  #dropped = 0;
  #remote: SocketAddress | null = null;
  #receiveError: unknown = null;
  #closed = false;
  #brokenBy: unknown = null;

  /**
   * `socket` must be bound (and may be connected): a `dgram.Socket`, or any
   * {@link DatagramSocket}.
   */
  constructor(socket: S, options?: UdpSocketOptions) {
    if (!isInstance(socket, dgram.Socket) && !isDatagramSocket(socket)) {
      throw new TypeError("socket must be a dgram.Socket (or implement DatagramSocket)");
    }
    checkOptionsObject("options", options);
    this.#maxQueued = checkMaxQueued(options?.maxQueuedDatagrams);
    this.#external = socket.eventsFromRun !== true;
    this.#receivers = new lowlevel.ParkingLot("UdpSocket.receive", { external: this.#external });
    let local: DatagramAddressInfo;
    try {
      local = socket.address();
    } catch {
      throw new TypeError("socket must be bound");
    }
    this.socket = socket;
    this.localAddress = makeAddress(local.family, local.address, local.port);
    try {
      const remote = socket.remoteAddress();
      this.#remote = makeAddress(remote.family, remote.address, remote.port);
    } catch {
      // Not connected.
    }
    socket.on("message", (msg: Buffer, rinfo: DatagramAddressInfo) => this.#onMessage(msg, rinfo));
    // Bind, send and connect errors go to their callbacks; what reaches 'error'
    // is a receive error (recvmsg).
    socket.on("error", (error: unknown) => {
      if (this.#closed) return;
      const wrapped = new Error(`UDP receive failed${codeSuffix(error)}`, { cause: error });
      if (this.#receivers.size > 0) this.#receivers.unpark(1, Err(wrapped));
      else if (this.#receiveError === null) this.#receiveError = wrapped;
    });
    socket.on("close", () => {
      if (this.#closed) return;
      this.#brokenBy = new Error("the UDP socket was closed by someone else");
      this.#queue.length = 0;
      this.#wakeAll(() => this.#broken());
    });
  }

  #onMessage(msg: Buffer, rinfo: DatagramAddressInfo): void {
    if (this.#closed || this.#brokenBy !== null) return;
    const datagram: Datagram = {
      data: toUint8Array(msg),
      remoteAddress: makeAddress(rinfo.family, rinfo.address, rinfo.port),
    };
    // Receivers are only ever waiting when the queue is empty: hand over directly.
    if (this.#receivers.size > 0) {
      this.#receivers.unpark(1, Ok(datagram));
    } else if (this.#queue.length < this.#maxQueued) {
      this.#queue.push(datagram);
    } else {
      this.#dropped++;
    }
  }

  /** The connected peer, or `null` if the socket is not connected. */
  get remoteAddress(): SocketAddress | null {
    return this.#remote;
  }

  #broken(): BrokenResourceError {
    return new BrokenResourceError("the UDP socket is broken", { cause: this.#brokenBy });
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedResourceError("the UDP socket was closed");
    if (this.#brokenBy !== null) throw this.#broken();
  }

  #wakeAll(error: () => Error): void {
    while (this.#receivers.size > 0) this.#receivers.unpark(1, Err(error()));
    for (const call of this.#pendingCalls) {
      call.woken = true;
      lowlevel.reschedule(call.task, Err(error()));
    }
    this.#pendingCalls.clear();
  }

  /**
   * Resolves `host` to an address of this socket's family: literals as they are
   * (one of the other family is a TypeError), names through the run's hostname
   * resolver (`setCustomHostnameResolver`), as Trio's sockets use its resolver.
   */
  async #resolve(host: string, port: number, what: string): Promise<string> {
    const family = this.localAddress.family === 6 ? 6 : 4;
    const literal = net.isIP(host);
    if (literal !== 0) {
      if (literal !== family) {
        throw new TypeError(
          `host ${host} is an IPv${literal} address; this is an IPv${family} socket`,
        );
      }
      return host;
    }
    let found: { family: number; address: string }[];
    try {
      found = await currentHostnameResolver().getaddrinfo(host, port);
    } catch (error) {
      if (isCancelled(error)) throw error;
      throw new Error(`${what}: could not resolve ${host}${codeSuffix(error)}`, { cause: error });
    }
    const match = Array.isArray(found) ? found.find((a) => a.family === family) : undefined;
    if (match === undefined) throw new Error(`${what}: ${host} has no IPv${family} address`);
    return match.address;
  }

  /**
   * Calls `start(callback)` (a Node call that reports through a callback) and
   * parks until the callback or `aclose` wakes the task. The wait is not undone
   * by cancellation: Node cannot take the call back, and it completes within an
   * event-loop turn, so a cancelled send or connect is one that never happened.
   * A callback called synchronously (a simulated socket) needs no wait: a
   * checkpoint, and done. Returns the callback's error (or null).
   */
  async #callNode(
    start: (callback: (error?: Error | null) => void) => void,
    waitingFor: string,
  ): Promise<unknown> {
    const call: PendingCall = { task: lowlevel.currentTask(), woken: false };
    let outcome: unknown = null;
    let starting = true;
    let doneAtOnce = false;
    this.#pendingCalls.add(call);
    try {
      start((error) => {
        if (starting) {
          doneAtOnce = true;
          outcome = error ?? null;
          return;
        }
        if (call.woken) return;
        call.woken = true;
        this.#pendingCalls.delete(call);
        outcome = error ?? null;
        lowlevel.reschedule(call.task);
      });
    } catch (error) {
      this.#pendingCalls.delete(call);
      throw error;
    } finally {
      starting = false;
    }
    if (doneAtOnce) {
      this.#pendingCalls.delete(call);
      await cancelShieldedCheckpoint();
      return outcome;
    }
    await lowlevel.waitTaskRescheduled(abortNever, { waitingFor, external: this.#external });
    return outcome;
  }

  /**
   * Sends one datagram: to `host:port`, or (omit both) to the connected peer.
   * Returns once Node has handed it to the kernel, which is no sign that it
   * arrived. `data` may be reused as soon as this returns.
   */
  async send(data: Uint8Array, port?: number, host?: string): Promise<void> {
    if (!isInstance(data, Uint8Array)) throw new TypeError("data must be a Uint8Array");
    const toPeer = port === undefined && host === undefined;
    if (!toPeer) {
      checkDestinationPort(port);
      checkHost(host);
    }
    this.#checkOpen();
    const remote = this.#remote;
    if (toPeer && remote === null) {
      throw new TypeError("port and host are required: this socket is not connected");
    }
    if (!toPeer && remote !== null) {
      throw new TypeError(
        `port and host must be omitted: this socket is connected to ${formatHostPort(remote.address, remote.port)}`,
      );
    }
    const cancelled = lowlevel.cancelPoint("UdpSocket.send()");
    if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
    const buf = toBuffer(data);
    const target = toPeer
      ? formatHostPort(remote!.address, remote!.port)
      : formatHostPort(host!, port!);
    const what = `could not send a ${data.byteLength}-byte datagram to ${target}`;
    let address: string | undefined;
    if (!toPeer) {
      address = await this.#resolve(host!, port!, what);
      this.#checkOpen();
    }
    const error = await this.#callNode(
      (callback) =>
        toPeer ? this.socket.send(buf, callback) : this.socket.send(buf, port!, address!, callback),
      "UdpSocket.send",
    );
    if (error !== null) throw new Error(`${what}${codeSuffix(error)}`, { cause: error });
  }

  /**
   * Connects the socket to `host:port`: `send(data)` then goes there and only
   * its datagrams are received. A socket connects once (a second call throws).
   * Concurrent calls throw `BusyResourceError`.
   */
  async connect(host: string, port: number): Promise<void> {
    checkHost(host);
    checkDestinationPort(port);
    this.#connectConflict.acquire();
    try {
      this.#checkOpen();
      if (this.#remote !== null) {
        throw new Error(
          `the UDP socket is already connected to ${formatHostPort(this.#remote.address, this.#remote.port)}`,
        );
      }
      const cancelled = lowlevel.cancelPoint("UdpSocket.connect()");
      if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
      const what = `could not connect the UDP socket to ${formatHostPort(host, port)}`;
      const address = await this.#resolve(host, port, what);
      this.#checkOpen();
      const error = await this.#callNode(
        (callback) => this.socket.connect(port, address, callback),
        "UdpSocket.connect",
      );
      if (error !== null) throw new Error(`${what}${codeSuffix(error)}`, { cause: error });
      const peer = this.socket.remoteAddress();
      this.#remote = makeAddress(peer.family, peer.address, peer.port);
    } finally {
      this.#connectConflict.release();
    }
  }

  /** Waits for and returns the next datagram (FIFO among concurrent receivers). */
  async receive(): Promise<Datagram> {
    const cancelled = lowlevel.cancelPoint("UdpSocket.receive()");
    if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
    this.#checkOpen();
    const queued = this.#queue.shift();
    if (queued !== undefined) {
      await cancelShieldedCheckpoint();
      return queued;
    }
    const error = this.#receiveError;
    if (error !== null) {
      this.#receiveError = null;
      await cancelShieldedCheckpoint();
      throw error;
    }
    return await this.#receivers.park<Datagram>();
  }

  /** The receive queue and waiters, for monitoring. */
  statistics(): UdpSocketStatistics {
    return {
      queuedDatagrams: this.#queue.length,
      maxQueuedDatagrams: this.#maxQueued,
      droppedDatagrams: this.#dropped,
      tasksWaitingReceive: this.#receivers.size,
      tasksWaitingSend: this.#pendingCalls.size,
    };
  }

  /** Closes the socket and drops queued datagrams. Always closes, even when cancelled. */
  async aclose(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.length = 0;
      this.#receiveError = null;
      try {
        this.socket.close();
      } catch {
        // Already closed by someone else (ERR_SOCKET_DGRAM_NOT_RUNNING).
      }
      this.#wakeAll(() => new ClosedResourceError("the UDP socket was closed"));
    }
    await checkpoint();
  }

  /** `aclose()`, for `await using socket = await openUdpSocket(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /**
   * Yields received datagrams. It never ends by itself (UDP has no end of
   * stream): break out of the loop, or cancel it; `receive()`'s errors are thrown.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Datagram, void, undefined> {
    while (true) yield await this.receive();
  }
}

/**
 * Creates a UDP socket bound to `options.address:options.port` (defaults: every
 * interface of the family, a free port). Binding failures (`EADDRINUSE`,
 * `EADDRNOTAVAIL`…) throw an `Error` whose `cause` is Node's error; cancellation
 * closes the socket. If the run has a custom socket factory with `bindUdp`
 * (`setCustomSocketFactory`, e.g. a simulated network), the socket comes from
 * it instead of `node:dgram`.
 */
export async function openUdpSocket(options?: OpenUdpSocketOptions): Promise<UdpSocket> {
  checkOptionsObject("options", options);
  const address = options?.address;
  if (address !== undefined) checkHost(address, "options.address");
  const literal = address === undefined ? 0 : net.isIP(address);
  const family = options?.family ?? (literal === 6 ? 6 : 4);
  if (family !== 4 && family !== 6) {
    throw new TypeError(`options.family must be 4 or 6, got ${describeValue(family)}`);
  }
  if (literal !== 0 && literal !== family) {
    throw new TypeError(`address ${address} is an IPv${literal} address, but family is ${family}`);
  }
  const port = options?.port ?? 0;
  checkPort(port, "options.port");
  const reuseAddress = options?.reuseAddress ?? false;
  if (typeof reuseAddress !== "boolean") {
    throw new TypeError(
      `options.reuseAddress must be a boolean, got ${describeValue(reuseAddress)}`,
    );
  }
  const maxQueuedDatagrams = checkMaxQueued(options?.maxQueuedDatagrams);
  const cancelled = lowlevel.cancelPoint("openUdpSocket()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
  const custom = customDatagramFactory();
  if (custom !== null) {
    const where = formatHostPort(address ?? (family === 6 ? "::" : "0.0.0.0"), port);
    let bound: DatagramSocket;
    try {
      bound = await custom.bindUdp({
        family,
        port,
        reuseAddress,
        ...(address !== undefined ? { address } : {}),
      });
    } catch (error) {
      if (isCancelled(error)) throw error;
      throw new Error(`could not bind a UDP socket to ${where}${codeSuffix(error)}`, {
        cause: error,
      });
    }
    return new UdpSocket(bound, { maxQueuedDatagrams });
  }
  const socket = dgram.createSocket({
    type: family === 6 ? "udp6" : "udp4",
    reuseAddr: reuseAddress,
  });
  const host = address ?? (family === 6 ? "::" : "0.0.0.0");
  socket.bind(port, host);
  try {
    await waitForEvent(socket, "listening", `openUdpSocket(${formatHostPort(host, port)})`);
  } catch (error) {
    socket.close();
    if (isCancelled(error)) throw error;
    throw new Error(
      `could not bind a UDP socket to ${formatHostPort(host, port)}${codeSuffix(error)}`,
      {
        cause: error,
      },
    );
  }
  return new UdpSocket(socket, { maxQueuedDatagrams });
}
