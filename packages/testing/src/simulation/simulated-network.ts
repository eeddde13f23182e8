/**
 * The simulation as @weft/net sees it: a hostname resolver (host names to
 * their 10.0.0.N addresses) and a socket factory that connects and listens on
 * simulated hosts, installed for the run with `setCustomHostnameResolver` /
 * `setCustomSocketFactory`. Unmodified code using `openTcpStream`,
 * `openTcpListeners`, `serveTcp` or `serveHttp` then runs on it.
 */
import { checkpoint, currentTime, Event } from "@weft/core";
import type { HalfCloseableStream } from "@weft/core/streams";
import type { FactoryListener, HostnameResolver, ResolvedAddress, SocketFactory } from "@weft/net";
import { currentHost, type Resettable, type SimulatedHost } from "./simulated-host.ts";
import { type Latency, SimulatedLink } from "./simulated-link.ts";
import { SimulatedListener } from "./simulated-listener.ts";
import { simulatedTcpPair } from "./simulated-tcp-stream.ts";

/** An error like the one Node gives, with its code. */
function systemError(message: string, code: string): Error {
  return Object.assign(new Error(`${message} (simulated)`), { code });
}

/** The two links between a pair of hosts, one per direction, shared by their connections' faults. */
interface Path {
  partitioned: boolean;
  repaired: Event;
  readonly links: Set<SimulatedLink>;
}

export class SimulatedNetwork implements SocketFactory, HostnameResolver {
  readonly #hosts: Map<string, SimulatedHost>;
  readonly #latency: Latency;
  readonly #random: () => number;
  /** Paths by "from→to" (directed: one-way partitions). */
  readonly #paths = new Map<string, Path>();

  /** What happened on the network, in order: the run's trace (see Simulation.trace). */
  readonly #trace: string[];

  constructor(
    hosts: Map<string, SimulatedHost>,
    latency: Latency,
    random: () => number,
    trace: string[],
  ) {
    this.#hosts = hosts;
    this.#latency = latency;
    this.#random = random;
    this.#trace = trace;
  }

  #byAddress(address: string): SimulatedHost | undefined {
    for (const host of this.#hosts.values()) if (host.address === address) return host;
    return undefined;
  }

  #path(from: SimulatedHost, to: SimulatedHost): Path {
    const key = `${from.name}→${to.name}`;
    let path = this.#paths.get(key);
    if (path === undefined) {
      path = { partitioned: false, repaired: new Event(), links: new Set() };
      this.#paths.set(key, path);
    }
    return path;
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
        const there = this.#path(from, to);
        const back = this.#path(to, from);
        const down = there.partitioned ? there : back.partitioned ? back : null;
        if (down === null) break;
        await down.repaired.wait();
      }
    } else {
      await checkpoint();
    }
    const listener = to?.up === true ? to.listeners.get(address.port) : undefined;
    if (to === undefined || listener === undefined) {
      throw systemError(`connect ECONNREFUSED ${target}`, "ECONNREFUSED");
    }
    const up = this.#link(from, to);
    const down = this.#link(to, from);
    const [client, server] = simulatedTcpPair({
      clientToServer: up,
      serverToClient: down,
      clientAddress: { family: 4, address: from.address, port: from.ephemeralPort() },
      serverAddress: { family: 4, address: to.address, port: address.port },
    });
    const connection: Resettable = {
      reset(error) {
        up.break(error);
        down.break(error);
      },
    };
    from.connections.add(connection);
    to.connections.add(connection);
    this.#trace.push(`${currentTime()} connect ${from.name} → ${to.name}:${address.port}`);
    listener.deliver(server);
    return client;
  }

  /** A new link from one host to another, under their path's faults. */
  #link(from: SimulatedHost, to: SimulatedHost): SimulatedLink {
    const path = this.#path(from, to);
    const trace = this.#trace;
    const link = new SimulatedLink({
      latency: this.#latency,
      random: this.#random,
      name: `${from.name} → ${to.name}`,
      onDelivery: (d) =>
        trace.push(`${d.arrivedAt} ${d.link} ${d.kind} ${d.length} (sent ${d.sentAt})`),
    });
    if (path.partitioned) link.partition();
    path.links.add(link);
    link.onBreak(() => path.links.delete(link));
    return link;
  }

  async listen(port: number, options: { host?: string }): Promise<FactoryListener[]> {
    await checkpoint();
    const host = currentHost("openTcpListeners()");
    if (options.host !== undefined && options.host !== host.address && options.host !== host.name) {
      if (!["0.0.0.0", "::", "localhost", "127.0.0.1"].includes(options.host)) {
        throw systemError(`listen EADDRNOTAVAIL ${options.host}:${port}`, "EADDRNOTAVAIL");
      }
    }
    const bound = port === 0 ? host.ephemeralPort() : port;
    if (host.listeners.has(bound)) {
      throw systemError(`listen EADDRINUSE ${host.address}:${bound}`, "EADDRINUSE");
    }
    const listener = new SimulatedListener({ family: 4, address: host.address, port: bound }, () =>
      host.listeners.delete(bound),
    );
    host.listeners.set(bound, listener);
    return [listener];
  }

  /** Partitions `a → b` (and `b → a` unless `oneWay`): segments are held, connects wait. */
  partition(a: SimulatedHost, b: SimulatedHost, oneWay: boolean): void {
    for (const [from, to] of oneWay
      ? [[a, b]]
      : [
          [a, b],
          [b, a],
        ]) {
      const path = this.#path(from!, to!);
      path.partitioned = true;
      for (const link of path.links) link.partition();
    }
  }

  /** Repairs what `partition` did; held segments go on. */
  repair(a: SimulatedHost, b: SimulatedHost): void {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ]) {
      const path = this.#path(from!, to!);
      if (!path.partitioned) continue;
      path.partitioned = false;
      for (const link of path.links) link.repair();
      path.repaired.set();
      path.repaired = new Event();
    }
  }
}
