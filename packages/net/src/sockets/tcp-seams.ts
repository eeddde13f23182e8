/**
 * The run-scoped seams `openTcpStream` goes through: a hostname resolver (also
 * used by `UdpSocket` to resolve names) and a socket factory. By default they are Node's DNS lookup and `net.connect`; a test
 * installs fakes with `setCustomHostnameResolver` / `setCustomSocketFactory` to
 * drive Happy Eyeballs on a `MockClock` (Trio's `set_custom_hostname_resolver` /
 * `set_custom_socket_factory`). The setting belongs to the current run, so
 * concurrent runs (tests in one process) never see each other's fakes.
 */
import * as dns from "node:dns";
import * as net from "node:net";
import { cancellable, isCancelled, lowlevel } from "@weft/core";
import type { HalfCloseableStream, Listener } from "@weft/core/streams";
import { checkMethods, describeValue } from "@weft/core/validate";
import { codeSuffix } from "../host/error-codes.ts";
import { waitForEvent } from "../host/io-wait.ts";
import { SocketStream } from "./socket-stream.ts";

/** One resolved address of a host. */
export interface ResolvedAddress {
  /** IPv4 or IPv6. */
  family: 4 | 6;
  /** The numeric IP address. */
  address: string;
  /** The port to connect to. */
  port: number;
}

/** Resolves a host name to addresses, in the order they should be tried. */
export interface HostnameResolver {
  /** The addresses of `host` (with `port`), in the order they should be tried. */
  getaddrinfo(host: string, port: number): Promise<ResolvedAddress[]>;
}

/** A listener a custom socket factory opens: what `openTcpListeners` hands out. */
export interface FactoryListener extends Listener<HalfCloseableStream> {
  /** The address it listens on (port 0 asked: the port it got). */
  readonly localAddress: {
    /** IPv4, IPv6 or a Unix socket. */
    family: 4 | 6 | "unix";
    /** The IP address, or the Unix socket's path. */
    address: string;
    /** The port (0 for a Unix socket). */
    port: number;
  };
}

/**
 * Opens connections (and, optionally, listeners) for the current run. A
 * simulated network (`@weft/testing/simulation`) implements both, so that
 * unmodified code using `openTcpStream`, `openTcpListeners`, `serveTcp` and
 * `serveHttp` runs on it.
 */
export interface SocketFactory {
  /** Connects to `address` (from `options.localAddress`, when given) and returns the stream. */
  connect(
    address: ResolvedAddress,
    options: { localAddress?: string },
  ): Promise<HalfCloseableStream>;
  /**
   * Opens the listeners `openTcpListeners(port, { host })` asks for (absent:
   * `openTcpListeners` listens with Node, whatever the factory).
   */
  listen?(port: number, options: { host?: string; backlog: number }): Promise<FactoryListener[]>;
  /**
   * Binds the UDP socket `openUdpSocket(options)` asks for (absent:
   * `openUdpSocket` binds a Node socket, whatever the factory). The result
   * must be bound; `UdpSocket` wraps it.
   */
  bindUdp?(options: BindUdpOptions): Promise<DatagramSocket>;
}

/** What `openUdpSocket` asks a custom factory's `bindUdp` for (checked already). */
export interface BindUdpOptions {
  /** IPv4 or IPv6. */
  family: 4 | 6;
  /** The local address (absent: every interface of the family). */
  address?: string;
  /** The local port (0: any free one). */
  port: number;
  /** Whether other sockets may bind the same address and port (`SO_REUSEADDR`). */
  reuseAddress: boolean;
}

/** A datagram's source (or a socket's address) as `node:dgram` reports it. */
export interface DatagramAddressInfo {
  /** `"IPv4"` or `"IPv6"`. */
  family: string;
  /** The IP address. */
  address: string;
  /** The port. */
  port: number;
}

/**
 * The part of `node:dgram`'s `Socket` that `UdpSocket` uses: a `dgram.Socket`
 * is one, and a simulated network (`SocketFactory.bindUdp`) returns its own.
 * Callbacks may be called synchronously (Node never does). `address()` throws
 * while unbound; `remoteAddress()` throws while not connected. Received
 * datagrams are `'message'` events; `'error'` is a receive error; `'close'`
 * means the socket was closed.
 */
