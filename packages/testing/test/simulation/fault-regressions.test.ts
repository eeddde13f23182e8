/**
 * Defects the cancellation-fault properties found (issue 20), each replayed
 * as a plain test on the simulation.
 */
import { moveOnAfter, sleep } from "@weft/core";
import { fetch, type HttpLogEntry, serveHttp, serverSentEvents } from "@weft/net";
import { Simulation } from "@weft/testing/simulation";
import { describe, expect, test } from "vitest";

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
});
