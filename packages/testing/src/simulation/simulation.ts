/**
 * A simulated network of hosts on one deterministic clock, in the spirit of
 * Tokio's turmoil: each host is a task tree started from a factory, clients
 * are hosts whose return ends the simulation, and unmodified @weft/net code
 * (`openTcpStream`, `openTcpListeners`, `serveTcp`, `serveHttp`) talks over
 * simulated TCP with latency and faults, and `openUdpSocket` over simulated
 * UDP (loss, duplication, reordering) — on a `MockClock`, under a
 * `DeterministicScheduler`, with no real socket.
 *
 * ```ts
 * const sim = new Simulation({ seed: 7, latency: 2 });
 * sim.host("server", () => serveTcp(echo, 7000));
 * sim.client("client", async () => {
 *   const stream = await openTcpStream("server", 7000);
 *   …
 * });
 * await sim.run();
 * ```
 */
import {
  CancelScope,
  currentTime,
  Event,
  type Instrument,
  openNursery,
  run,
  sleepUntil,
} from "@weft/core";
import {
  checkArray,
  checkCount,
  checkFunction,
  checkOptionalBoolean,
  checkOptionsObject,
  describeValue,
  isInstance,
} from "@weft/core/validate";
import { setCustomHostnameResolver, setCustomSocketFactory } from "@weft/net";
import { DeterministicScheduler } from "../deterministic-scheduler.ts";
import { MockClock } from "../mock-clock.ts";
import { seededRandom } from "../seeded-random.ts";
import { checkFaultPlan, type Fault, type FaultPlan, hostsOf } from "./fault-plan.ts";
import { hostStorage, SimulatedHost } from "./simulated-host.ts";
import { checkLatency, checkProbability, type Latency } from "./simulated-link.ts";
import { type PathConfig, SimulatedNetwork } from "./simulated-network.ts";

/**
 * How the network behaves on a path: the simulation-wide defaults
 * ({@link SimulationOptions}) or one path's ({@link Simulation.link}).
 */
export interface LinkOptions {
  /** Latency of a hop, in ms, or a distribution drawn from the seeded randomness (default 1). */
  latency?: Latency;
  /**
   * The probability, in [0, 1), that a packet is lost (default 0). A lost
   * datagram is gone (UDP); a lost TCP segment is retransmitted and arrives
   * `RETRANSMISSION_TIMEOUT` (200) ms later per loss, still in order.
   */
  loss?: number;
  /** The probability, in [0, 1], that a datagram arrives twice (default 0; TCP: no effect). */
  duplicate?: number;
  /**
   * The probability, in [0, 1], that a datagram is held back by an extra
   * random delay of up to twice its latency (at least 1 ms), so that later
   * ones may overtake it (default 0; TCP: no effect, it delivers in order).
   * A latency function reorders datagrams by itself: each draws its own.
   */
  reorder?: number;
}

/** Options of {@link Simulation.link}. */
export interface LinkPathOptions extends LinkOptions {
  /** Configure only `a → b` (default: both directions). */
  oneWay?: boolean;
}

/** Checks a `LinkOptions` object; returns its defined fields. */
function checkLinkOptions(name: string, options: LinkOptions): Partial<PathConfig> {
  checkOptionsObject(name, options);
  const config: { -readonly [K in keyof PathConfig]?: PathConfig[K] } = {};
  if (options.latency !== undefined) {
    checkLatency(`${name}.latency`, options.latency);
    config.latency = options.latency;
  }
  if (options.loss !== undefined) {
    checkProbability(`${name}.loss`, options.loss, { below1: true });
    config.loss = options.loss;
  }
  if (options.duplicate !== undefined) {
    checkProbability(`${name}.duplicate`, options.duplicate);
    config.duplicate = options.duplicate;
  }
  if (options.reorder !== undefined) {
    checkProbability(`${name}.reorder`, options.reorder);
    config.reorder = options.reorder;
  }
  return config;
}

