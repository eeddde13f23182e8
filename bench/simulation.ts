/**
 * The simulated network's speed (issue 16), in real time:
 *
 * - `pair`: simulated messages per second over one `simulatedTcpPair` (the
 *   links alone, no hosts): a ping-pong of 16-byte messages;
 * - `hosts`: the same ping-pong between two hosts of a `Simulation`
 *   (`serveTcp` / `openTcpStream` by name) — what `pnpm bench`'s
 *   simulation-pingpong scenario measures (goal: 200,000 messages/s);
 * - `kv`: the replicated store of examples/replicated-kv.ts under load —
 *   `clients` clients each writing and reading back `writes` keys through a
 *   primary and a backup with 1–4 ms links — as seconds of simulated time per
 *   second of real time, and requests per second of real time.
 *
 *   pnpm bench:simulation [messages=100000] [latencyMs=1]
 */
import { currentTime, openNursery, run } from "@weft/core";
import { MockClock, simulatedTcpPair } from "@weft/testing";
import { Simulation } from "@weft/testing/simulation";
import { KvClient, runBackup, runPrimary } from "../examples/replicated-kv.ts";
import { ensureBenchNode } from "./support/bench-node.ts";
import { simulatedPingPong } from "./support/simulation.ts";

ensureBenchNode(import.meta.filename);

const messages = Number(process.argv[2] ?? 100_000);
const latency = Number(process.argv[3] ?? 1);
const PING = new Uint8Array(16);
const REPEATS = 3;

function perSecond(count: number, ms: number): string {
  return Math.round((count * 1000) / ms).toLocaleString("en");
}

/** `messages` messages (half as many round trips) over one simulated pair; real ms. */
async function pair(): Promise<number> {
  const start = performance.now();
  await run(
    async () => {
      const [client, server] = simulatedTcpPair({ latency });
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (let i = 0; i < messages / 2; i++) {
            await client.sendAll(PING);
            await client.receiveSome();
          }
        });
        nursery.startSoon(async () => {
          for (let i = 0; i < messages / 2; i++) {
            await server.receiveSome();
            await server.sendAll(PING);
          }
        });
      });
    },
    { clock: new MockClock({ autojumpThreshold: 0 }) },
  );
  return performance.now() - start;
}

/** `messages` messages between two hosts of a Simulation; real ms. */
async function hosts(): Promise<number> {
  const start = performance.now();
  await simulatedPingPong(messages / 2, latency);
  return performance.now() - start;
}

/** The replicated store under load: real ms, simulated ms, requests. */
async function kv(clients: number, writes: number): Promise<[number, number, number]> {
  const sim = new Simulation({ seed: 1, latency: (random) => 1 + Math.floor(random() * 4) });
  sim.host("primary", () =>
    runPrimary({
      port: 7000,
      backup: { host: "backup", port: 7000 },
      replication: "synchronous",
      disk: new Map(),
    }),
  );
  sim.host("backup", () => runBackup({ port: 7000, disk: new Map() }));
  let requests = 0;
  let simulated = 0;
  for (let c = 0; c < clients; c++) {
    sim.client(`client${c}`, async () => {
      const client = new KvClient(
        [
          { host: "primary", port: 7000 },
          { host: "backup", port: 7000 },
        ],
        { timeout: 1_000 },
      );
      for (let i = 0; i < writes; i++) {
        if (!(await client.set(`c${c}k${i}`, `v${i}`))) throw new Error("a write failed");
        requests++;
      }
      for (let i = 0; i < writes; i++) {
        if ((await client.get(`c${c}k${i}`)) !== `v${i}`) throw new Error("a read failed");
        requests++;
      }
      await client.close();
      simulated = Math.max(simulated, currentTime());
    });
  }
  const start = performance.now();
  await sim.run();
  const real = performance.now() - start;
  return [real, simulated, requests];
}

console.log(
  `Node ${process.version}, ${messages.toLocaleString("en")} messages, latency ${latency} ms`,
);
for (let i = 0; i < REPEATS; i++) {
  console.log(`pair:  ${perSecond(messages, await pair())} simulated messages/s`);
}
for (let i = 0; i < REPEATS; i++) {
  console.log(`hosts: ${perSecond(messages, await hosts())} simulated messages/s`);
}
for (let i = 0; i < REPEATS; i++) {
  const [real, simulated, requests] = await kv(8, 500);
  console.log(
    `kv:    8 clients × 1,000 requests: ${(simulated / real).toFixed(1)} simulated s per real s ` +
      `(${(simulated / 1000).toFixed(1)} s simulated in ${(real / 1000).toFixed(2)} s), ` +
      `${perSecond(requests, real)} requests/s`,
  );
}
