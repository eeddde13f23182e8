/**
 * HTTP over the simulation is deterministic: serveHttp (Node's parser over a
 * StreamDuplex) and weft's fetch (Node's client over a StreamDuplex) leave the
 * same trace for the same seed, with sequential and concurrent requests, GET
 * and POST with bodies.
 */
import { openNursery, sleep } from "@weft/core";
import { fetch, readText, serveHttp } from "@weft/net";
import { checkDeterminism, Simulation } from "@weft/testing/simulation";
import { describe, expect, test } from "vitest";

function httpScenario(seed: number): Simulation {
  const sim = new Simulation({ seed, latency: (random) => 1 + Math.floor(random() * 10) });
  sim.host("api", () =>
    serveHttp(
      async (request) => {
        if (request.method === "POST") {
          const body = await request.text();
          await sleep(body.length % 5);
          return new Response(`posted ${body.length}: ${body.slice(0, 8)}`);
        }
        return new Response(`got ${new URL(request.url).pathname}`);
      },
      { port: 8080 },
    ),
  );
  sim.client("caller", async () => {
    await sleep(1);
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`http://api:8080/seq/${i}`);
      expect(await response.text()).toBe(`got /seq/${i}`);
    }
    await openNursery(async (nursery) => {
      for (let i = 0; i < 4; i++) {
        nursery.startSoon(async () => {
          const body = `body-${i}-${"x".repeat(i * 3000)}`;
          const response = await fetch("http://api:8080/items", { method: "POST", body });
          expect(await response.text()).toBe(`posted ${body.length}: ${body.slice(0, 8)}`);
        });
        nursery.startSoon(async () => {
          const response = await fetch(`http://api:8080/par/${i}`);
          expect(await response.text()).toBe(`got /par/${i}`);
        });
      }
    });
  });
  return sim;
}

/** Concurrent clients fetching while the server crashes and comes back. */
function faultyScenario(seed: number): Simulation {
  const sim = new Simulation({
    seed,
    latency: (random) => 1 + Math.floor(random() * 10),
    faults: [
      { at: 20 + (seed % 30), kind: "crash", host: "api" },
      { at: 50, kind: "bounce", host: "api" },
    ],
  });
  sim.host("api", () =>
    serveHttp(
      async (request) => {
        const body = request.method === "POST" ? await request.text() : "";
        await sleep(3);
        return new Response(`ok ${body.length} ${"y".repeat(5000)}`);
      },
      { port: 8080 },
    ),
  );
  sim.client("caller", async () => {
    await sleep(1);
    await openNursery(async (nursery) => {
      for (let i = 0; i < 4; i++) {
        nursery.startSoon(async () => {
          for (let j = 0; j < 8; j++) {
            const init = j % 2 === 1 ? { method: "POST", body: "z".repeat(i * 2000) } : {};
            try {
              await readText(await fetch(`http://api:8080/${i}/${j}`, init));
            } catch {
              await sleep(10); // refused or reset while the server is down
            }
          }
        });
      }
    });
  });
  return sim;
}

describe("HTTP over the simulation", () => {
  test("serveHttp and fetch, sequential and concurrent, GET and POST: deterministic over 20 seeds", async () => {
    const seeds = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(await checkDeterminism(httpScenario, { seeds })).toBe(20);
  }, 60_000);

  test("with the server crashing mid-traffic and bouncing back: deterministic over 20 seeds", async () => {
    const seeds = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(await checkDeterminism(faultyScenario, { seeds })).toBe(20);
    const sim = faultyScenario(1);
    await sim.run();
    expect(sim.trace).toContain("21 crash api");
    expect(sim.trace).toContain("50 bounce api");
    // Traffic resumed after the bounce.
    expect(
      sim.trace.some((line) => /^(\d+) connect /.test(line) && Number(line.split(" ")[0]) > 50),
    ).toBe(true);
  }, 60_000);
});