/** Options of a {@link Simulation}: its seed, scheduler and faults, and every path's defaults. */
export interface SimulationOptions extends LinkOptions {
  /** Seeds the scheduler and every random draw of the network (default 1). */
  seed?: number;
  /**
   * The scheduler of the run (default: a `DeterministicScheduler` seeded with
   * `seed`); pass one from `schedules()` to explore and shrink interleavings.
   */
  scheduler?: DeterministicScheduler;
  /** Faults to strike at their times (see `faultPlans`). */
  faults?: FaultPlan;
  /**
   * Instruments of the run (`RunOptions.instruments`), for example a
   * `CancellationInjector` that cancels scopes of the hosts' code.
   */
  instruments?: readonly Instrument[];
}

/** What the simulated network holds: see {@link Simulation.resourcesLeft}. */
export interface NetworkResources {
  /** Connections one of whose ends was never closed (counted once per host). */
  readonly connections: number;
  /** The links of those connections. */
  readonly links: number;
  /** The local ports those connections hold. */
  readonly connectionPorts: number;
}

/** Seeds are 32-bit: larger ones would be cut down to the same runs. */
const MAX_SEED = 0xffff_ffff;

/** Host addresses are 10.0.X.Y with X in 0..255 and Y in 1..254. */
const MAX_HOSTS = 256 * 254;

/** `options.oneWay` of partition and hold, checked. */
function checkOneWay(options: { oneWay?: boolean }): boolean {
  checkOptionsObject("options", options);
  if (options === undefined) return false;
  checkOptionalBoolean("options.oneWay", options.oneWay);
  return options.oneWay === true;
}

/**
 * A simulated network of hosts and clients on one deterministic clock (see
 * the module comment): add hosts, configure paths with `link`, `run()`, and
 * strike faults (`crash`, `bounce`, `partition`/`repair`, `hold`/`release`)
 * from the hosts' code or with a fault plan.
 */
export class Simulation {
  readonly #hosts = new Map<string, SimulatedHost>();
  readonly #seed: number;
  readonly #defaults: PathConfig;
  /** `link()` overrides by "from→to". */
  readonly #links = new Map<string, Partial<PathConfig>>();
  readonly #scheduler: DeterministicScheduler | null;
  readonly #faults: readonly Fault[];
  readonly #instruments: readonly Instrument[];
  #network: SimulatedNetwork | null = null;
  #left: NetworkResources | null = null;
  #running = false;
  #trace: string[] = [];

  /**
   * What the last run did, in order: connections, every segment delivered
   * (time, link, kind, size), every datagram delivered, lost, duplicated or
   * dropped, crashes, bounces, partitions, holds, and at the end the
   * scheduler's choices — the same seed gives the same trace, line for line
   * (see {@link checkDeterminism}).
   */
  get trace(): readonly string[] {
    return this.#trace;
  }

  /**
   * What the network still held when the latest run ended (`null` before
   * any run): connections one of whose ends was never closed (counted once
   * per host), their links and local ports. All 0 when every program closed
   * every stream it opened — a socket that outlives `run()` shows here.
   */
  get resourcesLeft(): NetworkResources | null {
    return this.#left;
  }

  constructor(options: SimulationOptions = {}) {
    checkOptionsObject("options", options);
    this.#seed = options.seed ?? 1;
    checkCount("options.seed", this.#seed);
    if (this.#seed > MAX_SEED) {
      throw new RangeError(`options.seed must be an integer in 0..${MAX_SEED}, got ${this.#seed}`);
    }
    this.#defaults = {
      latency: 1,
      loss: 0,
      duplicate: 0,
      reorder: 0,
      ...checkLinkOptions("options", options),
    };
    if (options.scheduler !== undefined && !isInstance(options.scheduler, DeterministicScheduler)) {
      throw new TypeError("options.scheduler must be a DeterministicScheduler");
    }
    this.#scheduler = options.scheduler ?? null;
    this.#faults = checkFaultPlan("options.faults", options.faults ?? []);
    const instruments = options.instruments ?? [];
    checkArray("options.instruments", instruments);
    for (const instrument of instruments) {
      if (typeof instrument !== "object" || instrument === null)
        throw new TypeError("each of options.instruments must be an object with hook methods");
    }
    this.#instruments = [...instruments];
  }

