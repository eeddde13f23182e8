/**
 * A simulated UDP socket: what the simulated network's `bindUdp` returns to
 * `openUdpSocket`, which wraps it in a `UdpSocket` as it wraps a
 * `dgram.Socket`. Sending hands the datagram to the network (which draws its
 * fate: latency, loss, duplication); the network emits `'message'` when one
 * arrives. Callbacks are called synchronously (`UdpSocket` allows that).
 */
import { EventEmitter } from "node:events";
import type { DatagramAddressInfo, DatagramSocket } from "@weft/net";
import { systemError } from "./system-error.ts";

/** The largest UDP payload over IPv4 (65535 − 8 − 20 bytes), as on a real network. */
const MAX_DATAGRAM = 65_507;

/** Where a simulated socket's datagrams go: the simulated network. */
export interface DatagramCarrier {
  sendDatagram(from: SimulatedUdpSocket, data: Uint8Array, port: number, address: string): void;
}

type Callback = (error: Error | null) => void;

/** What a socket needs of the host it is bound on (a `SimulatedHost`). */
export interface UdpSocketHost {
  readonly name: string;
  readonly address: string;
  /** The host's bound sockets by port; a closed socket removes itself. */
  readonly udpSockets: Map<number, SimulatedUdpSocket>;
}

/**
 * A UDP socket bound on a simulated host's address and port (IPv4 only): the
 * `DatagramSocket` that `openUdpSocket` wraps on a simulation. Closing it (or
 * a crash of its host) frees the port.
 */
export class SimulatedUdpSocket extends EventEmitter implements DatagramSocket {
  /** The host it is bound on. */
  readonly host: UdpSocketHost;
  /** The port it is bound to. */
  readonly port: number;
  /** Its datagrams come from the simulation's carrier task: a run where every task waits is a deadlock. */
  readonly eventsFromRun = true;
  readonly #carrier: DatagramCarrier;
  #remote: DatagramAddressInfo | null = null;
  #closed = false;

  constructor(host: UdpSocketHost, port: number, carrier: DatagramCarrier) {
    super();
    this.host = host;
    this.port = port;
    this.#carrier = carrier;
  }

  #checkRunning(): void {
    if (this.#closed) throw systemError("Not running", "ERR_SOCKET_DGRAM_NOT_RUNNING");
  }

  address(): DatagramAddressInfo {
    this.#checkRunning();
    return { family: "IPv4", address: this.host.address, port: this.port };
  }

  remoteAddress(): DatagramAddressInfo {
    if (this.#remote === null) {
      throw systemError("Not connected", "ERR_SOCKET_DGRAM_NOT_CONNECTED");
    }
    return { ...this.#remote };
  }

  send(
    msg: Buffer,
    portOrCallback: number | Callback,
    address?: string,
    callback?: Callback,
  ): void {
    this.#checkRunning();
    let port: number;
    let done: Callback;
    if (typeof portOrCallback === "function") {
      if (this.#remote === null)
        throw systemError("Not connected", "ERR_SOCKET_DGRAM_NOT_CONNECTED");
      port = this.#remote.port;
      address = this.#remote.address;
      done = portOrCallback;
    } else {
      port = portOrCallback;
      done = callback!;
    }
    if (msg.byteLength > MAX_DATAGRAM) {
      done(systemError(`send EMSGSIZE ${address}:${port}`, "EMSGSIZE"));
      return;
    }
    this.#carrier.sendDatagram(this, new Uint8Array(msg), port, address!);
    done(null);
  }

  connect(port: number, address: string, callback: (error?: Error | null) => void): void {
    this.#checkRunning();
    this.#remote = { family: "IPv4", address, port };
    callback(null);
  }

  close(): void {
    this.#checkRunning();
    this.closeNow();
  }

  /** Closes it (a crash does too): unbound, `'close'` emitted. Idempotent. */
  closeNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.host.udpSockets.get(this.port) === this) this.host.udpSockets.delete(this.port);
    this.emit("close");
  }

  /**
   * Hands an arrived datagram to the socket's owner; false if it was not taken
   * (closed, or connected to another peer: the kernel filters those out).
   */
  deliver(data: Uint8Array, from: DatagramAddressInfo): boolean {
    if (this.#closed) return false;
    const remote = this.#remote;
    if (remote !== null && (remote.address !== from.address || remote.port !== from.port)) {
      return false;
    }
    this.emit("message", Buffer.from(data), from);
    return true;
  }
}
