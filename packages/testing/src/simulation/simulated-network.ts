/**
 * The simulation as @weft/net sees it: a hostname resolver (host names to
 * their 10.0.0.N addresses) and a socket factory that connects, listens and
 * binds UDP sockets on simulated hosts, installed for the run with
 * `setCustomHostnameResolver` / `setCustomSocketFactory`. Unmodified code
 * using `openTcpStream`, `openTcpListeners`, `serveTcp`, `serveHttp` or
 * `openUdpSocket` then runs on it.
 *
 * Datagrams are carried by one task of the simulation (started with the first
 * UDP socket): each one's arrival time is computed when it is sent, and the
 * task sleeps on the run's clock until the next arrival, then emits it on the
 * bound socket. No real timer is involved.
 */
import { CancelScope, checkpoint, currentTime, Event, lowlevel, type Nursery } from "@weft/core";
import type { HalfCloseableStream } from "@weft/core/streams";
import type {
  BindUdpOptions,
  DatagramSocket,
  FactoryListener,
  HostnameResolver,
  ResolvedAddress,
  SocketFactory,
} from "@weft/net";
import { currentHost, hostStorage, type Resettable, type SimulatedHost } from "./simulated-host.ts";
import { type Latency, SimulatedLink, sampleLatency } from "./simulated-link.ts";
import { SimulatedListener } from "./simulated-listener.ts";
import { simulatedTcpPair } from "./simulated-tcp-stream.ts";
import { type DatagramCarrier, SimulatedUdpSocket } from "./simulated-udp-socket.ts";
import { systemError } from "./system-error.ts";

/**
 * The behaviour of the path from one host to another (see `Simulation.link`):
 * every field is set (the simulation's defaults, overridden per path).
 */
export interface PathConfig {
  readonly latency: Latency;
  readonly loss: number;
  readonly duplicate: number;
  readonly reorder: number;
}

/** A datagram in flight (or held). */
interface InFlight {
  readonly from: SimulatedHost;
  readonly fromPort: number;
  readonly to: SimulatedHost;
  readonly toPort: number;
  readonly data: Uint8Array;
  readonly sentAt: number;
  arriveAt: number;
  /** Breaks ties between equal arrival times: the order they were queued in. */
  order: number;
}

/** The links from one host to another (one direction), sharing its faults; and its held datagrams. */
interface Path {
  partitioned: boolean;
  held: boolean;
  /** Set (and replaced) whenever a partition is repaired or a hold released. */
  changed: Event;
  readonly links: Set<SimulatedLink>;
  heldDatagrams: InFlight[];
}

export class SimulatedNetwork implements SocketFactory, HostnameResolver, DatagramCarrier {
  readonly #hosts: Map<string, SimulatedHost>;
  readonly #defaults: PathConfig;
  /** Per-path overrides by "from→to" (`Simulation.link`), read when a path is used. */
  readonly #overrides: ReadonlyMap<string, Partial<PathConfig>>;
  readonly #random: () => number;
  /** Paths by "from→to" (directed: one-way partitions). */
  readonly #paths = new Map<string, Path>();
  /** The local ports of each host's live outgoing connections (for `ephemeralPort`). */
  readonly #connectionPorts = new Map<SimulatedHost, Set<number>>();

  /** What happened on the network, in order: the run's trace (see Simulation.trace). */
  readonly #trace: string[];

  /** Where the datagram carrier task is started (set by the simulation when it runs). */
  #nursery: Nursery | null = null;
  #carrying = false;
  /** Datagrams in flight, by arrival time (then queue order). */
  readonly #inFlight: InFlight[] = [];
  #queued = 0;
  /** The carrier's sleep until the next arrival; null while it delivers. */
  #carrierScope: CancelScope | null = null;
  readonly #carrierIdle = new lowlevel.ParkingLot("the next simulated datagram");

  constructor(
    hosts: Map<string, SimulatedHost>,
    defaults: PathConfig,
    overrides: ReadonlyMap<string, Partial<PathConfig>>,
    random: () => number,
    trace: string[],
  ) {
    this.#hosts = hosts;
    this.#defaults = defaults;
    this.#overrides = overrides;
    this.#random = random;
    this.#trace = trace;
  }

  /** Lets the network start its datagram carrier in `nursery` (the simulation's). */
  attach(nursery: Nursery): void {
    this.#nursery = nursery;
  }

  #byAddress(address: string): SimulatedHost | undefined {
    for (const host of this.#hosts.values()) if (host.address === address) return host;
    return undefined;
  }

