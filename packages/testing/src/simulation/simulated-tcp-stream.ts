/**
 * SimulatedTcpStream: one end of a simulated TCP connection, a
 * `HalfCloseableStream` over two `SimulatedLink`s (one per direction), and
 * `simulatedTcpPair`, which connects two of them.
 *
 * It behaves like weft's `SocketStream` where a test can tell: ordered bytes,
 * backpressure from a bounded window, half-close, EOF or reset on close,
 * `BrokenResourceError` with a `cause` on reset, and a cancelled `sendAll`
 * breaking the sending side (SEMANTICS.md, "I/O resources"), re-implemented
 * here because @weft/testing depends on @weft/core only.
 */
import {
  BrokenResourceError,
  Cancelled,
  ClosedResourceError,
  checkpoint,
  currentTime,
} from "@weft/core";
import {
  ConflictDetector,
  checkMaxBytes,
  type HalfCloseableStream,
  receiveChunks,
} from "@weft/core/streams";
import {
  checkBytes,
  checkCount,
  checkOptionsObject,
  describeValue,
  isInstance,
  isRevokedProxy,
} from "@weft/core/validate";
import { type Latency, SimulatedLink } from "./simulated-link.ts";

/** An address of a simulated socket, shaped like @weft/net's `SocketAddress`. */
export interface SimulatedSocketAddress {
  /** IPv4 or IPv6. */
  readonly family: 4 | 6;
  /** The host's IP address. */
  readonly address: string;
  /** The port. */
  readonly port: number;
}

/** Options of `simulatedTcpPair`. */
export interface SimulatedTcpPairOptions {
  /**
   * Latency of both directions, for the links the pair creates (default 0);
   * see `SimulatedLink`. Ignored for a link passed in.
   */
  latency?: Latency;
  /** The seeded randomness a latency function draws from (see `SimulatedLink`). */
  random?: () => number;
  /**
   * The most bytes one end may have sent and the other not yet read (in flight
   * plus in the peer's receive buffer, like TCP's receive window): `sendAll`
   * blocks beyond it until the peer has read half a window and that window
   * update arrives (updates come once half the window is free, as in TCP).
   * Default 65,536.
   */
  window?: number;
  /** The largest data segment, in bytes (default 1,460, Ethernet's TCP MSS). */
  segmentSize?: number;
  /** The client's address (default 10.0.0.1:49152). */
  clientAddress?: SimulatedSocketAddress;
  /** The server's address (default 10.0.0.2:80). */
  serverAddress?: SimulatedSocketAddress;
  /**
   * The client → server link, made by the caller to keep a handle for faults
   * (default: a new one). A link carries one direction of one connection:
   * do not pass it to another pair.
   */
  clientToServer?: SimulatedLink;
  /** The server → client link (default: a new one). */
  serverToClient?: SimulatedLink;
}

const EMPTY = new Uint8Array(0);
const DEFAULT_WINDOW = 65_536;
const DEFAULT_SEGMENT_SIZE = 1460;

/** The error a reset from the peer carries as `cause`, like Node's. */
function connectionResetCause(): Error {
  return Object.assign(new Error("read ECONNRESET (simulated: the peer closed with unread data)"), {
    code: "ECONNRESET",
  });
}

/**
 * One end of a simulated TCP connection. Make them with `simulatedTcpPair`.
 *
 * Closing (`aclose`) with unread received data resets the connection, as a
 * real socket does (the kernel sends RST, not FIN): the peer's pending and
 * later operations raise `BrokenResourceError` whose `cause` has code
 * `ECONNRESET`, once the reset reaches it. Closing with nothing unread sends
 * FIN: the peer receives EOF after the data in flight; data the peer sends
 * afterwards is answered with a reset, which reaches it a round trip later.
 */
