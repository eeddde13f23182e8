/**
 * One host of a simulation: a name, an address, and a factory whose task tree
 * *is* the host — crashing the host cancels that tree and resets its
 * connections; bouncing it runs the factory again.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type CancelScope, Event } from "@weft/core";
import type { SimulatedListener } from "./simulated-listener.ts";
import type { SimulatedUdpSocket } from "./simulated-udp-socket.ts";

/** A connection the simulation can reset when one of its hosts crashes. */
export interface Resettable {
  reset(error: Error): void;
}

/**
 * One life of a host, from a start of its factory to its crash. Its code
 * reaches the network only while it is alive: after a crash its `finally`
 * blocks may still run, and after a bounce a task it left behind (a system
 * task) must not talk for the new incarnation.
 */
export class Incarnation {
  readonly host: SimulatedHost;
  alive = true;

  constructor(host: SimulatedHost) {
    this.host = host;
  }
}

/**
 * Which incarnation of which host the running code belongs to. A host's
 * factory runs inside `hostStorage.run(incarnation, …)`, and weft children
 * start in their spawner's async context, so every task of the host's tree
 * knows its host and its life.
 */
export const hostStorage: AsyncLocalStorage<Incarnation> = new AsyncLocalStorage();

export class SimulatedHost {
  readonly name: string;
  /** Its IPv4 address on the simulated network (10.0.0.N). */
  readonly address: string;
  readonly factory: () => Promise<unknown>;
  /** Clients end the simulation when they return; hosts run until it ends. */
  readonly isClient: boolean;
  /** The scope of the running incarnation (`null` while down). */
  scope: CancelScope | null = null;
  /** How many times the factory has been started. */
  incarnations = 0;
  readonly listeners = new Map<number, SimulatedListener>();
  readonly connections = new Set<Resettable>();
  /** Bound UDP sockets by port. */
  readonly udpSockets = new Map<number, SimulatedUdpSocket>();
  /** Set when a bounce asks a crashed host to start again. */
  restart: Event = new Event();
  /** The current life (`null` before the first start). */
  incarnation: Incarnation | null = null;
  #nextPort = 49_152;

  constructor(name: string, address: string, factory: () => Promise<unknown>, isClient: boolean) {
    this.name = name;
    this.address = address;
    this.factory = factory;
    this.isClient = isClient;
  }

  get up(): boolean {
    return this.scope !== null;
  }

  /** Back to its state before any run (a Simulation can run again). */
  reset(): void {
    this.scope = null;
    this.incarnations = 0;
    this.listeners.clear();
    this.connections.clear();
    this.udpSockets.clear();
    this.restart = new Event();
    this.incarnation = null;
    this.#nextPort = 49_152;
  }

  /**
   * An ephemeral port (IANA's dynamic range 49152–65535, from the one after
   * the last handed out, wrapping around: a freed port is reused, after the
   * others) that no listener, UDP socket or live connection of this host uses
   * (`connectionPorts`: the local ports of its live connections, which the
   * network tracks). None free: an `EADDRNOTAVAIL` error, as Node's `call`
   * (`connect`, `listen`, `bind`) to `target` gets.
   */
  ephemeralPort(call: string, target: string, connectionPorts: ReadonlySet<number>): number {
    for (let tried = 0; tried < 65_536 - 49_152; tried++) {
      const port = this.#nextPort;
      this.#nextPort = port === 65_535 ? 49_152 : port + 1;
      const free =
        !this.listeners.has(port) && !this.udpSockets.has(port) && !connectionPorts.has(port);
      if (free) return port;
    }
    // Shaped like systemError's (system-error.ts).
    const message =
      `${call} EADDRNOTAVAIL ${target}: every ephemeral port of host ${JSON.stringify(this.name)} ` +
      "(49152–65535) is in use (simulated)";
    throw Object.assign(new Error(message), { code: "EADDRNOTAVAIL" });
  }

  /** Starts a new life: its code reaches the network until the next crash. */
  startIncarnation(): Incarnation {
    this.incarnations++;
    this.incarnation = new Incarnation(this);
    return this.incarnation;
  }

  /** The crash: the task tree cancelled, every connection reset, every listener and UDP socket gone. */
  crash(): void {
    if (this.incarnation !== null) this.incarnation.alive = false;
    // Cancel first: a task waiting on a socket is cancelled, as a crashed
    // process never sees its own sockets break; its peers see the resets.
    this.scope?.cancel(`host ${this.name} crashed`);
    const error = new Error(`host ${JSON.stringify(this.name)} crashed`);
    for (const connection of [...this.connections]) connection.reset(error);
    this.connections.clear();
    for (const listener of [...this.listeners.values()]) listener.closeNow();
    this.listeners.clear();
    for (const socket of [...this.udpSockets.values()]) socket.closeNow();
    this.udpSockets.clear();
  }

  toString(): string {
    return `<host ${JSON.stringify(this.name)} ${this.address}>`;
  }
}

/** The host of the calling task (in a life that has not crashed), or an error naming what needs one. */
export function currentHost(what: string): SimulatedHost {
  const incarnation = hostStorage.getStore();
  if (incarnation === undefined) {
    throw new Error(
      `${what}: not inside a simulated host (start it with sim.host() or sim.client())`,
    );
  }
  // A crashed life's code may still run (finally blocks, shielded ones, a
  // system task it left behind), but it has no network any more.
  const host = incarnation.host;
  if (!incarnation.alive) {
    throw Object.assign(
      new Error(`${what}: host ${JSON.stringify(host.name)} has crashed (simulated)`),
      {
        code: "ENETDOWN",
      },
    );
  }
  return host;
}