export interface DatagramSocket {
  /** The socket's own address; throws while unbound. */
  address(): DatagramAddressInfo;
  /** The connected peer's address; throws while not connected. */
  remoteAddress(): DatagramAddressInfo;
  /** Calls `listener` with each received datagram and its source. */
  on(event: "message", listener: (msg: Buffer, rinfo: DatagramAddressInfo) => void): unknown;
  /** Calls `listener` with a receive error. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Calls `listener` once the socket is closed. */
  on(event: "close", listener: () => void): unknown;
  /** Sends to the connected peer. */
  send(msg: Buffer, callback: (error: Error | null) => void): void;
  /** Sends to `address`:`port`. */
  send(msg: Buffer, port: number, address: string, callback: (error: Error | null) => void): void;
  /** Connects the socket to `address`:`port`: sends go there, and only its datagrams arrive. */
  connect(port: number, address: string, callback: (error?: Error | null) => void): void;
  /** Closes the socket; throws if it is closed already. */
  close(): void;
  /**
   * True if the socket's events and callbacks only ever come from code
   * running in the weft run itself (a simulated network's tasks), never from
   * I/O outside it. `UdpSocket`'s waits on it are then ordinary waits, not I/O
   * waits, so a run in which every task waits (for a reply that was lost,
   * say) is reported as a deadlock instead of hanging. Absent: false.
   */
  readonly eventsFromRun?: boolean;
}

/** Each run's resolver and factory; `null`: Node's own. */
const customResolver = new lowlevel.RunVar<HostnameResolver | null>("hostname resolver", null);
const customFactory = new lowlevel.RunVar<SocketFactory | null>("socket factory", null);

function checkImplements(value: unknown, name: string, method: string): void {
  if (value === null) return;
  checkMethods(name, value, [method], `null or an object with a ${method}() method`);
}

/**
 * Makes `openTcpStream` resolve host names with `resolver` for the rest of the
 * current run (`null` restores Node's resolver). Numeric addresses are never
 * passed to a resolver.
 */
export function setCustomHostnameResolver(resolver: HostnameResolver | null): void {
  checkImplements(resolver, "resolver", "getaddrinfo");
  customResolver.set(resolver);
}

/**
 * Makes `openTcpStream` connect with `factory` for the rest of the current run
 * (`null` restores `net.connect`).
 */
export function setCustomSocketFactory(factory: SocketFactory | null): void {
  checkImplements(factory, "factory", "connect");
  for (const method of ["listen", "bindUdp"] as const) {
    const value = factory?.[method];
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(
        `factory.${method} must be a function if present, got ${describeValue(value)}`,
      );
    }
  }
  customFactory.set(factory);
}

/** Node's resolver: `dns.lookup` with every address, in the system's order. */
const nodeResolver: HostnameResolver = {
  async getaddrinfo(host, port) {
    const found = await cancellable(dns.promises.lookup(host, { all: true, order: "verbatim" }));
    return found.map((a) => ({ family: a.family === 6 ? 6 : 4, address: a.address, port }));
  },
};

/** `net.connect` to one address; cancellation destroys the half-open socket. */
const nodeSocketFactory: SocketFactory = {
  async connect(address, options) {
    const cancelled = lowlevel.cancelPoint("connect()");
    if (cancelled !== null) await cancelled; // a schedule point, then Cancelled
    const socket = net.connect({
      host: address.address,
      port: address.port,
      family: address.family,
      allowHalfOpen: true,
      noDelay: true,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    });
    try {
      await waitForEvent(
        socket,
        "connect",
        `connect(${formatHostPort(address.address, address.port)})`,
      );
    } catch (error) {
      socket.destroy();
      if (isCancelled(error)) throw error;
      throw new Error(
        `could not connect to ${formatHostPort(address.address, address.port)}${codeSuffix(error)}`,
        { cause: error },
      );
    }
    return new SocketStream(socket);
  },
};

/** The resolver `openTcpStream` uses in the current run. */
export function currentHostnameResolver(): HostnameResolver {
  return customResolver.get() ?? nodeResolver;
}

/** The socket factory `openTcpStream` uses in the current run. */
export function currentSocketFactory(): SocketFactory {
  return customFactory.get() ?? nodeSocketFactory;
}

/** Whether the current run has a custom socket factory (then `fetch` goes through it too). */
export function hasCustomSocketFactory(): boolean {
  return customFactory.get() !== null;
}

/** The current run's custom factory, if it listens too (see `SocketFactory.listen`). */
export function customListeningFactory(): Required<SocketFactory> | null {
  const factory = customFactory.get();
  return factory?.listen === undefined ? null : (factory as Required<SocketFactory>);
}

/** The current run's custom factory, if it binds UDP sockets too (see `SocketFactory.bindUdp`). */
export function customDatagramFactory(): Pick<Required<SocketFactory>, "bindUdp"> | null {
  const factory = customFactory.get();
  return factory?.bindUdp === undefined ? null : (factory as Required<SocketFactory>);
}

/** `host:port`, with an IPv6 literal in brackets. */
export function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
