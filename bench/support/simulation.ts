/**
 * The simulation ping-pong of `pnpm bench` (simulation-pingpong) and
 * `pnpm bench:simulation`: two hosts of a `Simulation`, a `serveTcp` echo on
 * one and a client on the other sending 16-byte messages by host name and
 * waiting for each echo.
 */
import { openTcpStream, serveTcp } from "@weft/net";
import { Simulation } from "@weft/testing/simulation";

const PING_BYTES = 16;

/** Runs `roundTrips` round trips with `latency` ms per hop; resolves with the round trips done. */
export async function simulatedPingPong(roundTrips: number, latency: number): Promise<number> {
  let done = 0;
  const sim = new Simulation({ seed: 1, latency });
  sim.host("server", () =>
    serveTcp(async (stream) => {
      for await (const chunk of stream) await stream.sendAll(chunk);
    }, 7),
  );
  sim.client("client", async () => {
    const stream = await openTcpStream("server", 7);
    const message = new Uint8Array(PING_BYTES);
    for (let i = 0; i < roundTrips; i++) {
      await stream.sendAll(message);
      let got = 0;
      while (got < PING_BYTES) got += (await stream.receiveSome(PING_BYTES - got)).length;
      done++;
    }
    await stream.aclose();
  });
  await sim.run();
  return done;
}