export class SimulatedTcpStream implements HalfCloseableStream {
  /** This end's address. */
  readonly localAddress: SimulatedSocketAddress;
  /** The peer's address. */
  readonly remoteAddress: SimulatedSocketAddress;
  /** The link this end sends on (data, EOF, window updates for the peer). */
  readonly outgoing: SimulatedLink;
  /** The link this end receives from. */
  readonly incoming: SimulatedLink;
  readonly #segmentSize: number;
  readonly #sending = new ConflictDetector("another task is already sending on this stream");
  readonly #receiving = new ConflictDetector("another task is already receiving on this stream");
  /** Bytes this end may still send before the peer's window is full. */
  #credit: number;
  /** Bytes read from the receive buffer that no window update has announced yet. */
  #freed = 0;
  /** Announce freed bytes once they reach half the window (TCP's receiver-side silly-window avoidance). */
  readonly #windowUpdateAt: number;
  #closed = false;
  #eofSent = false;
  #eofReceived = false;
  #sendCancelled: Cancelled | null = null;
  #onClose: (() => void) | null = null;

  /** @internal Use `simulatedTcpPair`. */
  constructor(
    outgoing: SimulatedLink,
    incoming: SimulatedLink,
    addresses: { local: SimulatedSocketAddress; remote: SimulatedSocketAddress },
    limits: { window: number; segmentSize: number },
  ) {
    this.outgoing = outgoing;
    this.incoming = incoming;
    this.localAddress = addresses.local;
    this.remoteAddress = addresses.remote;
    this.#credit = limits.window;
    this.#windowUpdateAt = Math.max(1, Math.floor(limits.window / 2));
    this.#segmentSize = limits.segmentSize;
  }