  #path(from: SimulatedHost, to: SimulatedHost): Path {
    const key = `${from.name}→${to.name}`;
    let path = this.#paths.get(key);
    if (path === undefined) {
      path = {
        partitioned: false,
        held: false,
        changed: new Event(),
        links: new Set(),
        heldDatagrams: [],
      };
      this.#paths.set(key, path);
    }
    return path;
  }

  /** The path's configuration now: the defaults under its overrides. */
  #config(from: SimulatedHost, to: SimulatedHost): PathConfig {
    const override = this.#overrides.get(`${from.name}→${to.name}`);
    return override === undefined ? this.#defaults : { ...this.#defaults, ...override };
  }

  async getaddrinfo(host: string, port: number): Promise<ResolvedAddress[]> {
    await checkpoint();
    const found = this.#hosts.get(host);
    if (found === undefined) throw systemError(`getaddrinfo ENOTFOUND ${host}`, "ENOTFOUND");
    return [{ family: 4, address: found.address, port }];
  }

  async connect(address: ResolvedAddress): Promise<HalfCloseableStream> {
    const from = currentHost("connect()");
    const to = this.#byAddress(address.address);
    const target = `${address.address}:${address.port}`;
    // A partitioned path loses the SYN: the connect waits, as a real one does,
    // until the path is repaired (or the caller's timeout cancels it).
    if (to !== undefined) {
      while (true) {
        // Either direction lost: the handshake cannot complete. Wait for the
        // repair of the path that is down (one-way partitions included).
        // A held path holds the SYN (or its answer) until the release.
        const there = this.#path(from, to);
        const back = this.#path(to, from);
        const blocked = (path: Path) => path.partitioned || path.held;
        const down = blocked(there) ? there : blocked(back) ? back : null;
        if (down === null) break;
        await down.changed.wait();
      }
    } else {
      await checkpoint();
    }
    const listener = to?.up === true ? to.listeners.get(address.port) : undefined;
    if (to === undefined || listener === undefined) {
      throw systemError(`connect ECONNREFUSED ${target}`, "ECONNREFUSED");
    }
    const ports = this.#portsOf(from);
    const port = from.ephemeralPort("connect", target, ports);
    const up = this.#link(from, to);
    const down = this.#link(to, from);
    const [client, server] = simulatedTcpPair({
      clientToServer: up,
      serverToClient: down,
      clientAddress: { family: 4, address: from.address, port },
      serverAddress: { family: 4, address: to.address, port: address.port },
    });
    const connection: Resettable = {
      reset(error) {
        up.break(error);
        down.break(error);
      },
    };
    ports.add(port);
    from.connections.add(connection);
    to.connections.add(connection);
    // Once both ends have closed, or the connection was reset, nothing on it
    // can be observed any more: the hosts and paths forget it (a crash or a
    // partition no longer walks it) and its port is free again.
    let live = true;
    const forget = () => {
      if (!live) return;
      live = false;
      ports.delete(port);
      from.connections.delete(connection);
      to.connections.delete(connection);
      this.#path(from, to).links.delete(up);
      this.#path(to, from).links.delete(down);
    };
    let openEnds = 2;
    const endClosed = () => {
      if (--openEnds === 0) forget();
    };
    client.onClose(endClosed);
    server.onClose(endClosed);
    up.onBreak(forget);
    down.onBreak(forget);
    this.#trace.push(`${currentTime()} connect ${from.name} → ${to.name}:${address.port}`);
    listener.deliver(server);
    return client;
  }

  /** A new link from one host to another, under their path's faults. */
  #link(from: SimulatedHost, to: SimulatedHost): SimulatedLink {
    const path = this.#path(from, to);
    const config = this.#config(from, to);
    const trace = this.#trace;
    const link = new SimulatedLink({
      latency: config.latency,
      loss: config.loss,
      random: this.#random,
      name: `${from.name} → ${to.name}`,
      onDelivery: (d) =>
        trace.push(`${d.arrivedAt} ${d.link} ${d.kind} ${d.length} (sent ${d.sentAt})`),
    });
    if (path.partitioned) link.partition();
    if (path.held) link.hold();
    path.links.add(link);
    return link;
  }

  #portsOf(host: SimulatedHost): Set<number> {
    let ports = this.#connectionPorts.get(host);
    if (ports === undefined) {
      ports = new Set();
      this.#connectionPorts.set(host, ports);
    }
    return ports;
  }

  /**
   * @internal For tests: what the network still tracks — connections in
   * the hosts' sets (each counted once per host), links in the paths, and
   * local ports of live connections.
   */
  statistics(): { connections: number; links: number; connectionPorts: number } {
    let connections = 0;
    for (const host of this.#hosts.values()) connections += host.connections.size;
    let links = 0;
    for (const path of this.#paths.values()) links += path.links.size;
    let connectionPorts = 0;
    for (const ports of this.#connectionPorts.values()) connectionPorts += ports.size;
    return { connections, links, connectionPorts };
  }

  async listen(port: number, options: { host?: string }): Promise<FactoryListener[]> {
    await checkpoint();
    const host = currentHost("openTcpListeners()");
    checkLocalAddress(host, options.host, port, "listen");
    const bound =
      port === 0 ? host.ephemeralPort("listen", `${host.address}:0`, this.#portsOf(host)) : port;
    if (host.listeners.has(bound)) {
      throw systemError(`listen EADDRINUSE ${host.address}:${bound}`, "EADDRINUSE");
    }
    const listener = new SimulatedListener({ family: 4, address: host.address, port: bound }, () =>
      host.listeners.delete(bound),
    );
    host.listeners.set(bound, listener);
    return [listener];
  }

  /**
   * Partitions `a → b` (and `b → a` unless `oneWay`): segments are held (TCP
   * retransmits them after the repair), datagrams are lost, connects wait.
   */
  partition(a: SimulatedHost, b: SimulatedHost, oneWay: boolean): void {
    for (const path of this.#directions(a, b, oneWay)) {
      path.partitioned = true;
      for (const link of path.links) link.partition();
    }
  }

  /** Repairs what `partition` did, both ways; held segments go on. */
  repair(a: SimulatedHost, b: SimulatedHost): void {
    for (const path of this.#directions(a, b, false)) {
      if (!path.partitioned) continue;
      path.partitioned = false;
      for (const link of path.links) link.repair();
      this.#changed(path);
    }
  }

  /**
   * Holds `a → b` (and `b → a` unless `oneWay`): segments and datagrams stay in
   * the network, connects wait, until `release`.
   */
  hold(a: SimulatedHost, b: SimulatedHost, oneWay: boolean): void {
    for (const path of this.#directions(a, b, oneWay)) {
      path.held = true;
      for (const link of path.links) link.hold();
    }
  }

  /** Releases what `hold` held, both ways: everything held arrives (at once if it was due). */
  release(a: SimulatedHost, b: SimulatedHost): void {
    for (const path of this.#directions(a, b, false)) {
      if (!path.held) continue;
      path.held = false;
      for (const link of path.links) link.release();
      const now = currentTime();
      for (const datagram of path.heldDatagrams) this.#enqueue(datagram, now);
      path.heldDatagrams = [];
      this.#changed(path);
    }
  }

  /** The path `a → b`, and `b → a` unless `oneWay`. */
  #directions(a: SimulatedHost, b: SimulatedHost, oneWay: boolean): Path[] {
    return oneWay ? [this.#path(a, b)] : [this.#path(a, b), this.#path(b, a)];
  }

  #changed(path: Path): void {
    path.changed.set();
    path.changed = new Event();
  }

  // ---- UDP ------------------------------------------------------------------

  /**
   * Binds a UDP socket on the calling host (IPv4 only; port 0: an ephemeral
   * one). `reuseAddress` is not simulated: a port bound already is `EADDRINUSE`.
   */
  async bindUdp(options: BindUdpOptions): Promise<DatagramSocket> {
    await checkpoint();
    const host = currentHost("openUdpSocket()");
    const where = `${options.address ?? "::"}:${options.port}`;
    if (options.family === 6) {
      throw systemError(`bind EAFNOSUPPORT ${where}: the network is IPv4 only`, "EAFNOSUPPORT");
    }
    checkLocalAddress(host, options.address, options.port, "bind");
    const port =
      options.port === 0
        ? host.ephemeralPort("bind", `${host.address}:0`, this.#portsOf(host))
        : options.port;
    if (host.udpSockets.has(port)) {
      throw systemError(`bind EADDRINUSE ${host.address}:${port}`, "EADDRINUSE");
    }
    const socket = new SimulatedUdpSocket(host, port, this);
    host.udpSockets.set(port, socket);
    this.#startCarrier();
    return socket;
  }

  /** Sends a datagram: drawn lost, duplicated or delayed here, delivered by the carrier. */
  sendDatagram(socket: SimulatedUdpSocket, data: Uint8Array, port: number, address: string): void {
    const from = this.#hosts.get(socket.host.name)!;
    const now = currentTime();
    const loopback = address === "127.0.0.1" || address === "localhost";
    const to = loopback ? from : this.#byAddress(address);
    if (to === undefined) {
      this.#trace.push(
        `${now} udp ${from.name}:${socket.port} → ${address}:${port} ${data.length} dropped (no such host)`,
      );
      return;
    }
    const what = `udp ${from.name}:${socket.port} → ${to.name}:${port} ${data.length}`;
    const config = this.#config(from, to);
    if (this.#path(from, to).partitioned) {
      this.#trace.push(`${now} ${what} lost (partition)`);
      return;
    }
    const random = this.#random;
    if (config.loss > 0 && random() < config.loss) {
      this.#trace.push(`${now} ${what} lost`);
      return;
    }
    const copies = config.duplicate > 0 && random() < config.duplicate ? 2 : 1;
    if (copies === 2) this.#trace.push(`${now} ${what} duplicated`);
    for (let copy = 0; copy < copies; copy++) {
      let latency = sampleLatency(config.latency, random, `the path ${from.name} → ${to.name}`);
      if (config.reorder > 0 && random() < config.reorder) {
        latency += random() * 2 * Math.max(latency, 1);
      }
      const datagram: InFlight = {
        from,
        fromPort: socket.port,
        to,
        toPort: port,
        data,
        sentAt: now,
        arriveAt: now + latency,
        order: 0,
      };
      this.#enqueue(datagram, datagram.arriveAt);
    }
  }

  /** Queues `datagram` to arrive at `arriveAt`, waking the carrier if it is the next one. */
  #enqueue(datagram: InFlight, arriveAt: number): void {
    datagram.arriveAt = arriveAt;
    datagram.order = this.#queued++;
    const queue = this.#inFlight;
    // Binary search for the first later arrival: equal ones keep queue order.
    let low = 0;
    let high = queue.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (queue[mid]!.arriveAt <= arriveAt) low = mid + 1;
      else high = mid;
    }
    queue.splice(low, 0, datagram);
    const scope = this.#carrierScope;
    if (scope === null) return;
    if (arriveAt <= currentTime()) this.#carrierIdle.unparkAll();
    else if (arriveAt < scope.deadline) scope.deadline = arriveAt;
  }

  #startCarrier(): void {
    if (this.#carrying || this.#nursery === null) return;
    this.#carrying = true;
    const nursery = this.#nursery;
    // Outside any host: the carrier belongs to the network, not to who bound first.
    hostStorage.exit(() => nursery.startSoon(() => this.#carry(), { name: "simulated datagrams" }));
  }

  /** The carrier: delivers each datagram at its arrival time, sleeping in between. */
  async #carry(): Promise<void> {
    while (true) {
      const next = this.#inFlight[0];
      if (next !== undefined && next.arriveAt <= currentTime()) {
        this.#inFlight.shift();
        this.#arrive(next);
        continue;
      }
      const scope = new CancelScope({ deadline: next?.arriveAt ?? Infinity });
      this.#carrierScope = scope;
      try {
        await scope.run(() => this.#carrierIdle.park());
      } finally {
        this.#carrierScope = null;
      }
    }
  }

  /** A datagram reaches the far end of its path: lost, held, dropped or delivered. */
  #arrive(datagram: InFlight): void {
    const { from, to } = datagram;
    const now = currentTime();
    const what = `udp ${from.name}:${datagram.fromPort} → ${to.name}:${datagram.toPort} ${datagram.data.length}`;
    const path = this.#path(from, to);
    if (path.partitioned) {
      this.#trace.push(`${now} ${what} lost (partition)`);
      return;
    }
    if (path.held) {
      path.heldDatagrams.push(datagram);
      return;
    }
    const socket = to.udpSockets.get(datagram.toPort);
    const delivered =
      socket?.deliver(datagram.data, {
        family: "IPv4",
        address: from.address,
        port: datagram.fromPort,
      }) ?? false;
    this.#trace.push(
      `${now} ${what} ${delivered ? "delivered" : "dropped (no socket)"} (sent ${datagram.sentAt})`,
    );
  }
}

/**
 * Checks the local address a host listens or binds on: its own address or
 * name, a wildcard, or loopback; anything else is `EADDRNOTAVAIL`.
 */
function checkLocalAddress(
  host: SimulatedHost,
  address: string | undefined,
  port: number,
  what: string,
): void {
  if (address === undefined || address === host.address || address === host.name) return;
  if (!["0.0.0.0", "::", "localhost", "127.0.0.1"].includes(address)) {
    throw systemError(`${what} EADDRNOTAVAIL ${address}:${port}`, "EADDRNOTAVAIL");
  }
}
