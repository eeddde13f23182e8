/**
 * Defects the cancellation-fault properties found (issue 20), each replayed
 * as a plain test on the simulation.
 */
import { BrokenResourceError, moveOnAfter, sleep } from "@weft/core";
import {
  fetch,
  type HttpLogEntry,
  openTcpListeners,
  openTcpStream,
  serveHttp,
  serverSentEvents,
} from "@weft/net";
import { Simulation } from "@weft/testing/simulation";
import { describe, expect, test } from "vitest";
import { replicatedKv } from "../../../../examples/replicated-kv-simulation.ts";
import { CancellationInjector } from "../../src/index.ts";

const nothingLeft = { connections: 0, links: 0, connectionPorts: 0 };

describe("defects found by injecting cancellations", () => {
  test("serveHttp: a client leaving while a streamed body's generator sleeps cancels the handler (499), not a UsageError", async () => {
    for (const leaveAt of [3, 6, 7, 11, 12, 13]) {
      const entries: HttpLogEntry[] = [];
      const sim = new Simulation({ seed: 1, latency: 1 });
      sim.host("api", () =>
        serveHttp(
          async () =>
            serverSentEvents(
              (async function* () {
                for (let n = 1; ; n++) {
                  yield { data: String(n) };
                  await sleep(5);
                }
              })(),
            ),
          { port: 80, log: (entry) => entries.push(entry) },
        ),
      );
      sim.client("caller", async () => {
        await moveOnAfter(leaveAt, async () => {
          const response = await fetch("http://api/");
          await response.arrayBuffer();
        });
        await sleep(20); // the server notices the client leaving
      });
      await sim.run();
      expect(entries.map((e) => `${leaveAt}: ${e.outcome} ${e.status}`)).toEqual([
        `${leaveAt}: client-disconnected 499`,
      ]);
    }
  });

  test("the simulated network: a listener closed with connections it never accepted resets them (their clients do not wait forever)", async () => {
    const outcomes: string[] = [];
    const sim = new Simulation({ seed: 1, latency: 1 });
    sim.host("server", async () => {
      const [listener] = await openTcpListeners(80);
      await sleep(10); // the client's connection waits in the backlog
      await listener!.aclose();
    });
    sim.client("client", async () => {
      const stream = await openTcpStream("server", 80);
      await stream.sendAll(new TextEncoder().encode("hello"));
      try {
        await stream.receiveSome();
        outcomes.push("received");
      } catch (error) {
        outcomes.push(error instanceof BrokenResourceError ? "reset" : String(error));
      } finally {
        await stream.aclose();
      }
    });
    await sim.run();
    expect(outcomes).toEqual(["reset"]);
    expect(sim.resourcesLeft).toEqual(nothingLeft);
  });

  test("replicated-kv: the primary closes its connection to the backup when it stops", async () => {
    const { sim, outcome } = replicatedKv({ replication: "synchronous" });
    await sim.run();
    expect(outcome.acknowledged).toBe(10);
    expect(sim.resourcesLeft).toEqual(nothingLeft);
  });

  test("replicated-kv: a client cancelled mid-run closes its connection", async () => {
    // Cancels the client's own scope (the scope the simulation runs it in)
    // after a few of its steps, while a request is in flight.
    for (const step of [40, 60, 80, 100]) {
      const injector = new CancellationInjector([{ step, scope: 0 }], {
        filter: (_scope, task) => task.name === "client client",
      });
      const { sim } = replicatedKv({ replication: "synchronous", instruments: [injector] });
      await sim.run();
      expect(injector.injected, `step ${step}`).toHaveLength(1);
      expect(sim.resourcesLeft, `step ${step}`).toEqual(nothingLeft);
    }
  });
});
