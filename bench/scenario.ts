/**
 * The contract between the benchmark harness (bench/run.ts) and the
 * implementations (bench/impl/<impl>.ts). Every implementation module exports
 * `scenarios: Implementation`, mapping the scenarios it implements to a runner.
 *
 * A runner does the scenario's work once, idiomatically for its library, and
 * returns `{ check, measured }`:
 * - `check` — a number computed from the work actually done (a count or a sum);
 *   the harness compares it with `expectedCheck(name, size)`, so no
 *   implementation can skip work;
 * - `measured` — the quantity in the scenario's unit for THIS run, summed over
 *   its operations, measured by the runner itself so setup stays out of it
 *   (time: `performance.now()` differences in ms; memory: bytes from
 *   `process.memoryUsage().heapUsed` after `globalThis.gc()`). The harness
 *   divides by `operations(name, size)` to get the per-operation value.
 */

/** The scenario names (issue 6 fixes them). */
export const SCENARIO_NAMES = [
  "checkpoint",
  "spawn-join",
  "sleep-many",
  "cancel-many",
  "channel-unbuffered",
  "channel-buffered",
  "map-limit",
  "tcp-echo",
  "effection-recursion",
  "effection-events",
  "memory-per-task",
  "foreign-await",
  "http-hello",
  "simulation-pingpong",
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** The implementations, in table order. */
export const IMPL_NAMES = [
  "weft",
  "raw",
  "raw-context",
  "p-limit",
  "effection",
  "effect",
  "fastify",
] as const;

export type ImplName = (typeof IMPL_NAMES)[number];

/** Sizes of one scenario; `quick` is CI's smoke run (seconds), `full` the real one. */
export interface Size {
  /** checkpoint, foreign-await: tasks; spawn-join / sleep-many / cancel-many / memory-per-task: tasks;
   * channel-*: messages (round trips for unbuffered); map-limit: items;
   * tcp-echo: connections; effection-recursion / effection-events: depth (levels);
   * http-hello: requests per run. */
  readonly n: number;
  /** checkpoint: yields per task; tcp-echo: round trips per connection;
   * channel-buffered: buffer size; map-limit: concurrency; foreign-await: awaits per task;
   * effection-recursion / effection-events: repetitions of the whole structure;
   * http-hello: connections of the load generator. */
  readonly m: number;
}

export const SIZES: Record<ScenarioName, { full: Size; quick: Size }> = {
  checkpoint: { full: { n: 10_000, m: 10 }, quick: { n: 1_000, m: 10 } },
  "spawn-join": { full: { n: 100_000, m: 1 }, quick: { n: 5_000, m: 1 } },
  "sleep-many": { full: { n: 100_000, m: 1 }, quick: { n: 5_000, m: 1 } },
  "cancel-many": { full: { n: 100_000, m: 1 }, quick: { n: 5_000, m: 1 } },
  "channel-unbuffered": { full: { n: 20_000, m: 1 }, quick: { n: 1_000, m: 1 } },
  "channel-buffered": { full: { n: 200_000, m: 1024 }, quick: { n: 10_000, m: 1024 } },
  "map-limit": { full: { n: 10_000, m: 16 }, quick: { n: 1_000, m: 16 } },
  "tcp-echo": { full: { n: 100, m: 200 }, quick: { n: 20, m: 20 } },
  "effection-recursion": { full: { n: 100, m: 100 }, quick: { n: 100, m: 5 } },
  // m = 10 as Effection's own `--repeat` default: one Effection run takes ~0.25 s.
  "effection-events": { full: { n: 100, m: 10 }, quick: { n: 100, m: 2 } },
  "memory-per-task": { full: { n: 100_000, m: 1 }, quick: { n: 5_000, m: 1 } },
  "foreign-await": { full: { n: 1_000, m: 20 }, quick: { n: 200, m: 5 } },
  // At ~4,000 (weft) to ~15,000 (raw) requests/s on 2 cores: full 4-15 s per run, quick 0.3-1.3 s.
  "http-hello": { full: { n: 60_000, m: 50 }, quick: { n: 5_000, m: 50 } },
  "simulation-pingpong": { full: { n: 100_000, m: 1 }, quick: { n: 5_000, m: 1 } },
};

/** What one run of a scenario does, and what it is measured in (lower is better). */
export const UNITS: Record<ScenarioName, { unit: string; per: string }> = {
  checkpoint: { unit: "ns", per: "yield" },
  "spawn-join": { unit: "ns", per: "task" },
  "sleep-many": { unit: "ns", per: "task" },
  "cancel-many": { unit: "ns", per: "task" },
  "channel-unbuffered": { unit: "ns", per: "round trip" },
  "channel-buffered": { unit: "ns", per: "message" },
  "map-limit": { unit: "ns", per: "item" },
  "tcp-echo": { unit: "ns", per: "round trip" },
  "effection-recursion": { unit: "ns", per: "run" },
  "effection-events": { unit: "ns", per: "run" },
  "memory-per-task": { unit: "bytes", per: "task" },
  "foreign-await": { unit: "ns", per: "await" },
  "http-hello": { unit: "ns", per: "request" },
  "simulation-pingpong": { unit: "ns", per: "message" },
};

/** Operations a run performs: the per-operation value is `measured / operations`. */
export function operations(name: ScenarioName, size: Size): number {
  switch (name) {
    case "checkpoint":
    case "tcp-echo":
    case "foreign-await":
      return size.n * size.m;
    case "effection-recursion":
    case "effection-events":
      return size.m;
    case "simulation-pingpong":
      return 2 * size.n;
    default:
      return size.n;
  }
}

/**
 * The `check` every implementation must return:
 * - checkpoint: total yields done (n × m);
 * - spawn-join, sleep-many, cancel-many, memory-per-task: tasks that ran to their
 *   end / were cancelled and finished (n);
 * - channel-unbuffered: round trips (n); channel-buffered: the sum of the values
 *   0..n-1 received in order (the consumer adds `value` and checks order);
 * - map-limit: the sum of `i * 2` over the results, in input order (i = 0..n-1);
 * - tcp-echo: bytes echoed back (n × m × 64);
 * - effection-recursion: m × (n + 100), over m repetitions of Effection's
 *   recursion scenario (thefrontside/effection
 *   tasks/bench/scenarios/effection.recursion.ts), each a fresh top-level run
 *   of the runtime (`run()`; raw: a plain call): an operation / async function
 *   `recurse(depth)` calls `recurse(depth - 1)` directly (a nested call, no
 *   spawn) down to depth 1, which awaits an already-resolved promise 100 times
 *   in a row (Effection: `yield* call(() => Promise.resolve())`; async/await:
 *   `await Promise.resolve()`). Count 1 per `recurse` entered (n) and 1 per
 *   completed await (100);
 * - effection-events: m × n × 100, over m repetitions of Effection's events
 *   scenario (thefrontside/effection tasks/bench/scenarios/effection.events.ts),
 *   each a fresh top-level run: the root creates an EventTarget and starts
 *   (spawns) a chain of n listener tasks: level k listens for "foo" on its own
 *   EventTarget and, unless it is the last, starts level k + 1 with a new
 *   EventTarget and re-dispatches every event it receives to it (synchronously,
 *   from its handling of the event). The root then, 100 times, yields to the
 *   scheduler once and dispatches a "foo" Event on the first target; then it
 *   yields once more and cancels the chain (Effection: `task.halt()`; raw: an
 *   AbortController), waiting until every listener is removed. The yield is the
 *   implementation's `checkpoint` yield (weft: `checkpoint()`, raw and
 *   Effection: one resolved-promise microtask), not Effection's original
 *   `sleep(0)`, whose 101 timers of ≥ 1 ms would dominate the time. Count 1 per
 *   event received by a listener of the chain (all n levels see all 100).
 * - foreign-await: awaits done (n × m): n tasks, each m times awaiting a
 *   promise settled by a host callback (support/host-reply.ts, as a database
 *   client's reply) and then yielding to the scheduler (weft: `checkpoint()`;
 *   raw: `await null`; Effection: `call()` then its yield; Effect:
 *   `Effect.promise` then `Effect.yieldNow`). In weft every such await ends a
 *   step, seen only when the microtask queue drains: the costliest case for
 *   running steps one at a time.
 * - http-hello: correct responses (n): a server on 127.0.0.1 answers every
 *   GET with status 200 and the body "hello world"; a load generator in
 *   another process (support/http-client.ts: autocannon, closed loop,
 *   keep-alive, no pipelining) makes n requests over m connections and counts
 *   the 200s with that exact body. `measured` is the client's time from the
 *   start of the load to the last response, so ns/request is 1e9 / requests
 *   per second (throughput); p50 / p99 latencies come as `extras`.
 * - simulation-pingpong (weft only: no peer has a simulated network): round
 *   trips (n) of a 16-byte message between two hosts of a
 *   `@weft/testing/simulation` Simulation (a `serveTcp` echo host and a client
 *   using `openTcpStream` by host name) over simulated TCP with 1 ms of
 *   latency per hop, on the simulation's MockClock. Per message (2n): 1e9 /
 *   simulated messages per second of real time (issue 16's goal: 200,000/s,
 *   i.e. at most 5,000 ns).
 */
export function expectedCheck(name: ScenarioName, size: Size): number {
  switch (name) {
    case "checkpoint":
    case "foreign-await":
      return size.n * size.m;
    case "channel-buffered":
      return (size.n * (size.n - 1)) / 2;
    case "map-limit":
      return size.n * (size.n - 1);
    case "tcp-echo":
      return size.n * size.m * 64;
    case "effection-recursion":
      return size.m * (size.n + 100);
    case "effection-events":
      return size.m * size.n * 100;
    default:
      return size.n;
  }
}

/** One run's result (see the file comment). */
export interface RunResult {
  readonly check: number;
  readonly measured: number;
  /**
   * Other quantities of this run, reported beside the median and never
   * compared (http-hello: "p50 ms" and "p99 ms" latencies), by name.
   */
  readonly extras?: Readonly<Record<string, number>>;
}

export type Runner = (size: Size) => Promise<RunResult>;

/** What an implementation module exports as `scenarios`. */
export type Implementation = Partial<Record<ScenarioName, Runner>>;

/**
 * sleep-many's durations: task i sleeps `sleepMs(i)` ms, 1..50, from a fixed
 * pseudo-random sequence so every implementation sleeps the same amounts.
 */
export function sleepMs(i: number): number {
  let x = (i + 1) * 2654435761;
  x ^= x >>> 16;
  x = Math.imul(x, 0x45d9f3b);
  x ^= x >>> 16;
  return 1 + ((x >>> 0) % 50);
}