  #add(name: string, factory: () => Promise<unknown>, isClient: boolean): void {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`name must be a non-empty string, got ${describeValue(name)}`);
    }
    checkFunction(isClient ? "fn" : "factory", factory);
    if (this.#hosts.has(name)) throw new Error(`there is already a host named ${name}`);
    if (this.#running) throw new Error("hosts must be added before run()");
    const index = this.#hosts.size;
    if (index >= MAX_HOSTS) throw new RangeError(`a simulation has at most ${MAX_HOSTS} hosts`);
    // 10.0.0.1 to 10.0.0.254, then 10.0.1.1 …: never a network or broadcast address.
    const address = `10.0.${Math.floor(index / 254)}.${(index % 254) + 1}`;
    this.#hosts.set(name, new SimulatedHost(name, address, factory, isClient));
  }

  /** A host: `factory` runs as its task tree until the simulation ends (or it crashes). */
  host(name: string, factory: () => Promise<unknown>): void {
    this.#add(name, factory, false);
  }

  /** A client: a host whose `fn` returning ends the simulation once every client has. */
  client(name: string, fn: () => Promise<unknown>): void {
    this.#add(name, fn, true);
  }

  /** The host `name` names (`argument` is the parameter, for the messages). */
  #get(name: string, argument = "name"): SimulatedHost {
    if (typeof name !== "string") {
      throw new TypeError(`${argument} must be a host name (a string), got ${describeValue(name)}`);
    }
    const host = this.#hosts.get(name);
    if (host === undefined) throw new TypeError(`no host named ${JSON.stringify(name)}`);
    return host;
  }

  #networkNow(): SimulatedNetwork {
    if (this.#network === null) throw new Error("the simulation is not running");
    return this.#network;
  }

  /** Crashes `name`: its connections are reset, its listeners vanish, its tasks are cancelled. */
  crash(name: string): void {
    const host = this.#get(name);
    this.#networkNow();
    this.#note(`crash ${name}`);
    host.crash();
  }

  #note(event: string): void {
    this.#trace.push(`${this.#running ? currentTime() : "-"} ${event}`);
  }

  /** Crashes `name` (if up) and starts its factory again. */
  bounce(name: string): void {
    const host = this.#get(name);
    this.#networkNow();
    this.#note(`bounce ${name}`);
    host.crash(); // also a host whose factory returned: its sockets go
    host.restart.set();
  }

  /**
   * Partitions the path between two hosts (one way: only `a → b`): TCP
   * segments in flight are held (and retransmitted after the repair),
   * datagrams are lost, connects wait.
   */
  partition(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    const [from, to] = this.#pair(a, b);
    const oneWay = checkOneWay(options);
    const network = this.#networkNow();
    this.#note(`partition ${a} ${oneWay ? "→" : "↔"} ${b}`);
    network.partition(from, to, oneWay);
  }

  /** Repairs a partition between two hosts, both ways. */
  repair(a: string, b: string): void {
    const [from, to] = this.#pair(a, b);
    const network = this.#networkNow();
    this.#note(`repair ${a} ↔ ${b}`);
    network.repair(from, to);
  }

  /** Two different hosts by name (a `TypeError` for an unknown name or the same one twice). */
  #pair(a: string, b: string): [SimulatedHost, SimulatedHost] {
    const pair: [SimulatedHost, SimulatedHost] = [this.#get(a, "a"), this.#get(b, "b")];
    if (a === b)
      throw new TypeError(`a path joins two different hosts, got ${JSON.stringify(a)} twice`);
    return pair;
  }

  /**
   * Holds the path between two hosts (one way: only `a → b`), as turmoil's
   * `hold`: TCP segments and datagrams in flight, and those sent meanwhile,
   * stay in the network, and connects wait, until {@link release}.
   */
  hold(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    const [from, to] = this.#pair(a, b);
    const oneWay = checkOneWay(options);
    const network = this.#networkNow();
    this.#note(`hold ${a} ${oneWay ? "→" : "↔"} ${b}`);
    network.hold(from, to, oneWay);
  }

  /**
   * Releases what {@link hold} held between two hosts, both ways: each held
   * segment or datagram arrives at its own arrival time, or at once if that
   * has passed (TCP segments in order).
   */
  release(a: string, b: string): void {
    const [from, to] = this.#pair(a, b);
    const network = this.#networkNow();
    this.#note(`release ${a} ↔ ${b}`);
    network.release(from, to);
  }

  /**
   * Configures the path between two hosts (both directions, or only `a → b`
   * with `oneWay`), overriding the simulation's {@link SimulationOptions}
   * field by field; a later call overrides again. May be called before
   * `run()` or during it: TCP connections opened afterwards and datagrams sent
   * afterwards follow it (an open connection keeps its links' settings).
   *
   * ```ts
   * sim.link("client", "server", { latency: 50, loss: 0.1 });
   * ```
   */
  link(a: string, b: string, options: LinkPathOptions): void {
    if (options === undefined) throw new TypeError("options must be an object, got undefined");
    const config = checkLinkOptions("options", options);
    checkOptionalBoolean("options.oneWay", options.oneWay);
    this.#pair(a, b);
    const keys = options.oneWay === true ? [`${a}→${b}`] : [`${a}→${b}`, `${b}→${a}`];
    for (const key of keys) this.#links.set(key, { ...this.#links.get(key), ...config });
  }

  /**
   * Runs the simulation on a fresh `MockClock` under a `DeterministicScheduler`
   * seeded with `seed`: every host starts, and the simulation ends when every
   * client has returned (the hosts are then cancelled). Rejects with the first
   * error of a client, or of a host that failed other than by a crash.
   */
  async run(): Promise<void> {
    if (this.#running) throw new Error("the simulation is already running");
    for (const fault of this.#faults) for (const name of hostsOf(fault)) this.#get(name);
    this.#running = true;
    this.#trace = [];
    for (const host of this.#hosts.values()) host.reset();
    const scheduler = this.#scheduler ?? new DeterministicScheduler({ seed: this.#seed });
    const network = new SimulatedNetwork(
      this.#hosts,
      this.#defaults,
      this.#links,
      seededRandom(this.#seed),
      this.#trace,
    );
    this.#network = network;
    try {
      await run(
        async () => {
          setCustomSocketFactory(network);
          setCustomHostnameResolver(network);
          await openNursery(async (everything) => {
            network.attach(everything);
            const hosts = [...this.#hosts.values()];
            for (const host of hosts.filter((h) => !h.isClient)) {
              everything.startSoon(() => this.#runHost(host), { name: `host ${host.name}` });
            }
            if (this.#faults.length > 0) {
              everything.startSoon(() => this.#strike(this.#faults), { name: "faults" });
            }
            await openNursery(async (clients) => {
              for (const host of hosts.filter((h) => h.isClient)) {
                clients.startSoon(() => this.#runHost(host), { name: `client ${host.name}` });
              }
            });
            everything.cancelScope.cancel("every client has finished");
          });
        },
        {
          clock: new MockClock({ autojumpThreshold: 0 }),
          scheduler,
          instruments: [...this.#instruments],
          handleSignals: false,
          // Only simulated I/O: a task awaiting a non-weft promise that no
          // task can settle is a deadlock, not a silent hang.
          closedWorld: true,
        },
      );
    } finally {
      this.#trace.push(`scheduler choices: ${scheduler.choices.join(",")}`);
      this.#left = network.statistics();
      this.#network = null;
      this.#running = false;
    }
  }

  /** Strikes each fault of the plan at its time. */
  async #strike(plan: FaultPlan): Promise<void> {
    for (const fault of plan) {
      await sleepUntil(fault.at);
      switch (fault.kind) {
        case "crash":
          this.crash(fault.host);
          break;
        case "bounce":
          this.bounce(fault.host);
          break;
        case "partition":
          this.partition(fault.hosts[0], fault.hosts[1]);
          break;
        case "repair":
          this.repair(fault.hosts[0], fault.hosts[1]);
          break;
        case "hold":
          this.hold(fault.hosts[0], fault.hosts[1]);
          break;
        case "release":
          this.release(fault.hosts[0], fault.hosts[1]);
          break;
      }
    }
  }

  /** One host's lives: its factory, and again after each bounce. */
  async #runHost(host: SimulatedHost): Promise<void> {
    while (true) {
      const scope = new CancelScope();
      host.scope = scope;
      const incarnation = host.startIncarnation();
      try {
        await scope.run(() => hostStorage.run(incarnation, host.factory));
      } finally {
        host.scope = null;
      }
      // A client ends when it returns or crashes (unless bounced); a host
      // whose factory returned, or that crashed, waits for a bounce.
      if (host.isClient && !host.restart.isSet()) return;
      await host.restart.wait();
      host.restart = new Event();
    }
  }
}