  /**
   * Sends all of `data`, blocking while the peer's window is full. A
   * cancelled call breaks the sending side: every later `sendAll` raises
   * `BrokenResourceError` and sends nothing (SEMANTICS.md, "I/O resources").
   */
  sendAll(data: Uint8Array): Promise<void> {
    return this.#sending.run(async () => {
      try {
        checkBytes("data", data);
        await checkpoint();
        let offset = 0;
        while (true) {
          this.#checkCanSend("sendAll");
          if (offset === data.length) return;
          this.#credit += this.incoming.takeWindow();
          if (this.#credit === 0) {
            await this.incoming.waitForChange({ data: false, window: true });
            continue;
          }
          const n = Math.min(this.#credit, data.length - offset, this.#segmentSize);
          this.#transmitData(data.slice(offset, offset + n));
          this.#credit -= n;
          offset += n;
        }
      } catch (error) {
        // How much of the data went out is unknown to the caller, so nothing
        // sent later could be framed correctly by the peer.
        if (error instanceof Cancelled) this.#sendCancelled ??= error;
        throw error;
      }
    });
  }

  /** Returns once `sendAll` might not block (the peer's window has room), or would fail at once. */
  waitSendAllMightNotBlock(): Promise<void> {
    return this.#sending.run(async () => {
      await checkpoint();
      while (true) {
        if (this.#closed) throw new ClosedResourceError("the stream was closed");
        if (this.#eofSent) throw new ClosedResourceError("sendEof was called on this stream");
        if (this.#sendCancelled !== null || this.#connectionError() !== null) return;
        this.#credit += this.incoming.takeWindow();
        if (this.#credit > 0) return;
        await this.incoming.waitForChange({ data: false, window: true });
      }
    });
  }

  /** Sends EOF (FIN) after the data in flight; the other direction keeps working. Idempotent. */
  sendEof(): Promise<void> {
    return this.#sending.run(async () => {
      await checkpoint();
      if (this.#closed) throw new ClosedResourceError("the stream was closed");
      if (this.#eofSent) return;
      const error = this.#connectionError();
      if (error !== null) throw error;
      this.#eofSent = true;
      this.outgoing.transmit({ kind: "eof" });
    });
  }

  /**
   * Receives up to `maxBytes` bytes (default: whatever has arrived), waiting
   * until some arrive; an empty array at EOF. After a reset, unread data is
   * discarded and it raises `BrokenResourceError`.
   */
  receiveSome(maxBytes?: number): Promise<Uint8Array> {
    return this.#receiving.run(async () => {
      checkMaxBytes(maxBytes);
      let checkpointed = false;
      while (true) {
        if (this.#closed) throw new ClosedResourceError("the stream was closed");
        const error = this.#connectionError();
        if (error !== null) throw error;
        const segment = this.#eofReceived ? null : this.incoming.peekData();
        if (this.#eofReceived || segment !== null) {
          // Every call is a checkpoint, even when data is already there.
          if (!checkpointed) {
            await checkpoint();
            checkpointed = true;
            continue;
          }
          if (segment === null) return EMPTY;
          if (segment.kind === "eof") {
            this.incoming.takeData(0);
            this.#eofReceived = true;
            return EMPTY;
          }
          if (segment.kind !== "data") throw new Error("unreachable: window update in data queue");
          const n = Math.min(maxBytes ?? segment.bytes.length, segment.bytes.length);
          const got = segment.bytes.subarray(0, n);
          this.incoming.takeData(n);
          // The bytes left the receive buffer. A window update tells the peer
          // once half the window is free again, as TCP does (one update per
          // segment would double the segments a run carries); a peer blocked
          // on a full window gets it, since the window holds twice that.
          this.#freed += n;
          if (this.#freed >= this.#windowUpdateAt) {
            this.outgoing.transmit({ kind: "window", bytes: this.#freed });
            this.#freed = 0;
          }
          return got;
        }
        await this.incoming.waitForChange({ data: true, window: false });
        checkpointed = true;
      }
    });
  }

  /**
   * Closes this end at once: FIN to the peer, or a reset if received data is
   * unread (see the class comment). Blocked calls on this end raise
   * `ClosedResourceError`.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.incoming.receiverClosed = true;
    // Data arrived and unread: the kernel resets at once. Data still in
    // flight: the reset answers it when it arrives (as for data sent after
    // the close, see #transmitData). Only the peer's EOF, arrived or still in
    // flight: nothing is lost, so a FIN.
    const unreadAt = this.incoming.firstDataArrival();
    if (unreadAt !== null) {
      this.outgoing.transmitReset(connectionResetCause(), Math.max(unreadAt, currentTime()));
    } else if (!this.#eofSent) {
      this.outgoing.transmit({ kind: "eof" });
    }
    this.#eofSent = true;
    this.incoming.notify();
    this.#onClose?.();
  }

  /**
   * @internal Calls `listener` when this end closes (the simulated network
   * forgets a connection once both ends have closed). One listener.
   */
  onClose(listener: () => void): void {
    this.#onClose = listener;
  }

  /** `close()`, then a checkpoint (it closes even in a cancelled scope). */
  async aclose(): Promise<void> {
    this.close();
    await checkpoint();
  }

  /** `aclose()`, for `await using stream = await openTcpStream(…)` in a simulation. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  /** Yields the received chunks (`receiveSome()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return receiveChunks(this);
  }

  #checkCanSend(operation: string): void {
    if (this.#closed) throw new ClosedResourceError("the stream was closed");
    if (this.#sendCancelled !== null) {
      const why = ` (${this.#sendCancelled.message})`;
      throw new BrokenResourceError(
        `SimulatedTcpStream.${operation}: a previous sendAll was cancelled${why}; how much of its data went out ` +
          "is unknown, so this stream can no longer send (close it)",
        { cause: this.#sendCancelled },
      );
    }
    if (this.#eofSent) throw new ClosedResourceError("sendEof was called on this stream");
    const error = this.#connectionError();
    if (error !== null) throw error;
  }

  /** The error a reset or a broken link gives this end now, or null. */
  #connectionError(): BrokenResourceError | null {
    for (const link of [this.incoming, this.outgoing]) {
      if (link.broken) {
        return new BrokenResourceError(
          `simulated connection ${describeAddress(this.localAddress)} ↔ ${describeAddress(this.remoteAddress)} was broken (link ${link.name})`,
          { cause: link.brokenBy },
        );
      }
    }
    const reset = this.incoming.arrivedReset();
    if (reset === null) return null;
    return new BrokenResourceError(
      `simulated connection ${describeAddress(this.localAddress)} ↔ ${describeAddress(this.remoteAddress)} was reset by the peer`,
      { cause: reset.cause },
    );
  }

  #transmitData(bytes: Uint8Array): void {
    const arriveAt = this.outgoing.transmit({ kind: "data", bytes });
    // A closed peer answers data with a reset, which departs when the data arrives.
    if (this.outgoing.receiverClosed) this.incoming.transmitReset(connectionResetCause(), arriveAt);
  }
}

