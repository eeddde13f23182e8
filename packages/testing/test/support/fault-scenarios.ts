/**
 * Scenarios of the fault-injection properties that need a simulated network
 * (issue 20), shared by the properties and the replays of their counterexamples.
 */
import { type Instrument, isCancelled, moveOnAfter, openNursery, sleep } from "@weft/core";
import { BufferedReceiveStream, fetch, openTcpStream, readText } from "@weft/net";
import { serveChat } from "../../../../examples/chat-server.ts";
import { startService } from "../../../../examples/http-service.ts";
import type { CancellationInjector, DeterministicScheduler } from "../../src/index.ts";
import { Simulation } from "../../src/network-simulation.ts";
import type { Ledger } from "./fault-runs.ts";

/**
 * A `CancellationInjector` filter: scopes not entered by @weft/net's own code.
 * Its internal nurseries cannot be cancelled through its API without an error
 * (only a child's failure cancels one); cancelling one anyway ends a server
 * the way nothing else can (serveListeners then raises "no listeners to
 * serve", as Trio's serve_listeners raises an AssertionError). Its
 * cancellations from outside are covered by the scopes of the code around it.
 */
export function notEnteredByNet(): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const frames = (new Error().stack ?? "").split("\n").slice(1);
  Error.stackTraceLimit = limit;
  for (const frame of frames) {
    if (
      /[\\/]packages[\\/]core[\\/]src[\\/]|node:internal|[\\/]cancellation-faults\.ts|fault-scenarios\.ts/.test(
        frame,
      )
    )
      continue;
    return !/[\\/]packages[\\/]net[\\/]src[\\/]/.test(frame);
  }
  return true;
}

/**
 * The HTTP service of examples/http-service.ts on a simulated host, and a
 * client making one request of each kind at once, each in a try block the
 * ledger counts; a request that fails other than by `Cancelled` is recorded.
 */
export function httpScenario(
  scheduler: DeterministicScheduler,
  injector: CancellationInjector,
  ledger: Ledger,
  failures: unknown[],
  instruments: readonly Instrument[] = [],
): Simulation {
  const sim = new Simulation({
    seed: 1,
    latency: 1,
    scheduler,
    instruments: [injector, ...instruments],
  });
  sim.host("api", () =>
    openNursery(async (nursery) => {
      await startService(nursery, { port: 8080, tickMs: 5, gracePeriod: 20 });
    }),
  );
  const request = (path: string, init?: RequestInit) =>
    ledger.guarded(async () => {
      try {
        const response = await fetch(`http://api:8080${path}`, init);
        await readText(response);
      } catch (error) {
        if (isCancelled(error)) throw error;
        failures.push(error);
      }
    });
  sim.client("client", () =>
    ledger.guarded(() =>
      openNursery(async (nursery) => {
        // The server listens before virtual time moves, whatever the schedule.
        await sleep(1);
        nursery.startSoon(() => request("/api/items"));
        nursery.startSoon(() =>
          request("/api/items", { method: "POST", body: JSON.stringify({ name: "bobbin" }) }),
        );
        nursery.startSoon(() => moveOnAfter(20, () => request("/slow?ms=1000")));
        nursery.startSoon(() => request("/stream?chunks=3"));
        nursery.startSoon(() => request("/events?count=3&every=5"));
        nursery.startSoon(() => request("/flaky?key=a"));
      }),
    ),
  );
  return sim;
}

/**
 * The chat server of examples/chat-server.ts on a simulated host, and three
 * members who join, say two lines, ping and wait for their pong, and leave;
 * each member's connection is closed in a `finally` the ledger counts. A
 * member whose session fails other than by `Cancelled` is recorded.
 */
export function chatScenario(
  scheduler: DeterministicScheduler,
  injector: CancellationInjector,
  ledger: Ledger,
  failures: unknown[],
): Simulation {
  const sim = new Simulation({ seed: 1, latency: 1, scheduler, instruments: [injector] });
  let port = 0;
  sim.host("chat", () => serveChat({ started: (p) => (port = p) }));
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const member = (name: string) =>
    ledger.guarded(async () => {
      try {
        const stream = await openTcpStream("chat", port);
        try {
          const reader = new BufferedReceiveStream(stream);
          const line = async () => decoder.decode(await reader.receiveUntil("\n", 4096));
          await stream.sendAll(encoder.encode(`${name}\n`));
          await line(); // the welcome
          await stream.sendAll(encoder.encode(`hello from ${name}\nbye from ${name}\n/ping 1\n`));
          while (!(await line()).startsWith("* pong 1"));
        } finally {
          await stream.aclose();
        }
      } catch (error) {
        if (isCancelled(error)) throw error;
        failures.push(error);
      }
    });
  sim.client("members", () =>
    ledger.guarded(() =>
      openNursery(async (nursery) => {
        await sleep(1); // the server listens before virtual time moves
        for (const name of ["alice", "bob", "carol"]) nursery.startSoon(() => member(name));
      }),
    ),
  );
  return sim;
}
