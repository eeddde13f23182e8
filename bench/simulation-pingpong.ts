// Simulated messages per second of real time (issue 16's goal: 200,000): a
// ping-pong of 16-byte messages over simulatedTcpPair on a MockClock with
// autojump. `pnpm bench:simulation [messages] [latencyMs]`.
import { openNursery, run } from "@weft/core";
import { MockClock, simulatedTcpPair } from "@weft/testing";

const N = Number(process.argv[2] ?? 100_000);
const latency = Number(process.argv[3] ?? 1);
const msg = new Uint8Array(16);

async function once(): Promise<number> {
  const start = performance.now();
  await run(
    async () => {
      const [client, server] = simulatedTcpPair({ latency });
      await openNursery(async (nursery) => {
        nursery.startSoon(async () => {
          for (let i = 0; i < N; i++) {
            await client.sendAll(msg);
            await client.receiveSome();
          }
        });
        nursery.startSoon(async () => {
          for (let i = 0; i < N; i++) {
            await server.receiveSome();
            await server.sendAll(msg);
          }
        });
      });
    },
    { clock: new MockClock({ autojumpThreshold: 0 }) },
  );
  const seconds = (performance.now() - start) / 1000;
  return (2 * N) / seconds;
}

for (let i = 0; i < 3; i++) {
  const rate = await once();
  console.log(
    `latency ${latency} ms: ${Math.round(rate).toLocaleString("en")} simulated messages/s`,
  );
}