function describeAddress(address: SimulatedSocketAddress): string {
  return address.family === 6
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}

function checkAddress(name: string, value: unknown): asserts value is SimulatedSocketAddress {
  const address = value as Partial<SimulatedSocketAddress> | null;
  if (
    typeof address !== "object" ||
    address === null ||
    isRevokedProxy(address) ||
    (address.family !== 4 && address.family !== 6) ||
    typeof address.address !== "string" ||
    !Number.isInteger(address.port) ||
    (address.port as number) < 0 ||
    (address.port as number) > 65535
  ) {
    throw new TypeError(
      `${name} must be { family: 4 | 6, address: string, port: 0..65535 }, got ${describeValue(value)}`,
    );
  }
}

/**
 * A connected pair of simulated TCP streams, `[client, server]`, like the two
 * ends of a socket connection: ordered reliable bytes with the links' latency,
 * backpressure from `window`, half-close, reset on close with unread data.
 * Faults go through the links (`client.outgoing`, `client.incoming`, or links
 * passed in): `break(error)` on either resets the whole connection.
 *
 * Use it inside `run()`, on a `MockClock` for virtual time:
 *
 * ```ts
 * await run(async () => {
 *   const [client, server] = simulatedTcpPair({ latency: 5 });
 *   await client.sendAll(bytes);          // arrives 5 ms later (virtual)
 *   const got = await server.receiveSome();
 * }, { clock: new MockClock({ autojumpThreshold: 0 }) });
 * ```
 */
export function simulatedTcpPair(
  options: SimulatedTcpPairOptions = {},
): [SimulatedTcpStream, SimulatedTcpStream] {
  checkOptionsObject("options", options);
  const window = options.window ?? DEFAULT_WINDOW;
  checkCount("options.window", window, { min: 1 });
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  checkCount("options.segmentSize", segmentSize, { min: 1 });
  const clientAddress = options.clientAddress ?? { family: 4, address: "10.0.0.1", port: 49152 };
  checkAddress("options.clientAddress", clientAddress);
  const serverAddress = options.serverAddress ?? { family: 4, address: "10.0.0.2", port: 80 };
  checkAddress("options.serverAddress", serverAddress);
  for (const name of ["clientToServer", "serverToClient"] as const) {
    const link = options[name];
    if (link !== undefined && !isInstance(link, SimulatedLink)) {
      throw new TypeError(`options.${name} must be a SimulatedLink, got ${describeValue(link)}`);
    }
  }
  const linkOptions = {
    latency: options.latency ?? 0,
    ...(options.random === undefined ? {} : { random: options.random }),
  };
  const up =
    options.clientToServer ??
    new SimulatedLink({
      ...linkOptions,
      name: `${describeAddress(clientAddress)} → ${describeAddress(serverAddress)}`,
    });
  const down =
    options.serverToClient ??
    new SimulatedLink({
      ...linkOptions,
      name: `${describeAddress(serverAddress)} → ${describeAddress(clientAddress)}`,
    });
  // A reset is the whole connection's: breaking one direction breaks the other.
  up.onBreak(() => down.break(up.brokenBy));
  down.onBreak(() => up.break(down.brokenBy));
  const limits = { window, segmentSize };
  const client = new SimulatedTcpStream(
    up,
    down,
    { local: clientAddress, remote: serverAddress },
    limits,
  );
  const server = new SimulatedTcpStream(
    down,
    up,
    { local: serverAddress, remote: clientAddress },
    limits,
  );
  return [client, server];
}
